"""`leadops actions list|retry|cancel`: the outbox's dead letters and conflicts, and what to do with them.

Every command opens the live warehouse inside the run lock (dagster_project/run_lock.py), so it waits for a
run in progress instead of breaking it, and sees the outbox as it is now, not as the last reader copy.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from dagster_project.settings import Settings

STATUSES = ("pending", "in_flight", "done", "dead", "conflict", "cancelled", "superseded")


@contextmanager
def _outbox(settings: Settings) -> Iterator[object]:
    import duckdb

    from assets.outbound.outbox import OUTBOX_ACTIONS_DDL
    from dagster_project.cli import CliError, wait_for_warehouse
    from dagster_project.run_lock import RunLockTimeout, describe_this_process, hold_run_lock, run_lock_path

    if not settings.warehouse_path.is_file():
        raise CliError(f"no warehouse at {settings.warehouse_path}: run `leadops run` first")
    try:
        with hold_run_lock(run_lock_path(settings.home), describe_this_process("`leadops actions`")):
            wait_for_warehouse(settings.warehouse_path)
            with duckdb.connect(str(settings.warehouse_path)) as con:
                con.execute(OUTBOX_ACTIONS_DDL)
                yield con
    except RunLockTimeout as error:
        raise CliError(str(error)) from error


def cmd_actions_list(args: argparse.Namespace, settings: Settings) -> int:
    from assets.outbound.outbox import CONFLICT, DEAD, IN_FLIGHT, PENDING, list_actions
    from dagster_project.cli import print_frame

    statuses = args.status or ([DEAD, CONFLICT, PENDING, IN_FLIGHT] if not args.all else None)
    with _outbox(settings) as con:
        frame = list_actions(con, statuses, args.lead)
        conflicts = con.execute(
            "select lead_id, field, crm_value, leadops_value, changed_by, changed_at, action_id"
            " from ops.crm_conflicts order by detected_at desc"
        ).df()
    if frame.empty:
        print("no outbox actions" + (" in these states" if statuses else ""))
    else:
        print_frame(frame, args.format)
    if not conflicts.empty and (statuses is None or CONFLICT in statuses):
        print("\nconflicts (a person changed it in the CRM; LeadOps left it as they set it):")
        print_frame(conflicts, args.format)
    return 0


def cmd_actions_retry(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "retry")


def cmd_actions_cancel(args: argparse.Namespace, settings: Settings) -> int:
    return _change(args, settings, "cancel")


def _change(args: argparse.Namespace, settings: Settings, what: str) -> int:
    from assets.outbound.outbox import UnknownAction, cancel_action, retry_action, utc_now
    from dagster_project.cli import CliError

    change = retry_action if what == "retry" else cancel_action
    with _outbox(settings) as con:
        for action_id in args.action_ids:
            try:
                change(con, action_id, utc_now())
            except UnknownAction as error:
                raise CliError(str(error)) from error
            print(
                f"{action_id}: "
                + ("due now; the retry schedule sends it within a minute" if what == "retry" else "cancelled")
            )
    return 0


def register_action_commands(commands: argparse._SubParsersAction) -> None:
    """Add `leadops actions …` to the CLI's top-level subcommands."""
    actions = commands.add_parser(
        "actions", help="the outbox: side effects waiting, parked (dead letters) or in conflict"
    )
    sub = actions.add_subparsers(dest="actions_command", required=True)
    listing = sub.add_parser("list", help="dead letters, conflicts, pending and in-flight actions")
    listing.add_argument("--status", action="append", choices=STATUSES, help="only these (repeatable)")
    listing.add_argument("--all", action="store_true", help="every action, done ones too")
    listing.add_argument("--lead", help="one lead's actions")
    listing.add_argument("--format", choices=("csv", "json"), default="csv")
    listing.set_defaults(handler=cmd_actions_list)
    retry = sub.add_parser("retry", help="send a dead or conflicted action again, attempts counted afresh")
    retry.add_argument("action_ids", nargs="+", metavar="ACTION_ID")
    retry.set_defaults(handler=cmd_actions_retry)
    cancel = sub.add_parser("cancel", help="never send this action; the lead's later actions go on")
    cancel.add_argument("action_ids", nargs="+", metavar="ACTION_ID")
    cancel.set_defaults(handler=cmd_actions_cancel)
