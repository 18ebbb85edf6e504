"""Importing any module of ours runs nothing: no process is started and no file is written.

Definitions, sensors and the CLI are imported by the webserver, the daemon, every run process and every
test: a subprocess or a file written at import would happen in each of them, and a warehouse opened at
import would take the one DuckDB write lock (one read-write process per file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["dagster_project", "sensors", "assets", "expectations", "integrations", "common"]

# Runs in a fresh interpreter, so nothing this test process already imported hides an import-time effect.
_PROBE = r"""
import json, os, pkgutil, subprocess, sys, traceback, importlib

attempts = []


def refuse(name):
    def refused(*args, **kwargs):
        stack = [f"{frame.filename}:{frame.lineno}" for frame in traceback.extract_stack()[:-1]]
        attempts.append({"call": name, "args": repr(args)[:200], "stack": stack[-8:]})
        raise OSError(f"{name} at import time")

    return refused


class RefusedPopen(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        refuse("subprocess.Popen")(*args)


# Dagster's vendored croniter asks `platform.architecture()` at import, which runs `file -b` on the
# interpreter (dagster 1.13.27): that one is theirs, so dagster is imported before the guard goes up.
import dagster

subprocess.Popen = RefusedPopen
for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
    if hasattr(os, name):
        setattr(os, name, refuse(f"os.{name}"))

imported, failed = [], {}
for package in json.loads(sys.argv[1]):
    root = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=lambda name: None):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as error:
            failed[info.name] = f"{type(error).__name__}: {error}"
print(json.dumps({"imported": imported, "failed": failed, "attempts": attempts}))
"""


def _files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_importing_every_module_starts_no_process_and_writes_no_file(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = {
        **os.environ,
        "LEADOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(REPO_ROOT),
        # Bytecode caches are Python's own writes, not ours.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(PACKAGES)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["failed"] == {}
    assert report["attempts"] == []
    assert _files_under(home) == set()
    assert _files_under(cwd) == set()
    # Every package and a module of each layer were really walked, not silently skipped.
    assert {
        "dagster_project.definitions",
        "sensors",
        "assets.identity",
        "expectations",
        "integrations.crm",
        "common",
    } <= set(report["imported"])
    assert len(report["imported"]) >= 60
