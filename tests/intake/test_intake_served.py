"""The intake as operators run it: `leadops serve` (real uvicorn) on a free loopback port.

Slow: the server process takes 2-4 s to start. What a served batch becomes downstream (landed, picked up by
the new_leads sensor, decided, every line in `leadops events`) is tests/pipeline/test_intake_sensor_path.py,
on the session's prepared warehouse instead of a cold `leadops run` from an empty home (6.5 min measured).
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


def test_served_batch_answers_202_only_once_all_four_items_are_landed(served: Served) -> None:
    answer = post(served.client, three_good_one_bad())

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], [item["index"] for item in body["rejected"]]) == (
        ["evt-1", "evt-2", "evt-3"],
        [2],
    )
    landed = served.home / "landing" / body["landed_file"]
    lines = landed.read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == ["evt-1", "evt-2", "evt-bad", "evt-3"]
