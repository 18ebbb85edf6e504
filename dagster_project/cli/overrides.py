"""`leadops override …` and `leadops identity unmerge`: operators record decisions that win over automation.

The run is the warehouse's only writer, so these commands append one validated line to
`$LEADOPS_HOME/overrides/overrides.csv`; the next run (`leadops run`, or the overrides sensor under the
daemon) loads it. Leads, owners, accounts, events and teams are checked against the read-only copy of the
warehouse (its CRM snapshot for owners and accounts): an id that copy does not know is refused with the
reason, since an override of a mistyped id would silently apply to nothing. When the ids cannot be checked
yet (no run has published results, or the table is not there), the command says so and records the
override; `--allow-unknown` records one for an id the next run is expected to bring.

Wire into `dagster_project.cli.build_parser`:
    register_override_commands(commands)
    register_identity_commands(commands)
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dagster_project.settings import Settings
from integrations.overrides_file.contract import (
    CORRECTABLE_FIELDS,
    Action,
    InvalidOverride,
    Override,
    OverridesFileError,
    ParsedOverrides,
    Scope,
    format_timestamp,
    new_override_id,
    parse_overrides,
    validate_override,
)
from integrations.overrides_file.store import append_override, overrides_path, read_snapshot

ACTOR_ENV = "LEADOPS_ACTOR"
INPUT_ERROR_EXIT_CODE = 2

Handler = Callable[[argparse.Namespace, Settings], int]


class OverrideInputError(Exception):
    """Input the operator can fix; printed without a traceback, exit code 2, nothing written."""


def _reports_input_errors(handler: Handler) -> Handler:
    def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except (OverrideInputError, InvalidOverride, OverridesFileError) as error:
            print(f"leadops: {error}", file=sys.stderr)
            return INPUT_ERROR_EXIT_CODE

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


# ---------------------------------------------------------------- who, and the row to write


def resolve_actor(explicit: str | None) -> str:
    """--actor (which the CLI fills from $LEADOPS_ACTOR when absent), else the OS login: every override
    names the person behind it."""
    if explicit and explicit.strip():
        return explicit.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError) as error:
        raise OverrideInputError(f"who is acting? pass --actor or set {ACTOR_ENV}") from error


def build_override(
    *,
    actor: str | None,
    scope: Scope,
    target_id: str | None,
    action: Action,
    value: str | None,
    reason: str,
    now: datetime | None = None,
) -> Override:
    """The override as the file will hold it, through the same validator the run applies."""
    created_at = now or datetime.now(UTC)
    raw = {
        "override_id": new_override_id(),
        "created_at": format_timestamp(created_at),
        "actor": resolve_actor(actor),
        "scope": scope.value,
        "target_id": target_id or "",
        "action": action.value,
        "value": value or "",
        "reason": reason,
    }
    return validate_override(raw)


def _file_of(settings: Settings) -> Path:
    return overrides_path(settings.home)


def _read_file(settings: Settings) -> ParsedOverrides:
    return parse_overrides(read_snapshot(_file_of(settings)).text())


# ---------------------------------------------------------------- warehouse look-ups


@dataclass(frozen=True)
class TargetCheck:
    """What the last published results say about the ids an override names."""

    problems: list[str]  # ids the results know to be wrong: the override is refused
    unchecked: list[str]  # what could not be checked, and why: the override is recorded


def check_targets(settings: Settings, override: Override) -> TargetCheck:
    checks = _lookups_for(override)
    if not checks:
        return TargetCheck([], [])
    reader_path = settings.reader_warehouse_path
    if not reader_path.exists():
        return TargetCheck(
            [], [f"ids not checked yet: no run has published results ({reader_path} does not exist)"]
        )
    import duckdb

    problems: list[str] = []
    unchecked: list[str] = []
    try:
        with duckdb.connect(str(reader_path), read_only=True) as con:
            for query, parameter, problem in checks:
                try:
                    row = con.execute(query, [parameter]).fetchone()
                except duckdb.CatalogException:
                    table = query.split(" from ", 1)[1].split()[0]
                    unchecked.append(f"{parameter} not checked: the last published results have no {table}")
                    continue
                if row is None or row[0] is False:
                    problems.append(problem)
    except duckdb.Error as error:
        return TargetCheck([], [f"ids not checked: could not read {reader_path} ({error})"])
    return TargetCheck(problems, unchecked)


def _lookups_for(override: Override) -> list[tuple[str, str, str]]:
    """(query returning a row when fine, parameter, problem otherwise) for each id the override names."""
    later = "check the id, or pass --allow-unknown if the next run brings it"
    lookups: list[tuple[str, str, str]] = []
    if override.action is Action.REVOKE:
        return lookups  # a mistaken override must stay revocable, whatever it named
    target = override.target_id or ""
    if override.scope is Scope.LEAD:
        lookups.append(
            (
                "select 1 from marts.lead_decisions where lead_id = ?",
                target,
                f"no lead {target} in the last published results; {later}",
            )
        )
    elif override.scope is Scope.ACCOUNT:
        lookups.append(
            (
                "select 1 from crm.accounts where account_id = ?",
                target,
                f"no CRM account {target} in the last snapshot; {later}",
            )
        )
    elif override.scope is Scope.EVENT:
        lookups.append(
            (
                "select 1 from raw.inbound_events where event_id = ?",
                target,
                f"no accepted event {target} in the last published results; {later}",
            )
        )
    value = override.value or ""
    if override.action is Action.REROUTE_OWNER:
        lookups.append(
            (
                "select active from crm.owners where owner_id = ?",
                value,
                f"owner {value} is unknown or inactive in the last CRM snapshot",
            )
        )
    elif override.action is Action.REROUTE_TEAM:
        lookups.append(
            (
                "select 1 from rules.teams where team = ?",
                value,
                f"team {value} is not in the routing policy's teams seed",
            )
        )
    return lookups


# ---------------------------------------------------------------- what happens next


def describe_effect(override: Override, revoked: Override | None = None) -> str:
    """One sentence for the operator: what the next run does because of this override."""
    target = override.target_id
    subject = {
        Scope.LEAD: f"lead {target}",
        Scope.ACCOUNT: f"every lead of account {target}",
        Scope.GLOBAL: "every lead",
        Scope.EVENT: f"event {target}",
    }[override.scope]
    match override.action:
        case Action.REROUTE_OWNER:
            return f"{subject} is assigned to owner {override.value}, whatever the routing rules say."
        case Action.REROUTE_TEAM:
            return f"{subject} is routed to team {override.value}, whatever the routing rules say."
        case Action.RECLASSIFY_INTENT:
            return f"{subject} has intent {override.value}, replacing the automatic interpretation."
        case Action.DISQUALIFY:
            return f"{subject} is disqualified, whatever the rules decided."
        case Action.PAUSE_AUTOMATION:
            return f"automation is paused for {subject} until `leadops override resume` lifts it."
        case Action.RESUME_AUTOMATION:
            return f"the pause on {subject} is lifted; automation decides again."
        case Action.CORRECT_FIELD:
            field_name, corrected = override.corrected_field or ("?", "?")
            return f"{subject} uses {field_name} = {corrected!r} instead of the submitted value."
        case Action.UNMERGE:
            return f"{subject} is split off the person it was merged into and resolved again on its own."
        case Action.REVOKE:
            what = f"{revoked.action} on {subject}" if revoked else subject
            return (
                f"override {override.value} ({what}) no longer applies; an earlier override of the same"
                " kind, or else the automation, decides again."
            )
    raise AssertionError(f"unhandled action {override.action}")


def _record(
    settings: Settings,
    override: Override,
    revoked: Override | None = None,
    *,
    allow_unknown: bool = False,
) -> int:
    checked = check_targets(settings, override)
    if checked.problems and not allow_unknown:
        raise OverrideInputError("; ".join(checked.problems) + " (nothing recorded)")
    for note in checked.unchecked + checked.problems:
        print(f"warning: {note}", file=sys.stderr)
    path = _file_of(settings)
    append_override(path, override)
    print(f"Recorded {override.override_id} in {path} ({override.action} by {override.actor}).")
    print(f"On the next run: {describe_effect(override, revoked)}")
    print(
        "It applies on the next run: `leadops run` now, or the overrides sensor starts one within seconds"
        f" while the daemon runs (`leadops dev`). The run logs the change as a transition by"
        f" {override.actor}; `leadops explain` shows it."
    )
    return 0


# ---------------------------------------------------------------- commands


@_reports_input_errors
def cmd_override_reroute(args: argparse.Namespace, settings: Settings) -> int:
    action, value = (Action.REROUTE_OWNER, args.owner) if args.owner else (Action.REROUTE_TEAM, args.team)
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=Scope.LEAD,
        target_id=args.lead,
        action=action,
        value=value,
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


@_reports_input_errors
def cmd_override_reclassify(args: argparse.Namespace, settings: Settings) -> int:
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=Scope.LEAD,
        target_id=args.lead,
        action=Action.RECLASSIFY_INTENT,
        value=args.intent,
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


@_reports_input_errors
def cmd_override_disqualify(args: argparse.Namespace, settings: Settings) -> int:
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=Scope.LEAD,
        target_id=args.lead,
        action=Action.DISQUALIFY,
        value=None,
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


def _pause_scope(args: argparse.Namespace) -> tuple[Scope, str | None]:
    if args.all_leads:
        return Scope.GLOBAL, None
    if args.account:
        return Scope.ACCOUNT, args.account
    return Scope.LEAD, args.lead


@_reports_input_errors
def cmd_override_pause(args: argparse.Namespace, settings: Settings) -> int:
    scope, target_id = _pause_scope(args)
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=scope,
        target_id=target_id,
        action=Action.PAUSE_AUTOMATION,
        value=None,
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


@_reports_input_errors
def cmd_override_resume(args: argparse.Namespace, settings: Settings) -> int:
    scope, target_id = _pause_scope(args)
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=scope,
        target_id=target_id,
        action=Action.RESUME_AUTOMATION,
        value=None,
        reason=args.reason,
    )
    if not is_paused(_read_file(settings), scope, target_id):
        where = f"{scope} {target_id}" if target_id else str(scope)
        print(f"warning: no pause is in force for {where}; recording the resume anyway", file=sys.stderr)
    return _record(settings, override, allow_unknown=args.allow_unknown)


def is_paused(parsed: ParsedOverrides, scope: Scope, target_id: str | None) -> bool:
    """Whether the latest non-revoked pause/resume for exactly this scope and target is a pause."""
    revoked = parsed.revoked_by()
    latest: tuple[datetime, int, Action] | None = None
    for line_number, override in parsed.accepted:
        if (
            override.action in (Action.PAUSE_AUTOMATION, Action.RESUME_AUTOMATION)
            and (override.scope, override.target_id) == (scope, target_id)
            and override.override_id not in revoked
        ):
            candidate = (override.created_at, line_number, override.action)
            latest = candidate if latest is None or candidate[:2] > latest[:2] else latest
    return latest is not None and latest[2] is Action.PAUSE_AUTOMATION


@_reports_input_errors
def cmd_override_correct(args: argparse.Namespace, settings: Settings) -> int:
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=Scope.LEAD,
        target_id=args.lead,
        action=Action.CORRECT_FIELD,
        value=f"{args.field}={args.value}",
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


@_reports_input_errors
def cmd_override_revoke(args: argparse.Namespace, settings: Settings) -> int:
    parsed = _read_file(settings)
    target = parsed.find(args.override_id)
    if target is None:
        raise OverrideInputError(
            f"no valid override {args.override_id} in {_file_of(settings)}; see `leadops override list`"
        )
    already = parsed.revoked_by().get(target.override_id)
    if already:
        raise OverrideInputError(f"{target.override_id} is already revoked by {already}")
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=target.scope,
        target_id=target.target_id,
        action=Action.REVOKE,
        value=target.override_id,
        reason=args.reason,
    )
    return _record(settings, override, revoked=target)


@_reports_input_errors
def cmd_override_list(args: argparse.Namespace, settings: Settings) -> int:
    path = _file_of(settings)
    parsed = _read_file(settings)
    print(format_override_list(parsed, target_id=args.target))
    if not parsed.accepted and not parsed.rejected:
        print(f"(no overrides in {path})")
    return 1 if parsed.rejected else 0


def format_override_list(parsed: ParsedOverrides, target_id: str | None = None) -> str:
    """Every valid override with its status, then every rejected line with its reason."""
    revoked = parsed.revoked_by()
    header = ("override_id", "created_at", "actor", "scope", "target", "action", "value", "status", "reason")
    rows = [header]
    for _, override in parsed.accepted:
        if target_id and override.target_id != target_id:
            continue
        if override.action is Action.REVOKE:
            status = f"revokes {override.value}"
        elif override.override_id in revoked:
            status = f"REVOKED by {revoked[override.override_id]}"
        else:
            status = "active"
        rows.append(
            (
                override.override_id,
                format_timestamp(override.created_at),
                override.actor,
                override.scope.value,
                override.target_id or "-",
                override.action.value,
                override.value or "-",
                status,
                override.reason,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    if parsed.rejected:
        lines.append("")
        lines.append(f"Rejected lines ({len(parsed.rejected)}), ignored by the run until fixed:")
        lines += [f"  line {line.line_number}: {line.reason}" for line in parsed.rejected]
    return "\n".join(line.rstrip() for line in lines)


@_reports_input_errors
def cmd_identity_unmerge(args: argparse.Namespace, settings: Settings) -> int:
    override = build_override(
        actor=args.actor or settings.override_actor,
        scope=Scope.EVENT,
        target_id=args.event,
        action=Action.UNMERGE,
        value=None,
        reason=args.reason,
    )
    return _record(settings, override, allow_unknown=args.allow_unknown)


# ---------------------------------------------------------------- explain


def explain_override_lines(con, lead_id: str, settings: Settings) -> list[str]:
    """Lines for `leadops explain`: the overrides the last run loaded for this lead (its own, its account's,
    its events' and global ones; revoked ones marked) and those in the file the next run has still to load.

    `con` is the read-only reader copy; a warehouse built before overrides existed shows the file's view.
    """
    import duckdb

    try:
        rows = con.execute(EXPLAIN_OVERRIDES_QUERY, [lead_id, lead_id, lead_id]).fetchall()
    except duckdb.CatalogException:
        rows = []
    revoked = {value: override_id for override_id, *_, action, value, _ in rows if action == Action.REVOKE}
    lines: list[str] = []
    for override_id, created_at, actor, scope, target_id, action, value, reason in rows:
        if action == Action.REVOKE:
            continue
        mark = f" (revoked by {revoked[override_id]})" if override_id in revoked else ""
        where = f"{scope} {target_id}" if target_id else scope
        shown_value = f" {value}" if value else ""
        lines.append(f"    {override_id} {action}{shown_value} on {where} by {actor} at {created_at}{mark}")
        lines.append(f"      reason: {reason}")
    loaded_ids = {row[0] for row in rows}
    for _, override in _read_file(settings).accepted:
        concerns_lead = override.scope is Scope.GLOBAL or (
            override.scope is Scope.LEAD and override.target_id == lead_id
        )
        if concerns_lead and override.override_id not in loaded_ids:
            shown_value = f" {override.value}" if override.value else ""
            lines.append(
                f"    {override.override_id} {override.action}{shown_value} on {override.scope}"
                f" by {override.actor}: recorded, applies on the next run"
            )
    return ["  overrides:", *lines] if lines else ["  overrides: none"]


EXPLAIN_OVERRIDES_QUERY = """
select o.override_id, o.created_at, o.actor, o.scope, o.target_id, o.action, o.value, o.reason
from raw.operator_overrides as o
where (o.scope = 'lead' and o.target_id = ?)
    or o.scope = 'global'
    or (o.scope = 'account' and o.target_id in (
        select account_id from marts.lead_decisions where lead_id = ?))
    or (o.scope = 'event' and o.target_id in (select event_id from marts.lead_events where lead_id = ?))
order by o.created_at, o.line_number
"""


# ---------------------------------------------------------------- argparse wiring


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", required=True, help="why the automation's answer is overridden")
    parser.add_argument("--actor", help=f"who decides (default: ${ACTOR_ENV}, else your login)")
    parser.add_argument(
        "--allow-unknown",
        action="store_true",
        help="record it even if the last published results do not know the id (the next run brings it)",
    )


def _add_target_choice(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--lead", help="one lead id")
    target.add_argument("--account", help="every lead of this CRM account id")
    target.add_argument("--global", dest="all_leads", action="store_true", help="every lead")


def register_override_commands(commands: argparse._SubParsersAction) -> None:
    """Add `leadops override …` to the CLI's top-level subcommands."""
    override = commands.add_parser(
        "override",
        help="record a human decision that wins over automation on every later run",
        description=__doc__.split("\n\n")[0],
    )
    actions = override.add_subparsers(dest="override_command", required=True)

    reroute = actions.add_parser("reroute", help="send a lead to an owner or a team")
    reroute.add_argument("--lead", required=True)
    owner_or_team = reroute.add_mutually_exclusive_group(required=True)
    owner_or_team.add_argument("--owner", help="CRM owner id")
    owner_or_team.add_argument("--team", help="team from the routing policy's teams seed")
    _add_common(reroute)
    reroute.set_defaults(handler=cmd_override_reroute)

    reclassify = actions.add_parser("reclassify", help="set a lead's intent")
    reclassify.add_argument("--lead", required=True)
    reclassify.add_argument(
        "--intent", required=True, help="an intent of the taxonomy (a wrong one prints the list)"
    )
    _add_common(reclassify)
    reclassify.set_defaults(handler=cmd_override_reclassify)

    disqualify = actions.add_parser("disqualify", help="disqualify a lead")
    disqualify.add_argument("--lead", required=True)
    _add_common(disqualify)
    disqualify.set_defaults(handler=cmd_override_disqualify)

    for name, handler, text in (
        ("pause", cmd_override_pause, "pause automation for a lead, an account or everything"),
        ("resume", cmd_override_resume, "lift a pause"),
    ):
        parser = actions.add_parser(name, help=text)
        _add_target_choice(parser)
        _add_common(parser)
        parser.set_defaults(handler=handler)

    correct = actions.add_parser("correct", help="correct one field of a lead")
    correct.add_argument("--lead", required=True)
    correct.add_argument("--field", required=True, help="one of: " + ", ".join(CORRECTABLE_FIELDS))
    correct.add_argument("--value", required=True)
    _add_common(correct)
    correct.set_defaults(handler=cmd_override_correct)

    revoke = actions.add_parser("revoke", help="cancel an earlier override")
    revoke.add_argument("override_id")
    _add_common(revoke)
    revoke.set_defaults(handler=cmd_override_revoke)

    listing = actions.add_parser("list", help="every override, revoked ones marked, and rejected lines")
    listing.add_argument("--target", help="only overrides of this lead/account/event id")
    listing.set_defaults(handler=cmd_override_list, read_only=True)


def register_identity_commands(commands: argparse._SubParsersAction) -> None:
    """Add `leadops identity unmerge` to the CLI's top-level subcommands."""
    identity = commands.add_parser("identity", help="operator corrections to identity resolution")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True)
    unmerge = identity_commands.add_parser(
        "unmerge", help="split an event off the person it was merged into (undo a wrong merge)"
    )
    unmerge.add_argument("--event", required=True, help="the event id to split off")
    _add_common(unmerge)
    unmerge.set_defaults(handler=cmd_identity_unmerge)
