"""Backlog benchmark (not a test): a 50,000-line landing backlog through LeadOps.

    nice .venv/bin/python bench/bench_backlog.py identity --leads 50000 \
        --out bench/results/backlog-identity-50k.json
    nice .venv/bin/python bench/bench_backlog.py job --leads 50000 --out bench/results/backlog-job-50k.json
    nice .venv/bin/python bench/bench_backlog.py identity --leads 50000 --skew 0.333 \
        --out bench/results/backlog-identity-50k-skewed.json

The lines are the identity generator's leads (assets/identity/generator.py: real name lists, repeat
submitters across sources, people already CRM contacts, nicknames, typos, alias domains, personal
mailboxes) written as raw inbound events, one JSON object per line, in one landed file. With `--skew S`, a
share S of the lines, spread evenly, are a load test's "Test User" in US (their own e-mail addresses kept):
one first name + last name + country blocking key most of a chunk shares.

- identity: the two stages where a backlog's size can raise a guard limit, for real and nothing else: the
  ingest (parse, validate, normalize, insert: `ingest_files`) of the landed file, then the identity step
  (`resolve_pending_events`: chunks of `chunk_size`, each scored against everything before it and committed
  on its own, every guard rail checked per chunk) against a CRM snapshot of the generated accounts and
  contacts. 50,000 lines: ingest 35 s, identity 35 s (bench/results/backlog-identity-50k.json).
- job: the whole `process_leads` job on a fresh data home (the test fixture CRM), as `leadops run` runs it:
  ingest, GX gate, identity, enrichment, both dbt steps, interpretation, state log, CRM writes. 50,000
  lines: 700 s at nice 19 on two shared cores, 415 s of it CRM writes (bench/results/backlog-job-50k.json);
  under heavy load far longer (a 5,000-lead chunk once took 20 minutes at a load average of 8-16).

Prints one JSON object (wall and CPU seconds per stage, per-chunk progress, every guard result, peak RSS)
and writes it to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
REPO_ROOT = Path(__file__).resolve().parents[1]
# The generated CRM snapshot is built by the same helper the backlog test uses.
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests" / "pipeline")]

# The generator's sources mapped onto the inbound contract's (a partner referral needs partner details the
# generator does not make).
CONTRACT_SOURCE = {
    "web_form": "web_form",
    "webinar": "webinar_registration",
    "content_download": "web_form",
    "partner": "web_form",
    "chat": "chat",
    "event": "web_form",
    "demo_request": "demo_request",
}
# 1.59 submissions per generated person on average (bench_identity.py, seed 3).
SUBMISSIONS_PER_PERSON = 1.59


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generated_backlog(leads: int, seed: int):
    from assets.identity.generator import GeneratorConfig, generate_identity_dataset

    people = int(leads / SUBMISSIONS_PER_PERSON) + 100
    dataset = generate_identity_dataset(GeneratorConfig(n_people=people, n_accounts=people // 5, seed=seed))
    if len(dataset.leads) < leads:
        raise SystemExit(f"the generator made {len(dataset.leads):,} leads, fewer than {leads:,}")
    return dataset


def _text(value) -> str | None:
    return None if value is None or value != value else str(value)  # NaN → None


def landing_lines(dataset, leads: int, skew: float = 0.0) -> list[str]:
    """The first `leads` generated leads as raw inbound events in arrival order; a share `skew` of them
    renamed "Test User" in US."""
    frame = dataset.leads.sort_values(["received_at", "record_id"]).iloc[:leads]
    lines = []
    for position, row in enumerate(frame.itertuples(index=False)):
        event = {
            "event_id": row.record_id,
            "source": CONTRACT_SOURCE[row.source],
            "received_at": row.received_at.isoformat() + "Z",
            "email": _text(row.email_key),
            "first_name": _text(row.first_name_normalized),
            "last_name": _text(row.last_name_normalized),
            "company": _text(row.company_normalized),
            "website": _text(row.website_domain),
            "country": _text(row.country_code),
            "phone": _text(row.phone_e164),
            "message": "Looking for a demo and pricing for our team.",
        }
        if int((position + 1) * skew) > int(position * skew):
            event.update(first_name="Test", last_name="User", country="US")
        lines.append(json.dumps({key: value for key, value in event.items() if value is not None}))
    return lines


def crm_snapshot(con, dataset) -> None:
    """crm.* as the CRM snapshot step writes them, from the generated accounts and contacts."""
    from pipeline_helpers import generated_crm_frames, insert_frames

    from assets.crm.assets import CRM_COLUMNS

    con.execute("create schema if not exists crm")
    for table, columns in CRM_COLUMNS.items():
        con.execute(f"create table crm.{table} ({', '.join(f'{n} {k}' for n, k in columns.items())})")
    insert_frames(con, generated_crm_frames(dataset), "crm")


def identity(leads: int, seed: int, skew: float = 0.0) -> dict:
    import duckdb

    from assets.identity.resolve import IdentityPolicy
    from assets.identity.warehouse import resolve_pending_events
    from assets.ingest.ingest import ingest_files
    from integrations.landing.zone import write_events_atomically

    work = Path(tempfile.mkdtemp(prefix="leadops-backlog-"))
    started = time.perf_counter()
    dataset = generated_backlog(leads, seed)
    lines = landing_lines(dataset, leads, skew)
    landed = write_events_atomically(work / "landing", lines, name="backlog.jsonl")
    generated_seconds = time.perf_counter() - started
    policy = IdentityPolicy()
    progress: list[dict] = []
    with duckdb.connect(str(work / "warehouse.duckdb")) as con:
        crm_snapshot(con, dataset)
        wall, cpu = time.perf_counter(), cpu_seconds()
        summary = ingest_files(con, [landed], batch_id="backlog", archive_dir=work / "archive")
        ingest = {
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "cpu_seconds": round(cpu_seconds() - cpu, 1),
        }
        chunk_clock = [time.perf_counter()]

        def log(message: str) -> None:
            now = time.perf_counter()
            progress.append(
                {"message": message, "seconds": round(now - chunk_clock[0], 1), "rss_mb": peak_rss_mb()}
            )
            chunk_clock[0] = now
            print(f"  {message} ({progress[-1]['seconds']} s)", file=sys.stderr, flush=True)

        wall, cpu = time.perf_counter(), cpu_seconds()
        outcome = resolve_pending_events(
            con, policy, "backlog", datetime.now(UTC).replace(tzinfo=None), log=log
        )
        identity_seconds = {
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "cpu_seconds": round(cpu_seconds() - cpu, 1),
        }
        guards = con.execute(
            'select guard, value, "limit", passed from identity.guard_results order by checked_at'
        ).fetchall()
        matched = con.execute(
            "select person_decision, count(*) from identity.event_matches group by 1 order by 1"
        ).fetchall()
        oversized = con.execute(
            "select count(*) from identity.event_matches"
            " where person_review_reason like 'blocking_key_oversized%'"
        ).fetchone()[0]
    return {
        "mode": "identity",
        "leads": leads,
        "seed": seed,
        "skew": skew,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "generate_seconds": round(generated_seconds, 1),
        "ingest": {**ingest, "accepted": summary.accepted, "quarantined": summary.quarantined},
        "identity": {
            **identity_seconds,
            "chunk_size": policy.chunk_size,
            "written": outcome.written,
            "new_events": outcome.new_events,
            "person_decisions": dict(matched),
            "escalated_blocking_key_oversized": oversized,
            "problems": outcome.problems,
            "chunks": progress,
        },
        "guards": [{"guard": g, "value": v, "limit": limit, "passed": p} for g, v, limit, p in guards],
        "all_guards_passed": all(p for *_, p in guards),
        "peak_rss_mb": peak_rss_mb(),
    }


def job(leads: int, seed: int) -> dict:
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from bench_pipeline import make_home

    make_home()
    import duckdb

    from dagster_project.cli import run_pipeline
    from dagster_project.settings import Settings
    from integrations.landing.zone import write_events_atomically

    settings = Settings.from_env()
    lines = landing_lines(generated_backlog(leads, seed), leads)
    write_events_atomically(settings.landing_dir, lines, name="backlog.jsonl")
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = run_pipeline(settings)
    elapsed = time.perf_counter() - wall
    steps = {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 1)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    failed = [event.step_key for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        fates = dict(con.execute("select status, count(*) from raw.event_deliveries group by 1").fetchall())
        decided = (
            con.execute("select count(*) from marts.lead_events").fetchone()[0] if result.success else None
        )
        guards = con.execute('select guard, value, "limit", passed from identity.guard_results').fetchall()
    return {
        "mode": "job",
        "leads": leads,
        "seed": seed,
        "success": result.success,
        "failed_steps": failed,
        "wall_seconds": round(elapsed, 1),
        "cpu_seconds": round(cpu_seconds() - cpu, 1),
        "deliveries": fates,
        "events_decided": decided,
        "step_seconds": steps,
        "guards": [{"guard": g, "value": v, "limit": limit, "passed": p} for g, v, limit, p in guards],
        "all_guards_passed": all(p for *_, p in guards),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("identity", "job"))
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument(
        "--skew", type=float, default=0.0, help='identity mode: share of lines renamed "Test User" in US'
    )
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    if args.mode == "identity":
        result = identity(args.leads, args.seed, args.skew)
    else:
        result = job(args.leads, args.seed)
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
