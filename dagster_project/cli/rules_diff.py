"""`leadops rules diff --base <git ref>`: what a rule change would do to the leads already decided.

The replay itself (assets/decisions/replay.py) runs the base's and the working tree's dbt project in
throw-away copies of the reader warehouse; this module parses the arguments and prints the result.
Exit code 1 with `--fail-on-change` when any lead changes, so CI can hold a rule change for review.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from dagster_project.settings import REPO_ROOT, Settings

# Per-lead lines printed before "... and N more": the summaries carry the rest.
MAX_LEAD_LINES = 200


def cmd_rules_diff(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from assets.decisions.replay import DbtRunner, ReplayError, replay_rules_diff
    from dagster_project.cli import CliError

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError as error:
            raise CliError(f"--since must be a date (YYYY-MM-DD), got {args.since!r}") from error
    run_dbt = DbtRunner(
        executable=str(Path(sys.executable).with_name("dbt")),
        policy_dir=settings.policy_dir,
        base_environment=dict(os.environ),
    )
    try:
        diff = replay_rules_diff(
            repo_root=REPO_ROOT,
            reader_warehouse=settings.reader_warehouse_path,
            base_ref=args.base,
            run_dbt=run_dbt,
            since=since,
            progress=lambda message: print(f"leadops: {message}", file=sys.stderr),
        )
    except ReplayError as error:
        raise CliError(str(error)) from error
    print(render_diff(diff))
    return 1 if args.fail_on_change and diff.changes else 0


def render_diff(diff) -> str:
    out = [
        f"Rules diff: {diff.base_ref} → working tree, {diff.leads_replayed} leads replayed",
        f"  {len(diff.changes)} change(s): {diff.owner_changes} owner,"
        f" {diff.disposition_changes} disposition;"
        f" {diff.reseated} round-robin seat(s) moved only by the dealing order (not counted)",
    ]
    if diff.rules_identical:
        out.append(f"  the rules and seeds equal {diff.base_ref}'s: no lead was re-decided, none can move")
        return "\n".join(out)
    if diff.leads_without_history:
        out.append(
            f"  note: {diff.leads_without_history} lead(s) arrived before any CRM snapshot history and were"
            " replayed against the current CRM snapshot"
        )
    if diff.changes:
        out.append("")
        out.append(f"  {'lead':<24} {'segment':<11} before → after (owner/team/disposition/rule)  crm as of")
        for change in diff.changes[:MAX_LEAD_LINES]:
            before, after = (_decision(change.before), _decision(change.after))
            out.append(
                f"  {change.lead_id:<24} {change.segment or '-':<11} {before} → {after}  {change.crm_as_of}"
            )
        if len(diff.changes) > MAX_LEAD_LINES:
            out.append(f"  ... and {len(diff.changes) - MAX_LEAD_LINES} more")
        for title, key in (
            ("by team", lambda c: f"{c.before.get('team') or '-'} → {c.after.get('team') or '-'}"),
            (
                "by rule (why)",
                lambda c: f"{c.before.get('rule_id') or '-'} → {c.after.get('rule_id') or '-'}",
            ),
            ("by segment", lambda c: c.segment or "-"),
        ):
            out.append(f"\n  {title}:")
            out += [f"    {label:<40} {count:>6}" for label, count in diff.summary(key)]
    if diff.accuracy:
        accuracy = diff.accuracy
        out.append(
            f"\n  routing accuracy (from outcomes, {accuracy['routed_leads']} routed leads):"
            f" {accuracy['accuracy_before']:.1%} → {accuracy['accuracy_after']:.1%} estimated"
            f" ({accuracy['fixed']} moved onto the team a person later chose, {accuracy['broken']} moved off"
            " a team nobody corrected)"
        )
    else:
        out.append("\n  routing accuracy: no reassignment outcomes recorded, no estimate")
    return "\n".join(out)


def _decision(decision) -> str:
    return "/".join(str(decision.get(name) or "-") for name in ("owner_id", "team", "disposition", "rule_id"))


def register_rules_commands(commands: argparse._SubParsersAction) -> None:
    """Add `leadops rules diff` to the CLI's top-level subcommands."""
    rules = commands.add_parser("rules", help="routing rules: what a change would do to past leads")
    sub = rules.add_subparsers(dest="rules_command", required=True)
    diff = sub.add_parser("diff", help="replay past leads under a git ref's rules and the working tree's")
    diff.add_argument("--base", required=True, help="git ref whose dbt_project is the 'before' (e.g. main)")
    diff.add_argument("--since", help="only leads that arrived on or after this date (YYYY-MM-DD)")
    diff.add_argument("--fail-on-change", action="store_true", help="exit 1 when any lead changes (CI)")
    diff.set_defaults(handler=cmd_rules_diff, read_only=True)
