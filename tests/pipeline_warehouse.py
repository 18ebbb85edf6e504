"""A real pipeline on a temporary data home: real DuckDB file, real dbt build, the embedded CRM.

What every scenario would otherwise pay from cold is paid once per test run (`prepared_warehouse`): the
fixture CRM imported, the seeds built and every model created by one real run of the job with nothing
landed, and dbt's partial-parse state. Each scenario starts from a copy of that home.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

FIXTURE_CRM = Path(__file__).parent / "fixtures" / "crm"
FIXTURE_FIRMOGRAPHICS = Path(__file__).parent / "fixtures" / "firmographics.csv"
_PARTIAL_PARSE_FILE = "partial_parse.msgpack"


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

    def execute(self, files: list[str] | None = None):
        from dagster_project.definitions import build_definitions

        job = build_definitions(self.settings).resolve_job_def("process_leads")
        result = job.execute_in_process(
            run_config={"ops": {"raw_inbound_events": {"config": {"files": files or []}}}},
            instance=self.instance,
            raise_on_error=True,
        )
        assert result.success
        return result

    def run(self, files: list[str] | None = None):
        result = self.execute(files)
        skipped = [event.step_key for event in result.all_events if event.is_step_skipped]
        assert not skipped, f"steps skipped: {skipped}"
        return result

    def read(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.settings.reader_warehouse_path), read_only=True) as con:
            return con.execute(query, params or []).fetchall()


def _export_home(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Point LEADOPS_HOME and friends at `home` for this process and for dbt; return its settings."""
    from dagster_project.settings import Settings

    monkeypatch.setenv("LEADOPS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("LEADOPS_FIRMOGRAPHICS_PATH", str(FIXTURE_FIRMOGRAPHICS))
    settings = Settings.from_env()
    monkeypatch.setenv("LEADOPS_WAREHOUSE_PATH", str(settings.warehouse_path))
    monkeypatch.setenv("LEADOPS_POLICY_DIR", settings.policy_dir)
    return settings


def _use_dbt_target(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the job's dbt steps against `target` (manifest + parse state) instead of dbt_project/target.

    The steps copy their parse state from the project's target folder and hand it back after each run; the
    shared folder holds whatever warehouse path ran last (other checkouts' tests, `leadops dev`), and state
    made for another path costs a full parse (~7 s, more under load) per dbt step.
    """
    from dagster_dbt import DbtProject

    import dagster_project.dbt as dbt_assets_module
    from dagster_project.settings import DBT_PROJECT_DIR

    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=target)
    monkeypatch.setattr(dbt_assets_module, "leadops_dbt_project", project)


@dataclass(frozen=True)
class PreparedWarehouse:
    """A data home after one real run with nothing landed, and the dbt target state that run left.

    Scenarios open it at one fixed path, one after another: dbt's partial-parse state is valid only for the
    warehouse path it was made with (the path is part of the profile dbt hashes).
    """

    home: Path
    template: Path
    target: Path

    def open(self, monkeypatch: pytest.MonkeyPatch, instance: DagsterInstance) -> Pipeline:
        if self.home.exists():
            shutil.rmtree(self.home)
        shutil.copytree(self.template, self.home)
        run_target = self.home.parent / "target"
        if run_target.exists():
            shutil.rmtree(run_target)
        shutil.copytree(self.target, run_target)
        _use_dbt_target(run_target, monkeypatch)
        return Pipeline(settings=_export_home(self.home, monkeypatch), instance=instance)

    def publish_parse_state(self) -> None:
        """Hand the parse state to processes this one starts (the daemon's runs read dbt_project/target),
        the way a finished run at this path would have left it."""
        from dagster_project.settings import DBT_PROJECT_DIR

        shared = DBT_PROJECT_DIR / "target"
        temporary = shared / f"{_PARTIAL_PARSE_FILE}.{os.getpid()}.tmp"
        shutil.copyfile(self.target / _PARTIAL_PARSE_FILE, temporary)
        os.replace(temporary, shared / _PARTIAL_PARSE_FILE)


def _import_fixture_crm(settings) -> None:
    from integrations.crm.csv_import import import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    report = import_crm_csvs(
        EmbeddedCrm(settings.crm_path),
        owners=FIXTURE_CRM / "owners.csv",
        accounts=FIXTURE_CRM / "accounts.csv",
        contacts=FIXTURE_CRM / "contacts.csv",
        opportunities=FIXTURE_CRM / "opportunities.csv",
    )
    assert not report.rejected, report.format()


@pytest.fixture(scope="session")
def prepared_warehouse(tmp_path_factory: pytest.TempPathFactory) -> PreparedWarehouse:
    """Made once per test run: a cold run of the job builds the seeds and every model and leaves dbt's
    parse state; each scenario copies the home and the state instead of paying that again."""
    from dagster_project.settings import DBT_PROJECT_DIR

    root = tmp_path_factory.mktemp("pipeline")
    home, template, target = root / "home", root / "template", root / "prepared-target"
    target.mkdir()
    shutil.copyfile(DBT_PROJECT_DIR / "target" / "manifest.json", target / "manifest.json")
    with pytest.MonkeyPatch.context() as monkeypatch, DagsterInstance.ephemeral() as instance:
        settings = _export_home(home, monkeypatch)
        settings.prepare_home()
        _import_fixture_crm(settings)
        _use_dbt_target(target, monkeypatch)
        Pipeline(settings=settings, instance=instance).execute()
    assert (target / _PARTIAL_PARSE_FILE).exists(), "the prepared run left no dbt parse state"
    shutil.rmtree(target / "runs", ignore_errors=True)
    shutil.copytree(home, template)
    return PreparedWarehouse(home=home, template=template, target=target)


@pytest.fixture
def pipeline(prepared_warehouse: PreparedWarehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    with DagsterInstance.ephemeral() as instance:
        yield prepared_warehouse.open(monkeypatch, instance)
