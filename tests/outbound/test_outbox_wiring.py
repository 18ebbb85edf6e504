"""The outbox's wiring: the retry schedule, `leadops actions`, and the CRM setting (fast)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import RunRequest, SkipReason

from assets.crm.resource import CrmResource
from assets.outbound.outbox import OUTBOX_ACTIONS_DDL, PlannedAction, enqueue_actions
from dagster_project.cli import main
from dagster_project.definitions import crm_resource
from dagster_project.settings import Settings, SettingsError
from integrations.crm.bottlecrm import BottleCrm
from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.hubspot import HubSpotCrm
from integrations.crm.salesforce import SalesforceCrm
from sensors.outbox_retry import retry_request

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)


def outbox_file(path: Path, *, next_attempt_at: datetime | None, status: str = "pending") -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(OUTBOX_ACTIONS_DDL)
        enqueue_actions(
            con, [PlannedAction("lead_1", "upsert_lead", "lead_1", {"fields": {}}, "v1")], NAIVE_NOW
        )
        con.execute(
            "update ops.outbox_actions set status = ?, next_attempt_at = ?", [status, next_attempt_at]
        )
    return path


def test_the_retry_schedule_requests_a_run_only_when_an_action_is_due(tmp_path: Path) -> None:
    later = outbox_file(tmp_path / "later.duckdb", next_attempt_at=NAIVE_NOW + timedelta(minutes=5))
    due = outbox_file(tmp_path / "due.duckdb", next_attempt_at=NAIVE_NOW - timedelta(seconds=1))
    interrupted = outbox_file(tmp_path / "flight.duckdb", next_attempt_at=None, status="in_flight")
    dead = outbox_file(tmp_path / "dead.duckdb", next_attempt_at=None, status="dead")

    assert isinstance(retry_request(tmp_path / "missing.duckdb", NOW, False), SkipReason)
    assert isinstance(retry_request(later, NOW, False), SkipReason)
    assert isinstance(retry_request(dead, NOW, False), SkipReason)
    assert isinstance(retry_request(due, NOW, True), SkipReason)  # process_leads sends it anyway
    request = retry_request(due, NOW, False)
    assert isinstance(request, RunRequest) and request.run_key
    assert retry_request(due, NOW, False).run_key == request.run_key  # repeated ticks are dropped
    assert isinstance(retry_request(interrupted, NOW, False), RunRequest)


def test_leadops_actions_list_retry_and_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LEADOPS_HOME", "LEADOPS_WAREHOUSE_PATH", "LEADOPS_POLICY_DIR", "DAGSTER_HOME"):
        monkeypatch.setenv(name, str(tmp_path) if name == "LEADOPS_HOME" else "")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    outbox_file(tmp_path / "warehouse.duckdb", next_attempt_at=None, status="dead")
    action_id = "lead_1:upsert_lead:v1"

    assert main(["actions", "list"]) == 0
    assert action_id in capsys.readouterr().out
    assert main(["actions", "retry", action_id]) == 0
    assert main(["actions", "retry", action_id]) == 0  # pending: due now again
    assert main(["actions", "cancel", action_id]) == 0
    assert main(["actions", "retry", action_id]) == 2
    assert "cancelled" in capsys.readouterr().err
    assert main(["actions", "cancel", "no-such-action"]) == 2
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        assert con.execute("select status from ops.outbox_actions").fetchall() == [("cancelled",)]


@pytest.mark.parametrize(
    ("environment", "adapter"),
    [
        ({}, EmbeddedCrm),
        ({"LEADOPS_CRM": "hubspot", "LEADOPS_HUBSPOT_TOKEN": "pat-hush-1"}, HubSpotCrm),
        (
            {
                "LEADOPS_CRM": "salesforce",
                "LEADOPS_SALESFORCE_CLIENT_ID": "id",
                "LEADOPS_SALESFORCE_CLIENT_SECRET": "sf-hush-2",
            },
            SalesforceCrm,
        ),
        (
            {
                "LEADOPS_CRM": "bottlecrm",
                "LEADOPS_BOTTLECRM_URL": "http://127.0.0.1:9",
                "LEADOPS_BOTTLECRM_TOKEN": "bc-hush-3",
                "LEADOPS_BOTTLECRM_INTAKE_ID": "1",
                "LEADOPS_BOTTLECRM_INTAKE_KEY": "bc-hush-4",
            },
            BottleCrm,
        ),
    ],
)
def test_the_crm_setting_picks_the_adapter_and_keeps_secrets_in_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], adapter: type
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env({"LEADOPS_HOME": str(tmp_path), **environment})
    EmbeddedCrm(settings.crm_path)
    resource = crm_resource(settings)

    assert isinstance(resource, CrmResource)
    assert "-hush-" not in str(resource.model_dump())  # only the variables' names
    assert isinstance(resource.process_config_and_initialize().client(), adapter)


def test_a_remote_crm_without_its_settings_is_refused_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match="LEADOPS_BOTTLECRM_TOKEN"):
        Settings.from_env({"LEADOPS_CRM": "bottlecrm", "LEADOPS_BOTTLECRM_URL": "http://x"})
    with pytest.raises(SettingsError, match="LEADOPS_CRM must be one of"):
        Settings.from_env({"LEADOPS_CRM": "pipedrive"})
