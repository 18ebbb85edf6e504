"""A real Radicale 3.9 CalDAV server on a free loopback port, storage in a temp folder, one service login.

`[auth] delay = 0`: Radicale otherwise waits 0.6–1.4 s after every failed login, and caldav's first
request of each client is an unauthenticated one that fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import caldav

USERNAME = "leadops"
PASSWORD = "caldav-secret-never-log-me"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RadicaleServer:
    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        (folder / "users").write_text(f"{USERNAME}:{PASSWORD}\n")
        (folder / "config").write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\n"
            "htpasswd_encryption = plain\ndelay = 0\n"
            "[rights]\ntype = authenticated\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self._config = folder / "config"
        self._log = (folder / "radicale.log").open("wb")
        self._process: subprocess.Popen[bytes] | None = None

    def client(self) -> caldav.DAVClient:
        return caldav.DAVClient(url=self.url, username=USERNAME, password=PASSWORD)

    def make_calendar(self, owner: str) -> str:
        """An owner's calendar at /<service user>/<owner>/, created empty; answers its URL."""
        calendar = self.client().principal().make_calendar(name=f"{owner} work", cal_id=owner)
        return str(calendar.url)

    def __enter__(self) -> RadicaleServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(self._config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"radicale exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("radicale did not start within 15 s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._log.close()
