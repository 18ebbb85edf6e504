"""The pipeline's outbound step (`sync_to_crm`, what `ops/crm_writes` runs) against the Salesforce contract
server: leads upserted by external id, an owner a person changed escalated instead of overwritten, and a
task someone deleted re-created by reconciliation, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from remote_crm_helpers import salesforce
from salesforce_server import EXTERNAL_ID, SalesforceServer
from test_hubspot_outbox_faults import decision_rows

from assets.outbound.outbox import RetryPolicy
from assets.outbound.reconcile import MISSING, OWNER_CHANGED, RESENT, sync_to_crm
from integrations.crm.salesforce import SalesforceCrm

NO_WAIT = RetryPolicy(max_attempts=3, base_delay_seconds=1)


@pytest.fixture
def crm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[SalesforceServer, SalesforceCrm, duckdb.DuckDBPyConnection]]:
    with (
        salesforce(monkeypatch, tmp_path) as (server, client),
        duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con,
    ):
        yield server, client, con


def by_external_id(server: SalesforceServer, sobject: str, external_id: str) -> list[dict]:
    return [record for record in server.records[sobject].values() if record.get(EXTERNAL_ID) == external_id]


def outbox(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select kind || ' ' || lead_id, status from ops.outbox_actions").fetchall())


def test_a_changed_decision_updates_the_lead_it_upserted_by_external_id(crm) -> None:
    server, client, con = crm
    [row] = decision_rows(1)
    first = sync_to_crm(con, client, [row], NO_WAIT)
    second = sync_to_crm(con, client, [{**row, "company": "Company Zero GmbH"}], NO_WAIT)

    [lead] = by_external_id(server, "Lead", "lead_0000")
    assert {result.status for result in first.results + second.results} == {"written"}
    assert [result.action.kind for result in second.results] == ["upsert_lead"]
    assert lead["Company"] == "Company Zero GmbH"
    assert server.count("Lead") == 1
    assert len(by_external_id(server, "Task", "task:lead_0000:first_touch")) == 1


def test_an_owner_a_person_changed_since_the_snapshot_is_escalated_not_overwritten(crm) -> None:
    server, client, con = crm
    [row] = decision_rows(1)
    sync_to_crm(con, client, [row], NO_WAIT)
    [lead] = by_external_id(server, "Lead", "lead_0000")
    assert lead["OwnerId"] == row["owner_id"] == "OWN-1"
    # A rep reassigns the lead in Salesforce; then LeadOps decides again with another owner.
    client.assign_owner("lead", lead["Id"], "OWN-2")
    again = sync_to_crm(con, client, [row], NO_WAIT)
    redecided = sync_to_crm(con, client, [{**row, "owner_id": "OWN-9", "team": "emea_mid_market"}], NO_WAIT)

    [lead] = by_external_id(server, "Lead", "lead_0000")
    conflicts = con.execute(
        "select field, leadops_value, crm_value, crm_record_id from ops.crm_conflicts order by detected_at"
    ).fetchall()
    assert lead["OwnerId"] == "OWN-2"
    assert [(f.finding, f.lead_id) for f in again.findings] == [(OWNER_CHANGED, "lead_0000")]
    assert [r.status for r in redecided.results if r.action.kind == "assign_owner"] == ["conflict"]
    assert conflicts == [
        ("owner_id", "OWN-1", "OWN-2", lead["Id"]),
        ("owner_id", "OWN-9", "OWN-2", lead["Id"]),
    ]
    assert outbox(con)["assign_owner lead_0000"] in {"conflict", "superseded"}
    assert "conflict" in set(outbox(con).values())


def test_reconciliation_re_creates_a_task_someone_deleted_once(crm) -> None:
    server, client, con = crm
    rows = decision_rows(2)
    sync_to_crm(con, client, rows, NO_WAIT)
    [task] = by_external_id(server, "Task", "task:lead_0001:first_touch")
    server.records["Task"].pop(task["Id"])

    repaired = sync_to_crm(con, client, rows, NO_WAIT)
    again = sync_to_crm(con, client, rows, NO_WAIT)

    assert [(f.finding, f.action, f.external_id) for f in repaired.findings] == [
        (MISSING, RESENT, "lead_0001:first_touch")
    ]
    assert [(r.action.kind, r.status) for r in repaired.results] == [("create_task", "written")]
    assert len(by_external_id(server, "Task", "task:lead_0001:first_touch")) == 1
    assert by_external_id(server, "Task", "task:lead_0001:first_touch")[0]["Id"] != task["Id"]
    assert again.results == [] and again.findings == []
    assert server.count("Lead") == 2
