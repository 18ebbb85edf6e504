"""One `process_leads` run at a time, whoever starts it: the CLI and the daemon's run workers take the same
exclusive lock on `$LEADOPS_HOME/run.lock` for the whole run.

DuckDB allows one writer per file and a second run failed with a raw "Could not set lock on file" error.
The queued run coordinator serialises only the daemon's runs (`leadops run` executes in its own process,
outside any coordinator), and checking the warehouse lock before a run leaves a race until the run opens it.
An flock is taken atomically and released by the kernel when its holder dies, even by SIGKILL, so a crashed
run never leaves it behind. The file holds the holder's description for the waiting side's message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# A 10,000-lead batch took 73 s in-process (bench/RESULTS.md); half an hour is far past any healthy run.
DEFAULT_WAIT_SECONDS = 1800.0


class RunLockTimeout(Exception):
    """Another run held the lock for longer than the caller was willing to wait."""


def run_lock_path(home: Path) -> Path:
    return home / "run.lock"


@contextmanager
def hold_run_lock(
    path: Path,
    holder: str,
    *,
    timeout_seconds: float = DEFAULT_WAIT_SECONDS,
    poll_seconds: float = 1.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the lock for the block; wait (calling `on_wait` once with the holder's description) while
    another process holds it, and raise `RunLockTimeout` after `timeout_seconds`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout_seconds
        announced = False
        while not _try_lock(descriptor):
            other = _read(descriptor)
            if time.monotonic() > deadline:
                raise RunLockTimeout(
                    f"another run ({other}) held {path} for more than {timeout_seconds:.0f} s"
                )
            if not announced and on_wait is not None:
                on_wait(other)
                announced = True
            time.sleep(poll_seconds)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, holder.encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def run_lock_holder(path: Path) -> str | None:
    """The description of the process holding the lock, or None when it is free."""
    if not path.exists():
        return None
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if _try_lock(descriptor, shared=True):
            return None
        return _read(descriptor)
    finally:
        os.close(descriptor)


def describe_this_process(what: str) -> str:
    return f"{what}, pid {os.getpid()}"


def _try_lock(descriptor: int, *, shared: bool = False) -> bool:
    try:
        fcntl.flock(descriptor, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(descriptor: int) -> str:
    return os.pread(descriptor, 500, 0).decode(errors="replace").strip() or "a process that did not say"
