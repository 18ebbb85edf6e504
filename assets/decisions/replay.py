"""Replay routing on historical leads under two versions of the rules and say what would change.

`leadops rules diff --base <ref>` calls `replay_rules_diff`: the dbt project (models + policy seeds) as of a
git ref and as in the working tree each re-decide every lead from scratch in a throw-away copy of the reader
warehouse, never the live file. Ownership, roster and accounts are put back as they were when each lead
arrived, from the dbt snapshots of the CRM snapshot (dbt_project/snapshots); leads older than any snapshot
history are decided against the current CRM snapshot, and the result says how many.

Round robin deals a team's leads in arrival order, so one lead more in a team moves the seat of every later
lead of that team. A seat moved that way is counted apart (`reseated`) rather than as a routing change:
the rule, the team and the disposition are what a rule change decides; the seat within a team is load
balancing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path

import duckdb

# The columns a decision is compared on; `owner_id` also, but see `reseated`.
DECISION_COLUMNS = ("owner_id", "team", "disposition", "rule_id")
ROUND_ROBIN_RULES = frozenset({"partner_referral", "special_case", "territory_segment"})
# dbt snapshots of the CRM snapshot (dbt_project/snapshots/staging/crm/_crm__snapshots.yml) and the raw
# tables they stand in for during a replay.
SNAPSHOT_TABLES = {
    "crm.owners": "snapshots.crm_owners_snapshot",
    "crm.accounts": "snapshots.crm_accounts_snapshot",
}


class ReplayError(RuntimeError):
    """The replay could not run (unknown git ref, dbt failed): the message says which step."""


@dataclass(frozen=True)
class LeadChange:
    lead_id: str
    segment: str | None
    source: str | None
    crm_as_of: str
    before: Mapping[str, str | None]
    after: Mapping[str, str | None]

    @property
    def changed_columns(self) -> tuple[str, ...]:
        return tuple(name for name in DECISION_COLUMNS if self.before.get(name) != self.after.get(name))


@dataclass
class RulesDiff:
    base_ref: str
    leads_replayed: int
    changes: list[LeadChange]
    reseated: int
    leads_without_history: int
    crm_epochs: int
    accuracy: Mapping[str, float | int] | None = None
    # The base's rules and seeds equal the working tree's: nothing was re-decided, nothing can move.
    rules_identical: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def owner_changes(self) -> int:
        return sum(1 for change in self.changes if "owner_id" in change.changed_columns)

    @property
    def disposition_changes(self) -> int:
        return sum(1 for change in self.changes if "disposition" in change.changed_columns)

    def summary(self, key: Callable[[LeadChange], str]) -> list[tuple[str, int]]:
        return Counter(key(change) for change in self.changes).most_common()


# ---------------------------------------------------------------- rules as of a git ref


def export_dbt_project(repo_root: Path, ref: str | None, destination: Path) -> Path:
    """The dbt project as of `ref` (None: the working tree, uncommitted edits included) under destination."""
    target = destination / "dbt_project"
    if ref is None:
        shutil.copytree(
            repo_root / "dbt_project",
            target,
            ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", ".user.yml"),
        )
        return target
    archive = subprocess.run(
        ["git", "-C", str(repo_root), "archive", "--format=tar", ref, "dbt_project"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise ReplayError(f"git archive {ref}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return target


def project_digest(project_dir: Path) -> str:
    """One hash over every file's relative path and bytes: equal digests mean the same rules and seeds."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(project_dir).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


# ---------------------------------------------------------------- point in time


def crm_epochs(con: duckdb.DuckDBPyConnection) -> list[datetime]:
    """The moments the snapshotted CRM changed, oldest first; empty without snapshot history."""
    starts: set[datetime] = set()
    for snapshot in SNAPSHOT_TABLES.values():
        schema, table = snapshot.split(".")
        if _table_exists(con, schema, table):
            starts.update(
                value
                for (value,) in con.execute(f"select distinct dbt_valid_from from {snapshot}").fetchall()
            )
    return sorted(starts)


def epoch_of(arrived_at: datetime, epochs: list[datetime]) -> datetime | None:
    """The last CRM state seen at or before a lead arrived; None when no snapshot is that old."""
    current = None
    for start in epochs:
        if start <= arrived_at:
            current = start
        else:
            break
    return current


def restore_crm_as_of(
    con: duckdb.DuckDBPyConnection, as_of: datetime | None, current: Mapping[str, str]
) -> None:
    """Put crm.owners and crm.accounts back as they were at `as_of` (None: the current CRM snapshot)."""
    for raw, snapshot in SNAPSHOT_TABLES.items():
        if as_of is None:
            con.execute(f"create or replace table {raw} as select * from {current[raw]}")
            continue
        columns = [column[0] for column in con.execute(f"select * from {current[raw]} limit 0").description]
        select = ", ".join(columns)
        con.execute(
            f"create or replace table {raw} as select {select} from {snapshot}"
            " where dbt_valid_from <= ? and (dbt_valid_to is null or dbt_valid_to > ?)",
            [as_of, as_of],
        )


# ---------------------------------------------------------------- one side


@dataclass(frozen=True)
class DbtRunner:
    """How to run dbt: the executable and the environment every call shares (policy dir, telemetry off)."""

    executable: str
    policy_dir: str
    base_environment: Mapping[str, str]

    def __call__(self, project_dir: Path, warehouse: Path, *args: str) -> None:
        environment = {
            **self.base_environment,
            "LEADOPS_WAREHOUSE_PATH": str(warehouse),
            "LEADOPS_POLICY_DIR": self.policy_dir,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        command = [
            self.executable,
            *args,
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--quiet",
        ]
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise ReplayError(f"dbt {args[0]} in {project_dir.parent.name} failed:\n{tail}")


def decide_side(
    project_dir: Path,
    warehouse: Path,
    groups: Mapping[datetime | None, list[str]],
    run_dbt: DbtRunner,
) -> dict[str, dict[str, str | None]]:
    """Every lead's decision under one side's rules, each decided against the CRM as of its group."""
    decided: dict[str, dict[str, str | None]] = {}
    for index, (as_of, lead_ids) in enumerate(groups.items()):
        with duckdb.connect(str(warehouse)) as con:
            restore_crm_as_of(con, as_of, {raw: _current_name(raw) for raw in SNAPSHOT_TABLES})
        # --full-refresh: lead_decisions is incremental and keeps earlier decisions; a replay re-decides all.
        # The first pass also loads this side's seeds, in the same dbt invocation (one start-up and parse
        # fewer); snapshots are not rebuilt, they are the history the replay reads.
        step = ("build", "--resource-type", "seed", "--resource-type", "model") if index == 0 else ("run",)
        run_dbt(project_dir, warehouse, *step, "--full-refresh", "--select", "+lead_decisions")
        wanted = set(lead_ids)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(
                f"select lead_id, {', '.join(DECISION_COLUMNS)}, segment, source from marts.lead_decisions"
            ).fetchall()
        for lead_id, *values in rows:
            if lead_id in wanted:
                decided[lead_id] = dict(zip((*DECISION_COLUMNS, "segment", "source"), values, strict=True))
    return decided


def _current_name(raw: str) -> str:
    return f"replay_current.{raw.split('.')[1]}"


@contextmanager
def warehouse_copy(reader_path: Path, destination: Path) -> Iterator[Path]:
    """A private copy of the published reader copy, with the current CRM snapshot kept aside."""
    shutil.copyfile(reader_path, destination)
    os.chmod(destination, 0o600)
    with duckdb.connect(str(destination)) as con:
        con.execute("create schema if not exists replay_current")
        for raw in SNAPSHOT_TABLES:
            con.execute(f"create or replace table {_current_name(raw)} as select * from {raw}")
    yield destination


# ---------------------------------------------------------------- the diff


def replay_rules_diff(
    *,
    repo_root: Path,
    reader_warehouse: Path,
    base_ref: str,
    run_dbt: DbtRunner,
    since: datetime | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> RulesDiff:
    if not reader_warehouse.exists():
        raise ReplayError(f"no results yet at {reader_warehouse}: run the pipeline first")
    with tempfile.TemporaryDirectory(prefix="leadops-rules-diff-") as scratch_name:
        scratch = Path(scratch_name)
        with duckdb.connect(str(reader_warehouse), read_only=True) as con:
            leads = con.execute(
                "select lead_id, first_received_at from marts.lead_decisions"
                " where ? is null or first_received_at >= ? order by first_received_at, lead_id",
                [since, since],
            ).fetchall()
            epochs = crm_epochs(con)
            outcomes = _reassignment_targets(con)
        groups: dict[datetime | None, list[str]] = {}
        for lead_id, arrived_at in leads:
            groups.setdefault(epoch_of(arrived_at, epochs), []).append(lead_id)
        projects = {}
        for label, ref in (("base", base_ref), ("head", None)):
            progress(f"{label}: exporting rules ({ref or 'working tree'})")
            projects[label] = export_dbt_project(repo_root, ref, scratch / label)
        if project_digest(projects["base"]) == project_digest(projects["head"]):
            progress(f"the rules equal {base_ref}'s: nothing to replay")
            return RulesDiff(
                base_ref=base_ref,
                leads_replayed=len(leads),
                changes=[],
                reseated=0,
                leads_without_history=len(groups.get(None, [])),
                crm_epochs=len(groups),
                rules_identical=True,
            )
        sides = {}
        for label, project in projects.items():
            with warehouse_copy(reader_warehouse, scratch / f"{label}.duckdb") as copy:
                progress(f"{label}: re-deciding {len(leads)} leads in {len(groups)} CRM state(s)")
                sides[label] = decide_side(project, copy, groups, run_dbt)
    arrived = {lead_id: epoch_of(at, epochs) for lead_id, at in leads}
    changes, reseated = _compare(sides["base"], sides["head"], arrived)
    return RulesDiff(
        base_ref=base_ref,
        leads_replayed=len(leads),
        changes=changes,
        reseated=reseated,
        leads_without_history=len(groups.get(None, [])),
        crm_epochs=len(groups),
        accuracy=estimate_accuracy(sides["base"], sides["head"], outcomes),
    )


def _compare(
    base: Mapping[str, Mapping[str, str | None]],
    head: Mapping[str, Mapping[str, str | None]],
    arrived: Mapping[str, datetime | None],
) -> tuple[list[LeadChange], int]:
    changes, reseated = [], 0
    for lead_id in sorted(base.keys() | head.keys()):
        before, after = base.get(lead_id, {}), head.get(lead_id, {})
        differs = [name for name in DECISION_COLUMNS if before.get(name) != after.get(name)]
        if not differs:
            continue
        if differs == ["owner_id"] and before.get("rule_id") in ROUND_ROBIN_RULES:
            reseated += 1
            continue
        as_of = arrived.get(lead_id)
        changes.append(
            LeadChange(
                lead_id=lead_id,
                segment=after.get("segment") or before.get("segment"),
                source=after.get("source") or before.get("source"),
                crm_as_of=as_of.isoformat(sep=" ") if as_of else "current",
                before=before,
                after=after,
            )
        )
    return changes, reseated


# ---------------------------------------------------------------- outcomes


def _reassignment_targets(con: duckdb.DuckDBPyConnection) -> dict[str, str | None] | None:
    """Per lead a person reassigned, the team of the owner they gave it to (first reassignment)."""
    if not _table_exists(con, "raw", "outcome_events"):
        return None
    rows = con.execute(
        "select e.lead_id, o.team from raw.outcome_events as e left join crm.owners as o"
        " on e.to_owner_id = o.owner_id where e.kind = 'owner_reassigned' and e.actor_type = 'person'"
        " and e.lead_id is not null"
        " qualify row_number() over (partition by e.lead_id order by e.occurred_at) = 1"
    ).fetchall()
    return dict(rows)


def estimate_accuracy(
    base: Mapping[str, Mapping[str, str | None]],
    head: Mapping[str, Mapping[str, str | None]],
    reassigned_to_team: Mapping[str, str | None] | None,
) -> dict[str, float | int] | None:
    """Routing accuracy (share of routed leads nobody reassigned) before and as estimated after.

    A lead a person moved to team T counts as fixed when the new rules route it to T; a lead nobody moved
    counts as broken when the new rules route it to another team (the old team was, by that outcome,
    right); a moved lead whose old team already was T and the new one is not also counts as broken.
    """
    if not reassigned_to_team:
        return None
    routed = [lead for lead, decision in base.items() if decision.get("disposition") == "route"]
    if not routed:
        return None
    fixed = broken = 0
    for lead_id in routed:
        before, after = base[lead_id].get("team"), head.get(lead_id, {}).get("team")
        if lead_id in reassigned_to_team:
            target = reassigned_to_team[lead_id]
            fixed += int(after == target and before != target)
            broken += int(before == target and after != target)
        elif after != before:
            broken += 1
    correct_before = sum(1 for lead in routed if lead not in reassigned_to_team)
    return {
        "routed_leads": len(routed),
        "accuracy_before": correct_before / len(routed),
        "accuracy_after": (correct_before + fixed - broken) / len(routed),
        "fixed": fixed,
        "broken": broken,
    }


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, table]).fetchone()[0] > 0
