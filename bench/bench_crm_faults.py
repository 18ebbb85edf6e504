"""Exactly-once CRM writes under faults (not a test): the pipeline's outbound step against the HubSpot
contract server.

    python bench/bench_crm_faults.py [--leads 60] [--outage-seconds 120] [--scenarios faults,twice] [--record]

Each scenario runs the outbound step the `crm_writes` asset runs (`sync_to_crm`: plan, reconcile, enqueue,
send, read back) on a fresh DuckDB outbox, then the retry job's `deliver_due_actions` until nothing is due:

- faults: 20 % of API requests fail (429 with Retry-After, 503, a held answer past the client's timeout, a
  500 after the write landed); the outbox's clock jumps to each due retry instead of sleeping;
- sigkill: a child process runs the step and is SIGKILLed once the CRM holds a quarter of the leads; the
  step then runs again on the same outbox;
- twice: the same batch delivered twice;
- outage: every request answers 503 for --outage-seconds (real time), then the CRM is back; delivery passes
  run every second (the retry schedule's pace, compressed) with the outbox's own backoff.

Each reports actions done / parked, duplicates (records sharing an external id: must be 0), retries (sends
beyond each action's first) and wall time; the table is appended to bench/RESULTS.md with --record.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACT_SERVERS = REPO_ROOT / "tests" / "integrations" / "crm"
sys.path[:0] = [str(REPO_ROOT), str(CONTRACT_SERVERS)]

import duckdb  # noqa: E402
from contract_server_base import FaultPlan  # noqa: E402
from hubspot_server import HubSpotServer  # noqa: E402
from outbox_drain import Clock, drain, outbox_statuses, retries  # noqa: E402
from remote_crm_helpers import HUBSPOT_TOKEN, seed_hubspot  # noqa: E402
from test_hubspot_outbox_faults import decision_rows  # noqa: E402

from assets.outbound.outbox import RetryPolicy, next_due_at, utc_now  # noqa: E402
from assets.outbound.reconcile import deliver_due_actions, sync_to_crm  # noqa: E402
from integrations.crm.hubspot import HubSpotCrm  # noqa: E402

SCENARIOS = ("faults", "sigkill", "twice", "outage")
# The outbox's defaults (8 attempts, 30 s base, 1 h cap): the fake clock makes them free to honour.
POLICY = RetryPolicy()
# The adapter's timeout in the bench: far above a loopback round trip, below the server's held answers.
CLIENT_TIMEOUT_SECONDS = 0.25
OPERATIONS_PER_LEAD = 4


def client(server: HubSpotServer) -> HubSpotCrm:
    return HubSpotCrm(HUBSPOT_TOKEN, host=server.url, timeout_seconds=CLIENT_TIMEOUT_SECONDS)


def duplicates(server: HubSpotServer) -> int:
    """Records beyond the first per LeadOps external id, over contacts, tasks and notes."""
    counts = Counter(
        (name, obj["properties"].get("leadops_external_id"))
        for name in ("contacts", "tasks", "notes")
        for obj in server.objects[name].values()
        if obj["properties"].get("leadops_external_id")
    )
    return sum(count - 1 for count in counts.values())


def report(name: str, con: duckdb.DuckDBPyConnection, server: HubSpotServer, started: float, **extra) -> dict:
    statuses = outbox_statuses(con)
    return {
        "scenario": name,
        "actions": sum(statuses.values()),
        "done": statuses.get("done", 0),
        "parked": statuses.get("dead", 0),
        "other": {status: count for status, count in statuses.items() if status not in ("done", "dead")},
        "duplicates": duplicates(server),
        "retries": retries(con),
        "faults_injected": dict(server.faults.injected),
        "wall_seconds": round(time.perf_counter() - started, 1),
        **extra,
    }


def scenario_faults(leads: int, workdir: Path) -> dict:
    plan = FaultPlan(rate=0.2, seed=20, slow_seconds=0.5)
    with (
        HubSpotServer(token=HUBSPOT_TOKEN, faults=plan) as server,
        duckdb.connect(str(workdir / "f.duckdb")) as con,
    ):
        seed_hubspot(server)
        started = time.perf_counter()
        drained = drain(con, client(server), decision_rows(leads), POLICY, Clock())
        plan.rate = 0.0
        return report("20 % 429/5xx/timeouts", con, server, started, passes=drained.passes)


def scenario_twice(leads: int, workdir: Path) -> dict:
    with HubSpotServer(token=HUBSPOT_TOKEN) as server, duckdb.connect(str(workdir / "t.duckdb")) as con:
        seed_hubspot(server)
        started = time.perf_counter()
        crm = client(server)
        drain(con, crm, decision_rows(leads), POLICY, Clock())
        requests_before = len(server.log)
        sends_before = int(con.execute("select sum(attempts) from ops.outbox_actions").fetchone()[0])
        drain(con, crm, decision_rows(leads), POLICY, Clock())
        sends = int(con.execute("select sum(attempts) from ops.outbox_actions").fetchone()[0]) - sends_before
        return report(
            "same batch delivered twice",
            con,
            server,
            started,
            second_delivery_sends=sends,
            # Reading back what the outbox skips (reconciliation): batch reads, no write.
            second_delivery_read_requests=len(server.log) - requests_before,
        )


def _child(warehouse: str, host: str, leads: int) -> int:
    """The killed process: one outbound step, as the crm_writes asset runs it."""
    crm = HubSpotCrm(HUBSPOT_TOKEN, host=host, timeout_seconds=CLIENT_TIMEOUT_SECONDS)
    with duckdb.connect(warehouse) as con:
        sync_to_crm(con, crm, decision_rows(leads), POLICY)
    return 0


def scenario_sigkill(leads: int, workdir: Path) -> dict:
    warehouse = workdir / "k.duckdb"
    with HubSpotServer(token=HUBSPOT_TOKEN) as server:
        seed_hubspot(server)
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", str(warehouse), server.url, str(leads)],
            start_new_session=True,
        )
        seeded = server.count("contacts")
        while server.count("contacts") - seeded < max(1, leads // 4):
            if child.poll() is not None:
                raise SystemExit(f"the child ended (exit {child.returncode}) before it could be killed")
            time.sleep(0.005)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        with duckdb.connect(str(warehouse)) as con:
            at_kill = outbox_statuses(con)
            drained = drain(con, client(server), decision_rows(leads), POLICY, Clock())
            return report(
                "SIGKILL mid-outbound, then a rerun",
                con,
                server,
                started,
                outbox_at_kill=at_kill,
                rerun_passes=drained.passes,
            )


def scenario_outage(leads: int, workdir: Path, outage_seconds: float) -> dict:
    plan = FaultPlan(rate=1.0, kinds=("server_error",), seed=3)
    # Seconds, not the outbox's default half minute: the outage is minutes long, the bench should not be.
    policy = RetryPolicy(max_attempts=8, base_delay_seconds=5, max_delay_seconds=60)
    with (
        HubSpotServer(token=HUBSPOT_TOKEN, faults=plan) as server,
        duckdb.connect(str(workdir / "o.duckdb")) as con,
    ):
        seed_hubspot(server)
        crm = client(server)
        started = time.perf_counter()
        back = threading.Timer(outage_seconds, lambda: setattr(plan, "rate", 0.0))
        back.start()
        try:
            run_errors = _run_through(con, crm, policy, leads, deadline=outage_seconds * 4 + 120)
        finally:
            back.cancel()
        recovered_after = time.perf_counter() - started
        return report(
            f"CRM down {outage_seconds:.0f} s, then back",
            con,
            server,
            started,
            settled_after_seconds=round(recovered_after, 1),
            failed_passes=run_errors,
        )


def _run_through(con, crm: HubSpotCrm, policy: RetryPolicy, leads: int, deadline: float) -> int:
    """The run's outbound step, then a delivery pass every second until nothing is due (real time)."""
    failed = 0
    limit = time.perf_counter() + deadline
    steps: list[Callable[[], object]] = [lambda: sync_to_crm(con, crm, decision_rows(leads), policy)]
    while time.perf_counter() < limit:
        step = steps.pop() if steps else (lambda: deliver_due_actions(con, crm, policy))
        try:
            step()
        except Exception:  # a pass the CRM fails as a whole: the next one goes on, as the schedule would
            failed += 1
        due = next_due_at(con)
        if due is None:
            return failed
        time.sleep(min(1.0, max(0.0, (due - utc_now()).total_seconds())))
    raise SystemExit(f"the outbox did not settle within {deadline:.0f} s")


def markdown(results: list[dict], args: argparse.Namespace) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"## CRM writes under faults (`bench/bench_crm_faults.py`, {stamp})",
        "",
        f"`python bench/bench_crm_faults.py --leads {args.leads} --outage-seconds {args.outage_seconds:.0f}`:"
        " the outbound step (`sync_to_crm`) and",
        f"the retry job's delivery against the HubSpot contract server, {args.leads} routed leads ×"
        f" {OPERATIONS_PER_LEAD} actions.",
        "",
        "| scenario | actions | done | parked | duplicates | retries | wall | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        notes = {
            key: value
            for key, value in result.items()
            if key not in {"scenario", "actions", "done", "parked", "duplicates", "retries", "wall_seconds"}
            and value not in ({}, None)
        }
        lines.append(
            f"| {result['scenario']} | {result['actions']} | {result['done']} | {result['parked']}"
            f" | {result['duplicates']} | {result['retries']} | {result['wall_seconds']} s"
            f" | {'; '.join(f'{key}: {value}' for key, value in notes.items())} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=60)
    parser.add_argument("--outage-seconds", type=float, default=120.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        warehouse, host, leads = args.child
        return _child(warehouse, host, int(leads))
    wanted = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-crm-faults-") as tmp:
        workdir = Path(tmp)
        for name in wanted:
            if name == "faults":
                result = scenario_faults(args.leads, workdir)
            elif name == "sigkill":
                result = scenario_sigkill(args.leads, workdir)
            elif name == "twice":
                result = scenario_twice(args.leads, workdir)
            elif name == "outage":
                result = scenario_outage(args.leads, workdir, args.outage_seconds)
            else:
                raise SystemExit(f"unknown scenario {name!r}: one of {', '.join(SCENARIOS)}")
            print(result, flush=True)
            results.append(result)
    table = markdown(results, args)
    print(table)
    if args.record:
        with (REPO_ROOT / "bench" / "RESULTS.md").open("a") as handle:
            handle.write(table)
    bad = [result["scenario"] for result in results if result["duplicates"]]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
