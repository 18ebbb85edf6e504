"""Pipeline benchmarks (not tests): sensor-path latency for a trickle of leads, and one large batch.

    python bench/bench_pipeline.py latency --leads 12 --gap 20
    python bench/bench_pipeline.py throughput --leads 10000

Each run uses a fresh temporary LEADOPS_HOME with the test fixture CRM; one warm-up lead goes through first
(its latency is reported as the cold start). Latency is measured from the moment
a file is renamed into the landing zone to the moment its lead's CRM record was written (the outbox's
`written_at` of the `upsert_lead` call), through the real daemon → sensor → queued run path.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CRM = REPO_ROOT / "tests" / "fixtures" / "crm"
COUNTRIES = ["US", "USA", "Canada", "United Kingdom", "Deutschland", "FR", "Netherlands", "Singapore", "AU"]
SOURCES = ["web_form", "demo_request", "pricing_inquiry", "chat", "webinar_registration"]


def make_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="leadops-bench-"))
    os.environ["LEADOPS_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    # The demo's enrichment reference file: without one every lookup would wait for its retry deadline.
    os.environ["LEADOPS_FIRMOGRAPHICS_PATH"] = str(
        Path(__file__).resolve().parent.parent / "demo" / "firmographics.csv"
    )
    from dagster_project.dbt_manifest import ensure_manifest
    from dagster_project.settings import Settings
    from integrations.crm.csv_import import import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    settings = Settings.from_env()
    settings.export_environment()
    settings.prepare_home()
    ensure_manifest(settings)
    import_crm_csvs(
        EmbeddedCrm(settings.crm_path),
        owners=FIXTURE_CRM / "owners.csv",
        accounts=FIXTURE_CRM / "accounts.csv",
        contacts=FIXTURE_CRM / "contacts.csv",
        opportunities=FIXTURE_CRM / "opportunities.csv",
    )
    return home


def synthetic_event(index: int, rng: random.Random, received_at: datetime) -> dict:
    return {
        "event_id": f"bench-{index:07d}",
        "source": rng.choice(SOURCES),
        "received_at": received_at.isoformat().replace("+00:00", "Z"),
        "email": f"person{index}@company{index % 5000}-bench.com",
        "first_name": f"First{index}",
        "last_name": f"Last{index}",
        "company": f"Company {index % 5000}",
        "country": rng.choice(COUNTRIES),
        "employees": rng.choice(["1-10", "11-50", "51-200", "201-500", "1000+", "about 300", ""]),
        "phone": f"+1 415 555 {index % 10000:04d}",
        "message": "Looking for a demo and pricing for our sales team.",
    }


def latency(leads: int, gap: float, interval: int) -> dict:
    home = make_home()
    from dagster_project.settings import Settings
    from integrations.landing.zone import write_events_atomically

    settings = Settings.from_env()
    env = {**os.environ, "LEADOPS_SENSOR_INTERVAL_SECONDS": str(interval)}
    log = (home / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    rng = random.Random(7)
    landed_at: dict[str, datetime] = {}
    cold_start_seconds = None
    try:
        time.sleep(15)  # let the daemon load the code location before the first file lands
        # The first run of a new data home parses dbt for it and builds the rules (seeds): measured apart,
        # so the trickle shows a running system.
        warm_up = synthetic_event(leads, rng, datetime.now(UTC))
        warm_up_landed = datetime.now(UTC)
        write_events_atomically(settings.landing_dir, [json.dumps(warm_up)], name="warm-up.jsonl")
        warm_up_written = _wait_for_writes(settings, {warm_up["event_id"]}, timeout=300)
        if warm_up_written:
            written_at = warm_up_written[warm_up["event_id"]]
            cold_start_seconds = round((written_at - warm_up_landed.replace(tzinfo=None)).total_seconds(), 1)
        for index in range(leads):
            now = datetime.now(UTC)
            event = synthetic_event(index, rng, now)
            write_events_atomically(
                settings.landing_dir, [json.dumps(event)], name=f"trickle-{index:04d}.jsonl"
            )
            landed_at[event["event_id"]] = now
            time.sleep(gap)
        written = _wait_for_writes(settings, set(landed_at), timeout=300)
    finally:
        os.killpg(daemon.pid, signal.SIGINT)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
    seconds = sorted(
        (written[event_id] - landed_at[event_id].replace(tzinfo=None)).total_seconds() for event_id in written
    )
    return {
        "leads": leads,
        "gap_seconds": gap,
        "sensor_interval_seconds": interval,
        "written": len(seconds),
        "cold_start_seconds": cold_start_seconds,
        "p50_seconds": round(statistics.median(seconds), 1) if seconds else None,
        "p95_seconds": round(_percentile(seconds, 95), 1) if seconds else None,
        "max_seconds": round(max(seconds), 1) if seconds else None,
    }


def _wait_for_writes(settings, event_ids: set[str], timeout: float) -> dict[str, datetime]:
    import duckdb

    deadline = time.monotonic() + timeout
    query = (
        "select le.event_id, min(w.written_at) from marts.lead_events le"
        " join ops.crm_writes w on w.lead_id = le.lead_id and w.operation = 'upsert_lead'"
        " and w.status = 'written' group by 1"
    )
    found: dict[str, datetime] = {}
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(str(settings.reader_warehouse_path), read_only=True) as con:
                found = {
                    event_id: at for event_id, at in con.execute(query).fetchall() if event_id in event_ids
                }
        except duckdb.Error:
            pass
        if len(found) == len(event_ids):
            break
        time.sleep(2)
    return found


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def throughput(leads: int) -> dict:
    make_home()
    from dagster_project.cli import run_pipeline
    from dagster_project.settings import Settings
    from integrations.landing.zone import write_events_atomically

    settings = Settings.from_env()
    rng = random.Random(11)
    start = datetime(2026, 11, 25, 8, tzinfo=UTC)
    lines = [json.dumps(synthetic_event(i, rng, start + timedelta(seconds=i))) for i in range(leads)]
    write_events_atomically(settings.landing_dir, lines, name="big-batch.jsonl")
    began = time.perf_counter()
    result = run_pipeline(settings)
    elapsed = time.perf_counter() - began
    steps = {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 1)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    return {
        "leads": leads,
        "success": result.success,
        "wall_seconds": round(elapsed, 1),
        "leads_per_second": round(leads / elapsed, 1),
        "step_seconds": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    lat = modes.add_parser("latency")
    lat.add_argument("--leads", type=int, default=12)
    lat.add_argument("--gap", type=float, default=20.0, help="seconds between landed files")
    lat.add_argument("--interval", type=int, default=2, help="sensor interval in seconds")
    thr = modes.add_parser("throughput")
    thr.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    result = (
        latency(args.leads, args.gap, args.interval) if args.mode == "latency" else throughput(args.leads)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
