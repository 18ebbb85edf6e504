"""Start a throwaway BottleCRM server on 127.0.0.1, for tests and for a developer.

    python tools/bottlecrm/launch.py --owner ana@example.com --owner ben@example.com
    # prints the base URL, token and intake; Ctrl-C stops it

    with BottleCrmServer(owners=[OwnerSpec("ana@example.com", "Ana")]) as server:
        server.base_url, server.token, server.owner_profiles["ana@example.com"]

Standard library only (it runs under LeadOps' Python 3.11 and any other); BottleCRM itself runs in its own
venv, built by setup.sh next to this file. Each server gets a copy of the migrated template database (a real
`migrate` takes ~150 s, a copy plus bootstrap ~2.5 s), an org, an admin with a personal access token minted
through BottleCRM's ORM, one profile per owner, and a lead intake (the webhook whose external ids make lead
writes idempotent). gunicorn runs in its own process group, so stop() ends its workers too.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SETUP_SCRIPT = HERE / "setup.sh"
# gunicorn with 2 workers was ready in 4-5 s on a 2-core machine; 60 s leaves room for a loaded CI box.
READY_TIMEOUT_SECONDS = 60.0


def bottlecrm_home() -> Path:
    return Path(os.environ.get("BOTTLECRM_HOME", ROOT / ".bottlecrm"))


def ensure_installed() -> Path:
    """Run setup.sh (a no-op when the venv and template exist) and return the template's path."""
    result = subprocess.run(
        ["bash", str(SETUP_SCRIPT)], check=False, stdout=subprocess.PIPE, stderr=None, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{SETUP_SCRIPT} failed with exit code {result.returncode} (see its output above)")
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class OwnerSpec:
    email: str
    name: str = ""
    active: bool = True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class BottleCrmServer:
    owners: list[OwnerSpec] = field(default_factory=list)
    workers: int = 2
    base_url: str = ""
    token: str = ""
    org_id: str = ""
    admin_profile_id: str = ""
    owner_profiles: dict[str, str] = field(default_factory=dict)
    intake_id: str = ""
    intake_key: str = ""
    workdir: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    _own_workdir: bool = False

    def __enter__(self) -> BottleCrmServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _environment(self, workdir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(HERE),
            DJANGO_SETTINGS_MODULE="leadops_settings",
            BOTTLECRM_DB=str(workdir / "crm.sqlite"),
            BOTTLECRM_LOG_DIR=str(workdir),
            # Its settings warn about (in "dev") or refuse a key shorter than 32 bytes.
            SECRET_KEY="leadops-local-bottlecrm-" + "k" * 40,
            DO_NOT_TRACK="1",
        )
        env.pop("DATABASE_URL", None)
        return env

    def start(self) -> None:
        template = ensure_installed()
        venv_bin = bottlecrm_home() / "venv" / "bin"
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="bottlecrm-"))
            self._own_workdir = True
        workdir = self.workdir
        with gzip.open(template, "rb") as source, (workdir / "crm.sqlite").open("wb") as target:
            shutil.copyfileobj(source, target)
        env = self._environment(workdir)

        request = {"owners": [vars(owner) for owner in self.owners]}
        minted = subprocess.run(
            [str(venv_bin / "python"), str(HERE / "bootstrap.py")],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
            check=False,
        )
        if minted.returncode != 0:
            raise RuntimeError(f"BottleCRM bootstrap failed:\n{minted.stderr[-4000:]}")
        identity = json.loads(minted.stdout)
        self.token = identity["token"]
        self.org_id = identity["org_id"]
        self.admin_profile_id = identity["admin_profile_id"]
        self.owner_profiles = identity["owners"]

        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        log = (workdir / "gunicorn.log").open("ab")
        self._process = subprocess.Popen(
            [
                str(venv_bin / "gunicorn"),
                "crm.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "60",
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_until_ready()
            self._create_intake()
        except BaseException:
            self.stop()
            raise

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"BottleCRM exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                self._call("GET", "/api/users/")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"BottleCRM not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.2)

    def _create_intake(self) -> None:
        created = self._call("POST", "/api/leads/intakes/", {"name": "LeadOps", "preset": "generic"})
        self.intake_id = created["id"]
        self.intake_key = created["key"]

    def log_tail(self, characters: int = 4000) -> str:
        if self.workdir is None:
            return ""
        with contextlib.suppress(OSError):
            return (self.workdir / "gunicorn.log").read_text(errors="replace")[-characters:]
        return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # gunicorn's master stops its workers gracefully on SIGTERM; the group kill catches stragglers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            if process is not None:
                os.killpg(process.pid, signal.SIGKILL)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owner", action="append", default=[], help="an owner's email (repeatable)")
    parser.add_argument("--setup-only", action="store_true", help="build the venv and template, then exit")
    args = parser.parse_args(argv)
    if args.setup_only:
        print(ensure_installed())
        return 0
    owners = [OwnerSpec(email=email, name=email.split("@")[0]) for email in args.owner]
    with BottleCrmServer(owners=owners) as server:
        print(
            json.dumps(
                {
                    "base_url": server.base_url,
                    "token": server.token,
                    "intake_id": server.intake_id,
                    "intake_key": server.intake_key,
                    "owners": server.owner_profiles,
                },
                indent=2,
            ),
            flush=True,
        )
        print("BottleCRM is running; Ctrl-C stops it.", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
