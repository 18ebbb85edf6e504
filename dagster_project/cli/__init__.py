"""`leadops`: run the pipeline, inspect events and decisions, explain one lead, manage the embedded CRM.

Readers (`events`, `decisions`, `explain`) open the read-only copy published after each run, never the live
warehouse: DuckDB allows one process per file and a reader would break a run that holds it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dagster_project.cli.actions import register_action_commands
from dagster_project.cli.backfill import register_backfill_command
from dagster_project.cli.overrides import register_identity_commands, register_override_commands
from dagster_project.cli.policy import register_policy_commands
from dagster_project.cli.rules_diff import register_rules_commands
from dagster_project.settings import REPO_ROOT, Settings, SettingsError

DEMO_DIR = REPO_ROOT / "demo"


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


# ---------------------------------------------------------------- running the pipeline


def wait_for_warehouse(path: Path, timeout_seconds: float = 600, poll_seconds: float = 2) -> None:
    """Wait while another run (e.g. one the daemon launched) holds the warehouse; DuckDB allows one writer."""
    import duckdb

    deadline = time.monotonic() + timeout_seconds
    announced = False
    while True:
        try:
            duckdb.connect(str(path)).close()
            return
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() > deadline:
                raise CliError(
                    f"the warehouse {path} stayed locked by another process for {timeout_seconds:.0f} s"
                ) from error
            if not announced:
                print("Waiting for the warehouse: another run holds it ...", file=sys.stderr)
                announced = True
            time.sleep(poll_seconds)


def load_definitions(settings: Settings) -> None:
    """Prepare what the definitions are built from (the dbt manifest) and share the settings with dbt
    and Dagster before the definitions module is imported."""
    from dagster_project.dbt_manifest import ensure_manifest

    settings.export_environment()
    ensure_manifest(settings)


def run_pipeline(settings: Settings, files: Sequence[str] | None = None):
    """Run `process_leads` in this process, recorded in the Dagster instance like sensor-launched runs.

    Runs recorded as in flight whose process is gone are marked failed first. The run holds the run lock
    (dagster_project/run_lock.py) that daemon-launched runs take too, so a second `leadops run`, or one
    started while the daemon's run writes, waits with a message instead of failing on the DuckDB lock.
    The run is tagged with this process's pid and host, which the sensors check when it seems in flight:
    an in-process run has no launcher that run monitoring could ask about it."""
    from dagster import DagsterInstance

    from dagster_project.run_lock import (
        RunLockTimeout,
        describe_this_process,
        hold_run_lock,
        run_lock_path,
    )
    from sensors.runs import HOST_TAG, PID_TAG, reclaim_dead_runs

    settings.prepare_home()
    load_definitions(settings)
    from dagster_project.definitions import defs

    job = defs.resolve_job_def("process_leads")
    run_config = {
        "ops": {"raw_inbound_events": {"config": {"files": list(files or [])}}},
        # Step-by-step DEBUG events belong in the UI; the terminal shows warnings and the summary.
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), "leadops/trigger": "cli"}
    with DagsterInstance.get() as instance:
        for dead in reclaim_dead_runs(instance):
            print(f"leadops: {dead.reason}", file=sys.stderr)
        try:
            with hold_run_lock(
                run_lock_path(settings.home),
                describe_this_process("`leadops run`"),
                on_wait=_announce_wait,
            ):
                # Other writers (an asset materialized from the UI) take no run lock.
                wait_for_warehouse(settings.warehouse_path)
                return job.execute_in_process(
                    run_config=run_config, instance=instance, raise_on_error=False, tags=tags
                )
        except RunLockTimeout as error:
            raise CliError(str(error)) from error


def _announce_wait(holder: str) -> None:
    print(f"Waiting for the run in progress ({holder}) to finish ...", file=sys.stderr)


def land_files(settings: Settings, sources: Sequence[Path]) -> list[Path]:
    """Copy files into the landing zone the way producers must: write a temporary name, then rename.

    The bytes are copied unchanged: decoding and re-splitting would break lines on U+2028 (which
    str.splitlines treats as a line end, though JSON allows it inside a string) and fail on invalid
    UTF-8, which the ingest quarantines line by line instead.
    """
    from integrations.landing.zone import land_bytes_atomically

    landed = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    for source in sources:
        if not source.is_file():
            raise CliError(f"no such file: {source}")
        try:
            content = source.read_bytes()
        except OSError as error:
            raise CliError(f"cannot read {source}: {error.strerror or error}") from error
        landed.append(
            land_bytes_atomically(settings.landing_dir, content, name=f"{source.stem}-{stamp}.jsonl")
        )
    return landed


# ---------------------------------------------------------------- reading results


def open_reader(settings: Settings):
    import duckdb

    path = settings.reader_warehouse_path
    if not path.exists():
        raise CliError(f"no results yet at {path}: run `leadops run` (or `leadops demo`) first")
    return duckdb.connect(str(path), read_only=True)


def _table_exists(con, schema: str, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, table]).fetchone()[0] > 0


EVENTS_QUERY = """
select
    d.file_name,
    d.line_number,
    d.event_id,
    case
        when d.status = 'accepted' and ld.lead_id is not null then 'processed'
        when d.status = 'accepted' then 'pending'
        else d.status
    end as status,
    le.lead_id,
    case when d.status = 'accepted' then ld.disposition end as disposition,
    coalesce(d.reason, ld.reason) as reason,
    d.batch_id,
    d.delivered_at
from raw.event_deliveries as d
left join marts.lead_events as le on d.event_id = le.event_id
left join marts.lead_decisions as ld on le.lead_id = ld.lead_id
order by d.delivered_at, d.file_name, d.line_number
"""


def events_frame(con):
    return con.execute(EVENTS_QUERY).df()


def decisions_frame(con):
    return con.execute("select * from marts.lead_decisions order by first_received_at, lead_id").df()


# OWASP CSV injection: a spreadsheet runs a cell that starts with one of these as a formula (a lead can
# type `=HYPERLINK(...)` into a form field); a leading single quote makes it text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object, *, csv: bool) -> object:
    """A text cell as an export may carry it: never a NUL byte and, in CSV, never a formula."""
    if not isinstance(value, str):
        return value
    value = value.replace("\x00", "")
    if csv and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def print_frame(frame, output_format: str) -> None:
    csv = output_format != "json"
    frame = frame.copy()
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        frame[column] = frame[column].map(lambda value: neutralise_cell(value, csv=csv))
    if csv:
        frame.to_csv(sys.stdout, index=False)
    else:
        print(frame.to_json(orient="records", date_format="iso", indent=2))


def summary_text(con, batch_id: str | None = None) -> str:
    from assets.outbound.write_log import latest_write_status_counts

    lines = []
    if batch_id:
        fates = con.execute(
            "select status, count(*) from raw.event_deliveries where batch_id = ? group by 1 order by 1",
            [batch_id],
        ).fetchall()
        lines.append(f"Batch {batch_id}: " + (", ".join(f"{n} {s}" for s, n in fates) or "no new lines"))
    rows = con.execute(
        "select disposition, coalesce(team, '-') as team, count(*) from marts.lead_decisions"
        " group by 1, 2 order by 1, 2"
    ).fetchall()
    total = sum(count for _, _, count in rows)
    lines.append(f"Lead decisions ({total} leads) by disposition and team:")
    lines.append(f"  {'disposition':<12} {'team':<20} {'leads':>5}")
    for disposition, team, count in rows:
        lines.append(f"  {disposition:<12} {team:<20} {count:>5}")
    writes = latest_write_status_counts(con)
    if writes:
        lines.append("CRM operations (latest state): " + ", ".join(f"{n} {s}" for s, n in writes.items()))
    if _table_exists(con, "marts", "review_queue"):
        reasons = con.execute(
            "select escalation_reason, count(*) from marts.review_queue group by 1 order by 2 desc, 1"
        ).fetchall()
        lines.append("Review queue: " + (", ".join(f"{n} {r}" for r, n in reasons) or "empty"))
    if _table_exists(con, "marts", "lead_waits"):
        waiting = con.execute("select count(*) from marts.lead_waits").fetchone()[0]
        lines.append(f"Waiting for enrichment: {waiting} lead(s) — see marts.lead_waits")
    if _table_exists(con, "interpretation", "model_calls"):
        calls = dict(
            con.execute("select backend, count(*) from interpretation.model_calls group by 1").fetchall()
        )
        leads = con.execute("select count(*) from marts.lead_decisions").fetchone()[0]
        per_lead = sum(calls.values()) / leads if leads else 0.0
        lines.append(
            f"Model calls (all time): {sum(calls.values())} for {leads} leads = {per_lead:.2f} per lead"
            f" (local {calls.get('local', 0)}, LLM {calls.get('openai', 0)})"
        )
    quarantined = con.execute("select count(*) from raw.quarantined_events").fetchone()[0]
    lines.append(f"Quarantined lines (all time): {quarantined} — see `leadops events`")
    return "\n".join(lines)


def explain_text(con, key: str, settings: Settings | None = None) -> str:
    """Everything about the lead(s) with this id or email; `settings` locates the overrides file whose
    not-yet-loaded entries are listed (the environment's when not given)."""
    from common.domains import email_key as email_matching_key

    settings = settings or Settings.from_env()

    lookup = key.strip()
    match_key = email_matching_key(lookup) if "@" in lookup else None
    found = con.execute(
        "select lead_id from marts.lead_decisions where lead_id = ? or lower(email) = lower(?)"
        " union select lead_id from marts.lead_events le join raw.inbound_events e using (event_id)"
        " where e.email_key = ?",
        [lookup, lookup, match_key],
    ).fetchall()
    if not found:
        raise CliError(f"no lead with id or email {key!r}")
    sections = [_explain_one(con, lead_id, settings) for (lead_id,) in found]
    return "\n\n".join(sections)


# How `leadops explain` names each step of marts.lead_timeline when it counts them; every step is counted,
# a zero too ("CRM writes (0)": the lead never reached the CRM).
TIMELINE_STEPS = {
    "event_received": "events",
    "identity_link": "identity links",
    "identity_change": "identity changes",
    "enrichment": "enrichment",
    "interpretation": "interpretation",
    "override": "overrides",
    "decision": "decision",
    "state_transition": "state transitions",
    "outbox_action": "outbox actions",
    "crm_write": "CRM writes",
    "crm_conflict": "CRM conflicts",
}


def _explain_one(con, lead_id: str, settings: Settings) -> str:
    from dagster_project.cli.overrides import explain_override_lines

    decision = con.execute("select * from marts.lead_decisions where lead_id = ?", [lead_id]).df()
    out = [f"Lead {lead_id}"]
    if decision.empty:
        out.append("  not decided yet")
    else:
        d = decision.iloc[0].to_dict()
        out += [
            f"  decision: {d['disposition']} — rule {d['rule_id']}",
            f"  reason:   {d['reason']}",
            f"  team: {d['team']}  owner: {d['owner_id']}  SLA: {d['sla_minutes']} min",
            f"  decided at {d['decided_at']}",
            f"  matched:  method={d['match_method']} account={d['account_id']} ({d['account_name']})"
            f" contact={d['contact_id']}",
            f"  territory: country={d['country_code']} region={d['region']} segment={d['segment']}"
            f" employees={d['employees']} (source {d.get('employees_source')}, self-reported"
            f" {d.get('employees_reported')}) industry={d['industry']}",
            f"  enrichment: {d.get('enrichment_status')} (confidence {d.get('enrichment_confidence')})",
            f"  intent: {d.get('intent')} via {d.get('intent_source')}"
            f" (confidence {d.get('intent_confidence')})"
            f" policy flag: {d.get('policy_flag') or 'none'}",
            f"  summary: {d.get('summary') or '-'}",
            f"  review candidates: person {d.get('person_review_candidate_person_id')}"
            f" (p={d.get('person_review_probability')}), account {d.get('account_review_candidate_id')}"
            f" (p={d.get('account_review_probability')})",
            f"  decided by: {d.get('decided_by')}  override: {d.get('override_id') or 'none'}"
            f"  high-impact actions allowed: {d.get('high_impact_allowed')}",
            f"  spam signals: {d['spam_signals'] or 'none'}",
        ]
    # Loaded overrides (revoked ones marked) and those recorded in the file but not loaded yet, which only
    # the file knows: one tested implementation.
    out += explain_override_lines(con, lead_id, settings)
    return "\n".join(out + timeline_lines(con, lead_id))


def timeline_lines(con, lead_id: str) -> list[str]:
    """The lead's rows of marts.lead_timeline, as printed: the mart holds the query, this only formats."""
    if not _table_exists(con, "marts", "lead_timeline"):
        return ["  timeline: not built yet (`leadops run` builds marts.lead_timeline)"]
    rows = con.execute(
        "select occurred_at, step, subject_id, actor, detail, evidence, flag from marts.lead_timeline"
        " where lead_id = ? order by position",
        [lead_id],
    ).fetchall()
    counts = {step: 0 for step in TIMELINE_STEPS}
    for _, step, *_ in rows:
        counts[step] = counts.get(step, 0) + 1
    summary = ", ".join(f"{TIMELINE_STEPS.get(step, step)} ({count})" for step, count in counts.items())
    out = [f"  timeline ({len(rows)} steps): {summary}"]
    for occurred_at, step, subject_id, actor, detail, evidence, flag in rows:
        by = f" by {actor}" if actor else ""
        out.append(f"    {occurred_at or '-'}  {step} {subject_id or ''}: {detail}{by}")
        if flag:
            out.append(f"      flag: {flag}")
        if evidence:
            out.append(f"      evidence: {evidence}")
    return out


# ---------------------------------------------------------------- commands


# Leads listed with their timings under a run's summary; a big batch shows the first ones and the spread.
_TIMED_LEADS_SHOWN = 10


def lead_timings_text(con, batch_id: str, archive_dir: Path) -> str:
    """Landing → decided → written for each lead of the batch: landed is the landed file's modification
    time (the producer's rename), decided the decision build's time, written the first CRM upsert after
    the batch read the lead. A lead decided by an earlier batch keeps that earlier time."""
    rows = con.execute(
        "select le.lead_id, min(r.file_name), min(r.ingested_at), min(d.decided_at), min(w.written_at)"
        " from raw.inbound_events r join marts.lead_events le on le.event_id = r.event_id"
        " left join marts.lead_decisions d on d.lead_id = le.lead_id"
        " left join ops.crm_writes w on w.lead_id = le.lead_id and w.operation = 'upsert_lead'"
        " and w.status = 'written' and w.written_at >= r.ingested_at"
        " where r.batch_id = ? group by 1 order by 1",
        [batch_id],
    ).fetchall()
    if not rows:
        return "Timings: no lead in this batch"
    landed = {
        path.name: datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        for path in archive_dir.glob("*/*")
        if path.name in {row[1] for row in rows}
    }

    def seconds(later, earlier) -> float | None:
        return None if later is None or earlier is None else (later - earlier).total_seconds()

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    lines = ["Timings per lead (landed → decided → written in the CRM):"]
    totals = []
    for lead_id, file_name, _ingested, decided, written in rows:
        start = landed.get(file_name)
        total = seconds(written, start)
        if total is not None:
            totals.append(total)
        if len(lines) <= _TIMED_LEADS_SHOWN:
            lines.append(
                f"  {lead_id:<24} decided {shown(seconds(decided, start)):>8}"
                f"  written {shown(seconds(written, decided)):>8}  total {shown(total):>8}"
            )
    if len(rows) > _TIMED_LEADS_SHOWN:
        lines.append(f"  ... and {len(rows) - _TIMED_LEADS_SHOWN} more")
    if totals:
        totals.sort()
        lines.append(
            f"  landed → written: median {totals[len(totals) // 2]:.1f} s, max {totals[-1]:.1f} s"
            f" over {len(totals)} lead(s)"
        )
    return "\n".join(lines)


def cmd_run(args, settings: Settings) -> int:
    result = run_pipeline(settings, args.files)
    batch_id = None
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == "raw_inbound_events":
            batch_id = materialization.metadata["batch_id"].value
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    skipped = [event.step_key for event in result.all_events if event.is_step_skipped]
    if not result.success or skipped:
        print(
            f"leadops: run {result.run_id} did not finish: failed {', '.join(failed) or 'none'};"
            f" skipped {', '.join(skipped) or 'none'}; `leadops dev` opens the Dagster UI to see why",
            file=sys.stderr,
        )
        return 1
    steps = {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.is_step_success
    }
    with open_reader(settings) as con:
        print(summary_text(con, batch_id))
        if batch_id:
            print(lead_timings_text(con, batch_id, settings.archive_dir))
    print("Step durations: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items()))
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from integrations.crm.csv_import import import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    settings.prepare_home()
    report = import_crm_csvs(
        EmbeddedCrm(settings.crm_path),
        owners=DEMO_DIR / "crm" / "owners.csv",
        accounts=DEMO_DIR / "crm" / "accounts.csv",
        contacts=DEMO_DIR / "crm" / "contacts.csv",
        opportunities=DEMO_DIR / "crm" / "opportunities.csv",
    )
    print(report.format())
    firmographics = settings.home / "firmographics.csv"
    if not firmographics.exists():
        # The demo's enrichment reference file; an installation sets LEADOPS_FIRMOGRAPHICS_PATH instead.
        shutil.copyfile(DEMO_DIR / "firmographics.csv", firmographics)
    land_files(settings, sorted((DEMO_DIR / "leads").glob("*.jsonl")))
    return cmd_run(argparse.Namespace(files=None), settings)


def cmd_land(args, settings: Settings) -> int:
    settings.prepare_home()
    for path in land_files(settings, [Path(p) for p in args.files]):
        print(f"landed {path}")
    return 0


def cmd_events(args, settings: Settings) -> int:
    with open_reader(settings) as con:
        print_frame(events_frame(con), args.format)
    return 0


def cmd_decisions(args, settings: Settings) -> int:
    with open_reader(settings) as con:
        print_frame(decisions_frame(con), args.format)
    return 0


def cmd_explain(args, settings: Settings) -> int:
    with open_reader(settings) as con:
        print(explain_text(con, args.lead, settings))
    return 0


def cmd_crm_import(args, settings: Settings) -> int:
    from integrations.crm.csv_import import CsvFormatError, import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    settings.prepare_home()
    paths = {
        name: Path(value) if value else None
        for name, value in (
            ("owners", args.owners),
            ("accounts", args.accounts),
            ("contacts", args.contacts),
            ("opportunities", args.opportunities),
        )
    }
    missing = [str(path) for path in paths.values() if path is not None and not path.is_file()]
    if missing:
        raise CliError(f"no such file: {', '.join(missing)}")
    try:
        report = import_crm_csvs(EmbeddedCrm(settings.crm_path), **paths)
    except CsvFormatError as error:
        raise CliError(f"nothing imported: {error}") from error
    print(report.format())
    return 1 if report.rejected else 0


def cmd_eval_identity(args, settings: Settings) -> int:
    """Pairwise quality of person dedupe and account matching on the labeled generator's data."""
    from assets.identity.evaluation import evaluate_identity

    report = evaluate_identity(auto_link=args.auto_link, review=args.review)
    print(report.format())
    return 0 if report.passed else 1


def cmd_eval_intent(args, settings: Settings) -> int:
    """Intent quality on the held-back split, for the local classifier or any OpenAI-compatible server, and
    policy-sensitive recall / precision on its own held-back set."""
    from assets.interpretation.evaluation import evaluate_intent
    from integrations.llm.client import LLMSettings

    llm_settings = None
    if args.backend == "openai":
        if settings.llm is None:
            raise CliError("--backend openai needs LEADOPS_LLM_BASE_URL and LEADOPS_LLM_MODEL")
        api_key = settings.llm.api_key()
        llm_settings = LLMSettings(
            base_url=settings.llm.base_url,
            model=settings.llm.model,
            cache_path=settings.llm_cache_path,
            **({"api_key": api_key} if api_key else {}),
            **settings.llm.options,
        )
    # The policy-sensitive score reads the active policy's intent rules (LEADOPS_POLICY_DIR, dbt-relative).
    policy_dir = REPO_ROOT / "dbt_project" / settings.policy_dir
    report = evaluate_intent(
        args.backend, model_dir=settings.home / "models", llm_settings=llm_settings, policy_dir=policy_dir
    )
    print(report.format())
    return 0


def cmd_dev(args, settings: Settings) -> int:
    """`dagster dev` with the daemon, so the sensor and schedule run; Ctrl-C stops it."""
    settings.prepare_home()
    load_definitions(settings)
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    command = [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-p", str(args.port)]
    return subprocess.call(command, cwd=REPO_ROOT, env=os.environ.copy())


def cmd_serve(args, settings: Settings) -> int:
    """The HTTP intake: signed events in, landed files out for the new_leads sensor; Ctrl-C stops it."""
    from dagster_project.intake.app import serve

    settings.intake.require_secret()  # before importing uvicorn: a missing secret is a one-line error
    serve(settings)
    return 0


def cmd_report(args, settings: Settings) -> int:
    """Print where the outcome report is (the process_outcomes job writes it after each outcome batch)."""
    path = settings.reports_dir / "outcome_report.html"
    if not path.exists():
        raise CliError(
            f"no outcome report yet at {path}: land outcome files in {settings.feedback_dir} and let"
            " process_outcomes run (`leadops dev`)"
        )
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadops", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (accepted anywhere on the line)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    register_override_commands(commands)
    register_identity_commands(commands)
    register_action_commands(commands)
    register_policy_commands(commands)
    register_rules_commands(commands)
    register_backfill_command(commands)
    run = commands.add_parser("run", help="process everything waiting in the landing zone now")
    run.add_argument("--files", nargs="*", help="only these landed file names")
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="load the sample CRM and sample leads, then run")
    demo.set_defaults(handler=cmd_demo)

    land = commands.add_parser("land", help="drop JSON Lines files into the landing zone atomically")
    land.add_argument("files", nargs="+")
    land.set_defaults(handler=cmd_land)

    for name, handler, text in (
        ("events", cmd_events, "every landed event with its fate"),
        ("decisions", cmd_decisions, "the lead_decisions mart"),
    ):
        reader = commands.add_parser(name, help=text)
        reader.add_argument("--format", choices=("csv", "json"), default="csv")
        reader.set_defaults(handler=handler, read_only=True)

    report = commands.add_parser("report", help="print the path of the outcome report (HTML, offline charts)")
    report.set_defaults(handler=cmd_report, read_only=True)

    explain = commands.add_parser("explain", help="one lead's path: events, match, rule, owner, states, CRM")
    explain.add_argument("lead", help="lead id or email address")
    explain.set_defaults(handler=cmd_explain, read_only=True)

    crm = commands.add_parser("crm", help="the embedded CRM")
    crm_commands = crm.add_subparsers(dest="crm_command", required=True)
    crm_import = crm_commands.add_parser("import", help="load owners/accounts/contacts/opportunities CSVs")
    crm_import.add_argument("--owners")
    crm_import.add_argument("--accounts")
    crm_import.add_argument("--contacts")
    crm_import.add_argument("--opportunities")
    crm_import.set_defaults(handler=cmd_crm_import)

    evaluate = commands.add_parser("eval", help="measure identity resolution or intent interpretation")
    eval_commands = evaluate.add_subparsers(dest="eval_command", required=True)
    eval_identity = eval_commands.add_parser("identity", help="person dedupe and account matching quality")
    eval_identity.add_argument("--auto-link", type=float, default=0.95)
    eval_identity.add_argument("--review", type=float, default=0.60)
    eval_identity.set_defaults(handler=cmd_eval_identity)
    eval_intent = eval_commands.add_parser("intent", help="intent accuracy, macro-F1, calibration")
    eval_intent.add_argument("--backend", choices=("local", "openai"), default="local")
    eval_intent.set_defaults(handler=cmd_eval_intent)

    dev = commands.add_parser("dev", help="open the Dagster UI with the daemon (sensor + schedule running)")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(handler=cmd_dev)

    serve = commands.add_parser(
        "serve", help="HTTP intake: POST signed events to /v1/events (LEADOPS_INTAKE_* settings)"
    )
    serve.set_defaults(handler=cmd_serve)
    return parser


# What a command that only reads results needs from the environment: where the data home is.
_READER_VARIABLES = ("LEADOPS_HOME", "DAGSTER_HOME", "LEADOPS_POLICY_DIR", "LEADOPS_ACTOR")


def settings_for(args: argparse.Namespace) -> Settings:
    """Every setting, validated; a command that only reads results (events, decisions, explain, override
    list) warns about a bad unrelated setting (a sensor interval, an LLM option) and goes on."""
    try:
        return Settings.from_env()
    except SettingsError as error:
        if not getattr(args, "read_only", False):
            raise
        print(f"leadops: warning: {error} (ignored: this command only reads results)", file=sys.stderr)
        return Settings.from_env({name: os.environ[name] for name in _READER_VARIABLES if name in os.environ})


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Every error is one line on stderr and a non-zero exit (2: input to fix, 1: anything else);
    `--debug` anywhere on the line adds the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([arg for arg in argv if arg != "--debug"])
    # What LeadOps writes (warehouse, CRM, caches, overrides, landed leads) holds personal data: for this
    # user only. Child processes (`leadops dev`: webserver, daemon, run workers) inherit the mask.
    previous_umask = os.umask(0o077)
    try:
        settings = settings_for(args)
        settings.export_environment()
        return args.handler(args, settings)
    except (CliError, SettingsError) as error:
        if debug:
            traceback.print_exc()
        print(f"leadops: {_one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("leadops: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            traceback.print_exc()
        print(
            f"leadops: {type(error).__name__}: {_one_line(error)}"
            " (`leadops --debug ...` shows the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        os.umask(previous_umask)


if __name__ == "__main__":
    raise SystemExit(main())
