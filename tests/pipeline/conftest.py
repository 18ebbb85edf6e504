"""A real pipeline on a temporary data home: real DuckDB file, real dbt build, the embedded CRM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

FIXTURE_CRM = Path(__file__).parent.parent / "fixtures" / "crm"
FIXTURE_FIRMOGRAPHICS = Path(__file__).parent.parent / "fixtures" / "firmographics.csv"


@dataclass
class Pipeline:
    settings: object
    instance: DagsterInstance

    @property
    def crm(self):
        from integrations.crm.embedded import EmbeddedCrm

        return EmbeddedCrm(self.settings.crm_path)

    def land(self, events: list, name: str) -> Path:
        from integrations.landing.zone import write_events_atomically

        lines = [event if isinstance(event, str) else json.dumps(event) for event in events]
        return write_events_atomically(self.settings.landing_dir, lines, name=name)

    def run(self, files: list[str] | None = None):
        from dagster_project.definitions import build_definitions

        job = build_definitions(self.settings).resolve_job_def("process_leads")
        result = job.execute_in_process(
            run_config={"ops": {"raw_inbound_events": {"config": {"files": files or []}}}},
            instance=self.instance,
            raise_on_error=True,
        )
        assert result.success
        skipped = [event.step_key for event in result.all_events if event.is_step_skipped]
        assert not skipped, f"steps skipped: {skipped}"
        return result

    def read(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.settings.reader_warehouse_path), read_only=True) as con:
            return con.execute(query, params or []).fetchall()


def open_pipeline(home: Path, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance) -> Pipeline:
    """A data home with the fixture CRM imported, its environment exported for dbt and Dagster."""
    from dagster_project.settings import Settings
    from integrations.crm.csv_import import import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    monkeypatch.setenv("LEADOPS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("LEADOPS_FIRMOGRAPHICS_PATH", str(FIXTURE_FIRMOGRAPHICS))
    settings = Settings.from_env()
    monkeypatch.setenv("LEADOPS_WAREHOUSE_PATH", str(settings.warehouse_path))
    monkeypatch.setenv("LEADOPS_POLICY_DIR", settings.policy_dir)
    settings.prepare_home()
    report = import_crm_csvs(
        EmbeddedCrm(settings.crm_path),
        owners=FIXTURE_CRM / "owners.csv",
        accounts=FIXTURE_CRM / "accounts.csv",
        contacts=FIXTURE_CRM / "contacts.csv",
        opportunities=FIXTURE_CRM / "opportunities.csv",
    )
    assert not report.rejected, report.format()
    return Pipeline(settings=settings, instance=instance)


@pytest.fixture
def pipeline(tmp_path, monkeypatch) -> Pipeline:
    with DagsterInstance.ephemeral() as instance:
        yield open_pipeline(tmp_path / "home", monkeypatch, instance)
