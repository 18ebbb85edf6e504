"""The intake as operators run it: `leadops serve` (real uvicorn) on a free loopback port, then `leadops run`.

Slow: the server process takes 2-4 s to start, and `leadops run` is a real pipeline run with dbt
(minutes on a loaded 2-core box).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dagster_project.intake.signing import signed_headers
from tests.intake.intake_helpers import SECRET, three_good_one_bad

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
LEADOPS = [sys.executable, "-c", "import sys; from dagster_project.cli import main; sys.exit(main())"]


@dataclass
class Served:
    home: Path
    environment: dict[str, str]
    client: httpx.Client

    def leadops(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LEADOPS, *args],
            cwd=REPO_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    port = free_port()
    environment = os.environ | {
        "LEADOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LEADOPS_FIRMOGRAPHICS_PATH": str(FIXTURES / "firmographics.csv"),
        "LEADOPS_INTAKE_PORT": str(port),
        "LEADOPS_INTAKE_SECRET": SECRET,
    }
    server = subprocess.Popen(
        [*LEADOPS, "serve"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield Served(home=home, environment=environment, client=client)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def post(client: httpx.Client, payload: object) -> httpx.Response:
    body = json.dumps(payload).encode()
    return client.post("/v1/events", content=body, headers=signed_headers(SECRET, body))


def test_served_intake_refuses_a_chunked_two_mib_body_while_it_streams(served: Served) -> None:
    chunks = [b" " * (64 * 1024)] * 32
    headers = signed_headers(SECRET, b"".join(chunks))

    answer = served.client.post("/v1/events", content=iter(chunks), headers=headers)

    assert answer.status_code == 413
    assert served.client.get("/metrics").json()["rejected_requests_by_status"] == {"413": 1}


# One real run: 6.5 min measured on a 2-core box at load average 8, so more than the default 600 s.
@pytest.mark.timeout(1200)
def test_served_batch_is_decided_by_leadops_run_and_every_item_is_accounted_for(served: Served) -> None:
    crm = FIXTURES / "crm"
    imported = served.leadops(
        "crm",
        "import",
        f"--owners={crm / 'owners.csv'}",
        f"--accounts={crm / 'accounts.csv'}",
        f"--contacts={crm / 'contacts.csv'}",
        f"--opportunities={crm / 'opportunities.csv'}",
    )
    assert imported.returncode == 0, imported.stderr

    answer = post(served.client, three_good_one_bad())
    assert answer.status_code == 202, answer.text
    landed_file = answer.json()["landed_file"]

    run = served.leadops("run")
    assert run.returncode == 0, run.stdout + run.stderr
    events = served.leadops("events", "--format", "json")
    assert events.returncode == 0, events.stderr

    rows = [row for row in json.loads(events.stdout) if row["file_name"] == landed_file]
    assert [(row["line_number"], row["event_id"], row["status"]) for row in rows] == [
        (1, "evt-1", "processed"),
        (2, "evt-2", "processed"),
        (3, "evt-bad", "quarantined"),
        (4, "evt-3", "processed"),
    ]
    assert all(row["disposition"] for row in rows if row["status"] == "processed")
    assert rows[2]["reason"] == answer.json()["rejected"][0]["reason"]
