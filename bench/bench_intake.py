"""HTTP intake latency (not a test): signed one-event requests against a real `leadops serve`.

    python bench/bench_intake.py --requests 1000 --max-seconds 60 [--batch 1] [--out bench/results/x.json]

Starts `leadops serve` (uvicorn) on 127.0.0.1 on a free port with a fresh temporary LEADOPS_HOME, waits for
/healthz, sends warm-up requests, then N signed requests one after another from one httpx client (keep-alive)
and reports p50/p95/max of the client-side round trip, which includes the fsynced landed file. Stops at
N requests or after --max-seconds, whichever comes first; checks that every accepted request landed a file.

Target: p95 ≤ 50 ms for one event on 2 cores. Recorded results: bench/RESULTS.md, "HTTP intake".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dagster_project.intake.signing import signed_headers  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
WARM_UP = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    environment = os.environ | {
        "LEADOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LEADOPS_INTAKE_HOST": "127.0.0.1",
        "LEADOPS_INTAKE_PORT": str(port),
        "LEADOPS_INTAKE_SECRET": SECRET,
        # The bench measures latency, not the limiter: room for every request it sends.
        "LEADOPS_INTAKE_RATE_PER_SECOND": "100000",
        "LEADOPS_INTAKE_BURST": "100000",
    }
    code = "from dagster_project.cli import main; raise SystemExit(main(['serve']))"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, stopped by its id below
    )


def wait_until_healthy(client: httpx.Client, deadline_seconds: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_seconds:
        try:
            if client.get("/healthz").status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"intake not healthy after {deadline_seconds:.0f} s")


def event(number: int) -> dict[str, object]:
    return {
        "event_id": f"bench-{number}",
        "source": "demo_request",
        "received_at": "2026-11-25T09:30:00Z",
        "email": f"buyer{number}@shop{number}-example.com",
        "first_name": "Dana",
        "last_name": "Buyer",
        "company": f"Shop {number}",
        "country": "DE",
        "message": "We would like a demo for our sales team of 40 people.",
    }


def send(client: httpx.Client, number: int, batch: int) -> float:
    payload = event(number) if batch == 1 else [event(number * batch + i) for i in range(batch)]
    body = json.dumps(payload).encode()
    started = time.perf_counter()
    answer = client.post("/v1/events", content=body, headers=signed_headers(SECRET, body))
    elapsed = time.perf_counter() - started
    if answer.status_code != 202 or len(answer.json()["accepted"]) != batch:
        raise RuntimeError(f"request {number}: {answer.status_code} {answer.text}")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=1, help="events per request (1 = one JSON object)")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here too")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="leadops-bench-intake-"))
    port = free_port()
    server = start_server(home, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            ready_seconds = wait_until_healthy(client)
            for number in range(WARM_UP):
                send(client, -1 - number, args.batch)
            latencies: list[float] = []
            started = time.perf_counter()
            while len(latencies) < args.requests and time.perf_counter() - started < args.max_seconds:
                latencies.append(send(client, len(latencies), args.batch))
            wall = time.perf_counter() - started
            metrics = client.get("/metrics").json()
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    landed = len(list((home / "landing").glob("*.jsonl")))
    if landed != len(latencies) + WARM_UP:
        raise RuntimeError(f"{landed} landed files for {len(latencies) + WARM_UP} accepted requests")
    result = {
        "requests": len(latencies),
        "events_per_request": args.batch,
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "requests_per_second": round(len(latencies) / wall, 1),
        "server_ready_seconds": round(ready_seconds, 2),
        "landed_files": landed,
        "server_metrics": metrics,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
