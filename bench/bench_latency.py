"""Landing → CRM latency through `leadops dev` (webserver + daemon + sensor), per traffic shape.

    python bench/bench_latency.py trickle --leads 30 --gap 10
    python bench/bench_latency.py burst --files 20 --per-file 10 --gap 0.5
    python bench/bench_latency.py sustained --rate 5 --duration 600
    python bench/bench_latency.py cold

Every scenario starts `leadops dev` on a data home (a copy of `--home` when given, so the first-run seed
build and dbt parse of a fresh home are not measured; otherwise a fresh home with the test fixture CRM).
Except `cold`, one warm-up lead goes through first and is reported apart. `cold` lands one lead as soon as
`leadops dev` is started and reports start → written. Per lead: landed (the moment the file was renamed
into the landing zone) → decided (`marts.lead_decisions.decided_at`) → written (the first `upsert_lead`
the outbox wrote). Per step: the median over the scenario's runs of the durations each run records in its
`leadops/step_seconds` tag. The machine's load average is recorded with the numbers: they move ±30 % with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import _percentile, make_home, synthetic_event

REPO_ROOT = Path(__file__).resolve().parents[1]
STEP_SECONDS_TAG = "leadops/step_seconds"


def use_home(copy_from: str | None) -> Path:
    if copy_from is None:
        return make_home()
    home = Path(tempfile.mkdtemp(prefix="leadops-bench-")) / "home"
    shutil.copytree(copy_from, home, ignore=shutil.ignore_patterns("storage", "history", "schedules"))
    os.environ["LEADOPS_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    from dagster_project.settings import Settings

    Settings.from_env().prepare_home()
    return home


def start_dev(home: Path, port: int) -> subprocess.Popen:
    """Own process group with SIGINT restored: a background `dagster dev` otherwise ignores Ctrl-C."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "leadops"), "dev", "--port", str(port)],
        cwd=REPO_ROOT,
        # The venv's bin first: under `dagster dev`, DbtProject.prepare_if_dev() runs `dbt` from PATH.
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "LEADOPS_SENSOR_INTERVAL_SECONDS": "1",
        },
        stdout=(home / "dev.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def stop_dev(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


class Lander:
    def __init__(self, settings, prefix: str) -> None:
        self.settings = settings
        self.prefix = prefix
        self.rng = random.Random(7)
        self.count = 0
        self.landed_at: dict[str, datetime] = {}

    def land(self, leads: int) -> list[str]:
        from integrations.landing.zone import write_events_atomically

        events = []
        for _ in range(leads):
            event = synthetic_event(self.count, self.rng, datetime.now(UTC))
            event["event_id"] = f"{self.prefix}-{self.count:07d}"
            event["email"] = f"{self.prefix}{self.count}@{self.prefix}{self.count}-bench.com"
            events.append(event)
            self.count += 1
        write_events_atomically(
            self.settings.landing_dir,
            [json.dumps(e) for e in events],
            name=f"{self.prefix}-{self.count:07d}.jsonl",
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        for event in events:
            self.landed_at[event["event_id"]] = now
        return [e["event_id"] for e in events]


def read_timings(settings, event_ids: set[str], timeout: float) -> dict[str, tuple[datetime, datetime]]:
    """event_id → (decided_at, first written_at), once every event is written or the timeout passes."""
    import duckdb

    query = (
        "select le.event_id, min(d.decided_at), min(w.written_at) from marts.lead_events le"
        " join marts.lead_decisions d on d.lead_id = le.lead_id"
        " join ops.crm_writes w on w.lead_id = le.lead_id and w.operation = 'upsert_lead'"
        " and w.status = 'written' group by 1"
    )
    deadline = time.monotonic() + timeout
    found: dict[str, tuple[datetime, datetime]] = {}
    while time.monotonic() < deadline:
        try:
            with duckdb.connect(str(settings.reader_warehouse_path), read_only=True) as con:
                found = {
                    row[0]: (row[1], row[2]) for row in con.execute(query).fetchall() if row[0] in event_ids
                }
        except duckdb.Error:
            pass
        if len(found) == len(event_ids):
            break
        time.sleep(1)
    return found


def step_medians(since: float) -> tuple[dict[str, float], int]:
    from dagster import DagsterInstance, RunsFilter

    per_step: dict[str, list[float]] = {}
    with DagsterInstance.get() as instance:
        records = instance.get_run_records(
            filters=RunsFilter(job_name="process_leads", created_after=datetime.fromtimestamp(since, UTC))
        )
        for record in records:
            for step, seconds in json.loads(record.dagster_run.tags.get(STEP_SECONDS_TAG, "{}")).items():
                per_step.setdefault(step, []).append(seconds)
    return {step: round(statistics.median(values), 2) for step, values in per_step.items()}, len(records)


def last_run_launcher() -> str | None:
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.get() as instance:
        records = instance.get_run_records(filters=RunsFilter(job_name="process_leads"), limit=1)
        return records[0].dagster_run.tags.get("leadops/launcher") if records else None


def summarise(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(_percentile(values, 95), 1),
        "max": round(max(values), 1),
    }


def run_scenario(args) -> dict:
    home = use_home(args.home)
    from dagster_project.settings import Settings

    settings = Settings.from_env()
    lander = Lander(settings, f"{args.scenario}{int(time.time()) % 100000}")
    load_before = os.getloadavg()
    dev_started = time.time()
    dev = start_dev(home, args.port)
    result: dict = {"scenario": args.scenario, "home": str(home)}
    try:
        if args.scenario == "cold":
            first = lander.land(1)
            written = read_timings(settings, set(first), timeout=args.timeout)
            if written:
                result["dev_start_to_written_seconds"] = round(
                    (
                        written[first[0]][1] - datetime.fromtimestamp(dev_started, UTC).replace(tzinfo=None)
                    ).total_seconds(),
                    1,
                )
            return result
        # Warm-up leads until one went through a run forked from the warm process (runs start cold
        # while it warms up): the scenario measures the running system; the warm-up is reported apart.
        warm_up_seconds = []
        while len(warm_up_seconds) < args.max_warm_up:
            landed = time.time()
            read_timings(settings, set(lander.land(1)), timeout=args.timeout)
            warm_up_seconds.append(round(time.time() - landed, 1))
            if last_run_launcher() == "warm-fork":
                break
        result["warm_up_leads_seconds"] = warm_up_seconds
        result["dev_start_to_warm_seconds"] = round(time.time() - dev_started, 1)
        since = time.time()
        lander.landed_at.clear()
        if args.scenario == "trickle":
            for _ in range(args.leads):
                lander.land(1)
                time.sleep(args.gap)
        elif args.scenario == "burst":
            for _ in range(args.files):
                lander.land(args.per_file)
                time.sleep(args.gap)
        else:
            end = time.monotonic() + args.duration
            while time.monotonic() < end:
                tick = time.monotonic()
                lander.land(args.rate)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        timings = read_timings(settings, set(lander.landed_at), timeout=args.timeout)
        steps, runs = step_medians(since)
    finally:
        stop_dev(dev)
    total = [(w - lander.landed_at[e]).total_seconds() for e, (_, w) in timings.items()]
    decided = [(d - lander.landed_at[e]).total_seconds() for e, (d, _) in timings.items()]
    result.update(
        leads=len(lander.landed_at),
        written=len(timings),
        runs=runs,
        landed_to_written=summarise(total),
        landed_to_decided=summarise(decided),
        step_medians_seconds=steps,
        load_average_before=[round(x, 1) for x in load_before],
        load_average_after=[round(x, 1) for x in os.getloadavg()],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["trickle", "burst", "sustained", "cold"])
    parser.add_argument("--home", help="copy this prepared data home instead of starting a fresh one")
    parser.add_argument("--port", type=int, default=3311)
    parser.add_argument("--leads", type=int, default=30, help="trickle: leads, one file each")
    parser.add_argument(
        "--gap", type=float, default=None, help="seconds between files (10 trickle, 0.5 burst)"
    )
    parser.add_argument("--files", type=int, default=20, help="burst: files")
    parser.add_argument("--per-file", type=int, default=10, help="burst: leads per file")
    parser.add_argument("--rate", type=int, default=5, help="sustained: leads per second")
    parser.add_argument("--duration", type=float, default=600, help="sustained: seconds")
    parser.add_argument("--max-warm-up", type=int, default=6, help="warm-up leads at most")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the last write")
    args = parser.parse_args()
    if args.gap is None:
        args.gap = 0.5 if args.scenario == "burst" else 10.0
    print(json.dumps(run_scenario(args), indent=2))


if __name__ == "__main__":
    main()
