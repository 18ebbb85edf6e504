"""Runs forked from a warm process that already holds the code location, instead of a cold Python per run.

A run launched the default way pays a new process and a code load before its first step: 6–7 s on two
cores (4.8 s of imports, 2.3 s of them dbt), 4–5 s more for `import great_expectations`, ~3 s for splink,
and a dbt parse per dbt step. Here the daemon's launcher keeps one warm process per code location that has
imported the definitions, the heavy libraries the steps import lazily, and parsed the dbt manifest; each run
is a `fork()` of it whose child executes the run with the body of `dagster api execute_run` (the command the
DefaultRunLauncher's code server starts for every run), so the run keeps its steps, checks, logs and reruns
in the UI. A spike of this design measured file → dbt → result p50 4.8 s, p95 5.7 s.

Failure handling:
- A killed or crashed run worker: `check_run_worker_health` reports it FAILED from its pid (a cold-started
  run's too, by its RUN_START event's pid), and run monitoring (dagster.yaml) marks the run failed within a
  poll; the landing sensor then hands the run's files to the next batch. The warm process is untouched, so
  the next run forks as usual.
- Warming up: Dagster builds the launcher at the daemon's first launch. Until the warm process reports
  ready (definitions, preloads and a dbt parse: 20–30 s on two idle cores, 111 s at a load average of 14),
  runs start cold through the code server exactly as with the DefaultRunLauncher.
- Code changes: before every fork the warm process compares the modification times of the project files it
  loaded (Python under the working directory, the dbt project's sources) with those at warm-up, and
  answers "stale" when one changed; the launcher replaces it and that run starts cold. A run from another
  code location (another module or working directory) gets its own warm process.
- The warm process talks to the launcher over one end of a socket pair, so it exits when the daemon does.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    DagsterRun,
    DefaultRunLauncher,
    Field,
    serialize_value,
)

# The run launcher interface and the run-execution command have no public import path in dagster 1.13:
# DefaultRunLauncher itself subclasses these, and `dagster api execute_run` is the command it starts.
from dagster._core.launcher import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._serdes import ConfigurableClass, ConfigurableClassData

from sensors.runs import DEAD_WORKER_TAG, HOST_TAG, dead_process_of, process_state

LAUNCHER_TAG = "leadops/launcher"
# Not sensors/runs.py's `leadops/pid`: that one is checked against the run's creation time, and a forked
# worker starts after it (queue and launch); the sensors find a forked worker by its RUN_START event's pid.
WORKER_PID_TAG = "leadops/run_worker_pid"
# Libraries the steps import lazily (inside checks and assets) so that definitions load fast; the warm
# process pays for them once: great_expectations 4–5 s, splink ~3 s, sklearn ~1 s on two cores.
DEFAULT_PRELOAD = ("great_expectations", "splink", "sklearn", "dbt.cli.main")
DEFAULT_WARM_UP_HOOKS = ("dagster_project.dbt:warm_up_dbt",)
# A fork and the warm process's check for changed files take milliseconds; minutes mean it is stuck.
DEFAULT_FORK_TIMEOUT_SECONDS = 30


class WarmProcessError(Exception):
    """The warm process could not be started or did not answer."""


class WarmForkRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run as a fork of a pre-warmed process holding the code location."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        preload_modules: Sequence[str] = DEFAULT_PRELOAD,
        warm_up_hooks: Sequence[str] = DEFAULT_WARM_UP_HOOKS,
        fork_timeout_seconds: int = DEFAULT_FORK_TIMEOUT_SECONDS,
    ) -> None:
        self._inst_data = inst_data
        self._preload = tuple(preload_modules)
        self._hooks = tuple(warm_up_hooks)
        self._fork_timeout = fork_timeout_seconds
        self._warm: dict[tuple[str, str, str], _WarmProcess] = {}
        self._default: RunLauncher | None = None
        self._lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "preload_modules": Field([str], is_required=False, default_value=list(DEFAULT_PRELOAD)),
            "warm_up_hooks": Field([str], is_required=False, default_value=list(DEFAULT_WARM_UP_HOOKS)),
            "fork_timeout_seconds": Field(int, is_required=False, default_value=DEFAULT_FORK_TIMEOUT_SECONDS),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmForkRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def launch_run(self, context: LaunchRunContext) -> None:
        from dagster._grpc.types import ExecuteRunArgs

        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            raise WarmProcessError(f"run {run.run_id} has no code origin to execute")
        arguments = serialize_value(
            ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        )
        with self._lock:
            started = time.monotonic()
            forked = self._fork(_origin_key(origin), arguments)
            forked_in = time.monotonic() - started
        if forked is None:
            # Warming up (the daemon's first run, or the first after a code change: 15–25 s, far more
            # on loaded cores): this run starts cold through the code server, as without this launcher.
            self._fallback().launch_run(context)
            self._instance.add_run_tags(run.run_id, {LAUNCHER_TAG: "default"})
            self._instance.report_engine_event(
                "The warm run process is still warming up: this run starts in a new process.", run
            )
            return
        pid, warm_process = forked
        self._instance.add_run_tags(
            run.run_id,
            {WORKER_PID_TAG: str(pid), HOST_TAG: socket.gethostname(), LAUNCHER_TAG: "warm-fork"},
        )
        self._instance.report_engine_event(
            f"Forked run worker {pid} from warm process {warm_process} in {forked_in:.2f} s.", run
        )

    def _fork(self, key: tuple[str, str, str], arguments: str) -> tuple[int, int] | None:
        """(run worker pid, warm process pid), or None when no warm process is ready yet."""
        warm = self._warm.get(key)
        if warm is None or not warm.alive():
            self._warm[key] = _WarmProcess.start(key, self._preload, self._hooks)
            return None
        if not warm.ready():
            return None
        try:
            answer = warm.request({"execute_run": arguments}, self._fork_timeout)
        except WarmProcessError:
            answer = {"stale": "the warm process did not answer"}
        if "pid" in answer:
            return int(answer["pid"]), warm.pid
        # Changed code (or a dead warm process): replace it; this run starts cold meanwhile.
        warm.stop()
        self._warm[key] = _WarmProcess.start(key, self._preload, self._hooks)
        return None

    def _fallback(self) -> RunLauncher:
        if self._default is None:
            self._default = DefaultRunLauncher()
            self._default.register_instance(self._instance)
        return self._default

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """FAILED only when the run's recorded process is gone: run monitoring fails every STARTED run
        this does not call RUNNING. A forked worker is checked by the pid it was forked as; a cold-started
        run (warming up) and a `leadops run` by the pid sensors/runs.py checks (their RUN_START event's,
        or the CLI's tag). A run found dead is tagged so the landing sensor hands its files back."""
        pid_text = run.tags.get(WORKER_PID_TAG, "")
        if run.tags.get(HOST_TAG) not in (None, socket.gethostname()):
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no process of this host to check")
        if pid_text.isdigit():
            state = process_state(int(pid_text))
            if state is not None and not state[1]:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            why = "no longer exists" if state is None else "has exited"
        else:
            record = self._instance.get_run_record_by_id(run.run_id)
            found = dead_process_of(self._instance, record) if record is not None else None
            if found is None:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            pid_text, why = str(found[0]), found[1]
        self._instance.add_run_tags(run.run_id, {DEAD_WORKER_TAG: "true"})
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"run worker {pid_text} {why} (killed or crashed without recording the run's end)",
        )

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or not run.tags.get(WORKER_PID_TAG, "").isdigit():
            return False
        self._instance.report_run_canceling(run)
        try:
            # The run worker turns SIGINT into Dagster's interrupt: the run ends CANCELED, steps cleaned up.
            os.kill(int(run.tags[WORKER_PID_TAG]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        for warm in self._warm.values():
            warm.stop()
        self._warm.clear()


def _origin_key(origin) -> tuple[str, str, str]:
    """(python, module, working directory) of a run's code: one warm process per code location."""
    repository = origin.repository_origin
    pointer = repository.code_pointer
    module = getattr(pointer, "module", None) or getattr(pointer, "python_file", "")
    return (
        repository.executable_path or sys.executable,
        module,
        getattr(pointer, "working_directory", None) or os.getcwd(),
    )


class _WarmProcess:
    """The launcher's handle on one warm process: its pid and our end of the socket pair."""

    def __init__(self, process: subprocess.Popen, channel: socket.socket) -> None:
        self._process = process
        self._channel = channel
        self._reader = channel.makefile("r")
        self._ready = False

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    def start(cls, key: tuple[str, str, str], preload: Sequence[str], hooks: Sequence[str]) -> _WarmProcess:
        executable, module, working_directory = key
        ours, theirs = socket.socketpair()
        command = [
            executable,
            "-m",
            "dagster_project.warm_launcher",
            str(theirs.fileno()),
            json.dumps({"module": module, "preload": list(preload), "hooks": list(hooks)}),
        ]
        process = subprocess.Popen(
            command, cwd=working_directory, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL
        )
        theirs.close()
        return cls(process, ours)

    def alive(self) -> bool:
        return self._process.poll() is None

    def ready(self) -> bool:
        """Whether the warm-up finished: the warm process says so once, then waits for requests."""
        if not self._ready:
            readable, _, _ = select.select([self._channel], [], [], 0)
            if readable:
                self._ready = json.loads(self._reader.readline() or "{}").get("ready") == self.pid
        return self._ready

    def request(self, message: Mapping[str, str], timeout_seconds: float) -> dict[str, Any]:
        """Send one request and wait for its answer; the first one also waits for the warm-up."""
        self._channel.settimeout(timeout_seconds)
        try:
            self._channel.sendall((json.dumps(message) + "\n").encode())
            line = self._reader.readline()
        except OSError as error:
            raise WarmProcessError(f"warm process {self.pid}: {error}") from error
        if not line:
            raise WarmProcessError(f"warm process {self.pid} exited (code {self._process.poll()})")
        return json.loads(line)

    def stop(self) -> None:
        self._channel.close()
        if self.alive():
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()


# ---------------------------------------------------------------- the warm process


def _project_files(working_directory: Path) -> dict[str, int]:
    """Modification times of what a code change touches: loaded project modules and the dbt project's
    sources. Not dbt's target/: under `dagster dev` every cold run process re-parses into it."""
    files: dict[str, int] = {}
    root = str(working_directory)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.startswith(root) and f"{os.sep}.venv{os.sep}" not in path:
            files[path] = _mtime(path)
    dbt_project = working_directory / "dbt_project"
    for folder, subfolders, names in os.walk(dbt_project):
        subfolders[:] = [name for name in subfolders if name not in ("target", "logs", "dbt_packages")]
        for name in names:
            files[os.path.join(folder, name)] = _mtime(os.path.join(folder, name))
    return files


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _changed(snapshot: dict[str, int]) -> str | None:
    for path, mtime in snapshot.items():
        if _mtime(path) != mtime:
            return f"{path} changed since warm-up"
    return None


def _warm_up(module: str, preload: Sequence[str], hooks: Sequence[str]) -> None:
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError as error:
            print(f"warm process: preload {name} failed: {error}", file=sys.stderr)
    if module.endswith(".py"):
        import runpy

        runpy.run_path(module)
    elif module:
        importlib.import_module(module)
    for hook in hooks:
        hook_module, _, function = hook.partition(":")
        getattr(importlib.import_module(hook_module), function)()


def _execute_in_child(arguments: str) -> None:
    """The body of `dagster api execute_run`, in the forked child; never returns."""
    code = 1
    try:
        from dagster._cli.api import execute_run_command

        execute_run_command.main(args=[arguments], standalone_mode=False)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # the run's own events already recorded what failed
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(channel: socket.socket, module: str, preload: Sequence[str], hooks: Sequence[str]) -> None:
    working_directory = Path.cwd()
    if str(working_directory) not in sys.path:
        sys.path.insert(0, str(working_directory))
    started = time.monotonic()
    _warm_up(module, preload, hooks)
    snapshot = _project_files(working_directory)
    print(
        f"warm process {os.getpid()}: {module} loaded in {time.monotonic() - started:.1f} s,"
        f" watching {len(snapshot)} files, {threading.active_count()} thread(s)",
        file=sys.stderr,
    )
    # Children are reaped by the kernel: a finished run worker must not linger as a zombie, which its
    # health check would take for a live process.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    channel.sendall((json.dumps({"ready": os.getpid()}) + "\n").encode())
    reader = channel.makefile("r")
    for line in reader:
        request = json.loads(line)
        stale = _changed(snapshot)
        if stale:
            channel.sendall((json.dumps({"stale": stale}) + "\n").encode())
            return
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            reader.close()
            channel.close()
            _execute_in_child(request["execute_run"])
        channel.sendall((json.dumps({"pid": pid}) + "\n").encode())


def _main(argv: Sequence[str]) -> None:
    descriptor, options_text = argv
    options = json.loads(options_text)
    channel = socket.socket(fileno=int(descriptor))
    serve(channel, options["module"], options["preload"], options["hooks"])


if __name__ == "__main__":
    _main(sys.argv[1:])
