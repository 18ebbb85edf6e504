"""`leadops policy check [--policy DIR]`: a policy folder's problems, one line each, before any run uses it.

The checks are plain Python over the CSVs (assets/decisions/policy_lint.py). Teams without an active owner
are read from the CRM snapshot of the reader copy of the warehouse when there is one (never the live file: a
run may hold it), else from the embedded CRM; with neither, the check says it could not look.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR, Settings

RULE_KINDS_SEED = DBT_PROJECT_DIR / "seeds" / "routing_rule_kinds.csv"


def resolve_policy_dir(value: str) -> Path:
    """As LEADOPS_POLICY_DIR: absolute, else relative to dbt_project/; a path that exists from the current
    directory is taken as it is."""
    path = Path(value)
    if path.is_absolute() or path.is_dir():
        return path
    return DBT_PROJECT_DIR / path


def active_owner_teams(settings: Settings) -> tuple[set[str] | None, str]:
    """Teams with an active owner, and where they were read from (or why they could not be)."""
    reader = settings.reader_warehouse_path
    if reader.is_file():
        import duckdb

        try:
            with duckdb.connect(str(reader), read_only=True) as con:
                rows = con.execute(
                    "select distinct team from crm.owners where coalesce(active, false)"
                ).fetchall()
            return {row[0] for row in rows}, f"the CRM snapshot in {reader}"
        except duckdb.Error as error:
            return None, f"could not read the CRM snapshot in {reader}: {error}"
    if settings.crm.kind == "embedded" and settings.crm_path.is_file():
        from integrations.crm.embedded import EmbeddedCrm

        owners = EmbeddedCrm(settings.crm_path, create=False).read_owners()
        return {owner.team for owner in owners if owner.active}, f"the embedded CRM {settings.crm_path}"
    return None, "no warehouse copy and no embedded CRM: could not check which teams have an active owner"


def cmd_policy_check(args: argparse.Namespace, settings: Settings) -> int:
    from assets.decisions.policy_lint import check_policy, read_policy, read_rule_kinds
    from dagster_project.cli import CliError

    folder = resolve_policy_dir(args.policy or settings.policy_dir)
    if not folder.is_dir():
        raise CliError(f"no policy folder at {folder}")
    teams, owners_source = (None, "skipped (--no-crm)") if args.no_crm else active_owner_teams(settings)
    problems = check_policy(read_policy(folder), read_rule_kinds(RULE_KINDS_SEED), teams)
    for problem in problems:
        print(f"{folder / problem.file}:{problem.line}: {problem.problem}")
    print(f"active owners: {owners_source}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {folder}", file=sys.stderr)
        return 1
    print(f"{folder}: no problems")
    return 0


def register_policy_commands(commands: argparse._SubParsersAction) -> None:
    """Add `leadops policy check` to the CLI's top-level subcommands."""
    policy = commands.add_parser("policy", help="routing policy folders: check one before it routes leads")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    check = sub.add_parser("check", help="rule ids, teams, bands, unreachable rules, catch-all, countries")
    check.add_argument(
        "--policy", help="policy folder (default LEADOPS_POLICY_DIR; relative to dbt_project/)"
    )
    check.add_argument("--no-crm", action="store_true", help="skip the active-owner check (CI has no CRM)")
    check.set_defaults(handler=cmd_policy_check, read_only=True)
