"""`leadops rules diff`: a replay under two versions of the rules shows exactly the leads a change moves.

One small warehouse is built once for the module (the demo: sample CRM, 62 leads, one real run); the rule
change lives in a throw-away git repository holding a copy of dbt_project, so the shared working tree's
rules are never touched.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from assets.decisions.replay import (
    DbtRunner,
    epoch_of,
    estimate_accuracy,
    export_dbt_project,
    project_digest,
    replay_rules_diff,
)
from dagster_project.cli import DEMO_DIR, land_files
from dagster_project.cli.rules_diff import render_diff
from dagster_project.settings import DBT_PROJECT_DIR, Settings
from integrations.crm.csv_import import import_crm_csvs
from integrations.crm.embedded import EmbeddedCrm
from tests.pipeline_warehouse import Pipeline, PreparedWarehouse

CRM_FILES = ("owners", "accounts", "contacts", "opportunities")

pytestmark = pytest.mark.slow

POLICY_DIR = "policies/default"


@pytest.fixture(scope="module")
def demo_reader(prepared_warehouse: PreparedWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (sample CRM, 62 sample events) decided by one in-process run on the session's prepared
    warehouse; the reader copy is kept apart, because the next scenario re-opens that warehouse."""
    with pytest.MonkeyPatch.context() as monkeypatch, DagsterInstance.ephemeral() as instance:
        prepared_warehouse.open(monkeypatch, instance)
        monkeypatch.setenv("LEADOPS_FIRMOGRAPHICS_PATH", str(DEMO_DIR / "firmographics.csv"))
        settings = Settings.from_env()
        crm_files = {name: DEMO_DIR / "crm" / f"{name}.csv" for name in CRM_FILES}
        report = import_crm_csvs(EmbeddedCrm(settings.crm_path), **crm_files)
        assert not report.rejected, report.format()
        land_files(settings, sorted((DEMO_DIR / "leads").glob("*.jsonl")))
        Pipeline(settings=settings, instance=instance).execute()
        reader = tmp_path_factory.mktemp("rules-diff") / "warehouse.readonly.duckdb"
        shutil.copyfile(settings.reader_warehouse_path, reader)
    return reader


def _rules_repository(root: Path) -> Path:
    shutil.copytree(
        DBT_PROJECT_DIR, root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "dbt_project"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base rules"], check=True)
    return root


def _move_smb_ceiling(repo: Path, mid_market_from: int) -> None:
    bands = repo / "dbt_project" / POLICY_DIR / "segment_bands.csv"
    rows = list(csv.DictReader(bands.open()))
    for row in rows:
        if row["segment"] == "smb":
            row["max_employees"] = str(mid_market_from - 1)
        if row["segment"] == "mid_market":
            row["min_employees"] = str(mid_market_from)
    with bands.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _runner() -> DbtRunner:
    return DbtRunner(
        executable=str(Path(sys.executable).with_name("dbt")),
        policy_dir=POLICY_DIR,
        base_environment=dict(os.environ),
    )


def test_moving_one_segment_threshold_shows_exactly_the_leads_it_moves(demo_reader: Path, tmp_path: Path):
    with duckdb.connect(str(demo_reader), read_only=True) as con:
        smb_routed = con.execute(
            "select lead_id, employees from marts.lead_decisions where rule_id = 'territory_segment'"
            " and segment = 'smb' and region in ('AMER', 'EMEA') order by employees desc"
        ).fetchall()
    assert smb_routed, "the demo has no small-business lead routed by territory: the scenario needs one"
    threshold = smb_routed[0][1]
    expected = {lead_id for lead_id, employees in smb_routed if employees >= threshold}
    repo = _rules_repository(tmp_path / "rules")
    _move_smb_ceiling(repo, threshold)

    diff = replay_rules_diff(repo_root=repo, reader_warehouse=demo_reader, base_ref="HEAD", run_dbt=_runner())

    assert {change.lead_id for change in diff.changes} == expected
    for change in diff.changes:
        assert change.before["team"].endswith("_smb")
        assert change.after["team"] == change.before["team"].replace("_smb", "_mid_market")
        assert change.after["rule_id"] == change.before["rule_id"] == "territory_segment"
    text = render_diff(diff)
    assert f"{len(expected)} change(s)" in text
    assert "replayed against the current CRM snapshot" in text or diff.leads_without_history == 0


def test_unchanged_rules_change_nothing_without_running_dbt(demo_reader: Path, tmp_path: Path):
    """Replaying is deterministic (the threshold test sees no lead move but the ones it moves); identical
    rules and seeds need no replay at all."""
    repo = _rules_repository(tmp_path / "rules")
    dbt_calls: list[tuple] = []

    diff = replay_rules_diff(
        repo_root=repo, reader_warehouse=demo_reader, base_ref="HEAD", run_dbt=lambda *a: dbt_calls.append(a)
    )

    assert diff.rules_identical and diff.changes == [] and diff.reseated == 0
    assert diff.leads_replayed > 0 and dbt_calls == []
    assert "no lead was re-decided" in render_diff(diff)


def test_an_uncommitted_seed_edit_is_a_difference(tmp_path: Path):
    repo = _rules_repository(tmp_path / "rules")
    base = export_dbt_project(repo, "HEAD", tmp_path / "base")
    unchanged = export_dbt_project(repo, None, tmp_path / "unchanged")
    assert project_digest(base) == project_digest(unchanged)

    _move_smb_ceiling(repo, 40)
    edited = export_dbt_project(repo, None, tmp_path / "edited")

    assert project_digest(base) != project_digest(edited)


def test_a_lead_older_than_every_snapshot_falls_back_to_the_current_crm():
    from datetime import datetime

    epochs = [datetime(2026, 1, 1), datetime(2026, 2, 1)]
    assert epoch_of(datetime(2025, 12, 31), epochs) is None
    assert epoch_of(datetime(2026, 1, 15), epochs) == datetime(2026, 1, 1)
    assert epoch_of(datetime(2026, 2, 1), epochs) == datetime(2026, 2, 1)


def test_moving_a_lead_onto_the_team_a_person_chose_counts_as_fixed():
    base = {"a": {"disposition": "route", "team": "smb"}, "b": {"disposition": "route", "team": "smb"}}
    head = {"a": {"disposition": "route", "team": "mid"}, "b": {"disposition": "route", "team": "mid"}}

    accuracy = estimate_accuracy(base, head, {"a": "mid"})

    assert accuracy["fixed"] == 1 and accuracy["broken"] == 1
    assert accuracy["accuracy_before"] == 0.5 and accuracy["accuracy_after"] == 0.5
