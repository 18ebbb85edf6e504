"""The scheduled reconciliation asset: decided state against the CRM, repaired through the outbox, flagged
where a person changed it; results in ops.crm_reconciliation, a check and the asset's metadata."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.crm.resource import FakeCrmResource
from assets.outbound.crm_sync import CREATE_TASK
from assets.outbound.outbox import RetryPolicy
from assets.outbound.reconcile import FLAGGED, MISSING, OWNER_CHANGED, RESENT, reconcile_with_crm, sync_to_crm
from assets.outbound.reconciliation import CHECK_NAME, crm_reconciliation
from assets.outbound.resource import OutboxResource
from integrations.crm.fake import FakeCrm
from integrations.crm.models import ObjectType, Owner
from sensors.crm_reconciliation import reconcile_request
from tests.outbound.outbound_rows import routed_row

NO_WAIT = RetryPolicy(max_attempts=3, base_delay_seconds=1)


def fake_crm() -> FakeCrm:
    crm = FakeCrm()
    crm.seed(
        owners=[
            Owner(
                owner_id=owner_id,
                name=f"Rep {owner_id}",
                email=f"{owner_id}@salescorp.com",
                team="emea_smb",
                region="EMEA",
                active=True,
                capacity=50,
            )
            for owner_id in ("own_1", "own_2")
        ]
    )
    return crm


def written_warehouse(tmp_path: Path, crm: FakeCrm, leads: int = 2) -> Path:
    """A warehouse whose outbox wrote `leads` routed leads (upsert, owner, task, note each) to `crm`."""
    path = tmp_path / "warehouse.duckdb"
    rows = [routed_row(lead_id=f"lead_{n:04d}", email=f"p{n}@example.org") for n in range(1, leads + 1)]
    with duckdb.connect(str(path)) as con:
        outcome = sync_to_crm(con, crm, rows, NO_WAIT)
    assert {result.status for result in outcome.results} == {"written"}
    return path


def reconcile(path: Path, crm: FakeCrm) -> dg.MaterializeResult:
    return dg.materialize(
        [crm_reconciliation],
        resources={
            "warehouse": DuckDBResource(database=str(path)),
            "crm": FakeCrmResource.holding(crm),
            "outbox": OutboxResource(max_attempts=3, retry_base_seconds=1),
        },
        raise_on_error=False,
    )


def check_passed(result) -> bool:
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_NAME
    return evaluation.passed


def test_a_task_deleted_in_the_crm_is_re_created_through_the_outbox_and_reported(tmp_path: Path) -> None:
    crm = fake_crm()
    path = written_warehouse(tmp_path, crm)
    task = crm.get_record(ObjectType.TASK, external_id="lead_0002:first_touch")
    crm.delete(task.record_id)  # a rep deletes the task in the CRM
    tasks_created = len(crm.calls_to("create_task"))

    result = reconcile(path, crm)

    with duckdb.connect(str(path)) as con:
        findings = con.execute(
            "select lead_id, operation, finding, action from ops.crm_reconciliation"
        ).fetchall()
        resend = con.execute(
            "select status, attempts from ops.crm_writes where operation = ? and external_id = ?"
            " order by written_at",
            [CREATE_TASK, "lead_0002:first_touch"],
        ).fetchall()
        outbox = con.execute(
            "select status, attempts from ops.outbox_actions where lead_id = 'lead_0002' and kind = ?",
            [CREATE_TASK],
        ).fetchall()
    again = crm.get_record(ObjectType.TASK, external_id="lead_0002:first_touch")
    metadata = result.asset_materializations_for_node("ops__crm_reconciliation")[0].metadata
    assert result.success
    assert findings == [("lead_0002", CREATE_TASK, MISSING, RESENT)]
    assert resend == [("written", 1), ("written", 1)]  # the first write, then the repair
    assert outbox == [("done", 1)]
    assert again is not None and again.record_id != task.record_id
    assert len(crm.calls_to("create_task")) == tasks_created + 1
    assert crm.count(ObjectType.TASK) == 2
    assert metadata["repaired"].value == 1 and metadata["writes_checked"].value == 8
    assert check_passed(result)


def test_a_crm_that_holds_everything_gets_no_write_and_a_green_check(tmp_path: Path) -> None:
    crm = fake_crm()
    path = written_warehouse(tmp_path, crm)
    calls = len(crm.calls)

    result = reconcile(path, crm)

    with duckdb.connect(str(path)) as con:
        assert con.execute("select count(*) from ops.crm_reconciliation").fetchall() == [(0,)]
    writes = [c for c in crm.calls[calls:] if c.method in ("upsert_lead", "create_task", "add_note")]
    assert result.success and writes == []
    assert check_passed(result)


def test_an_owner_a_person_changed_is_flagged_once_not_overwritten_and_fails_the_check(
    tmp_path: Path,
) -> None:
    crm = fake_crm()
    path = written_warehouse(tmp_path, crm, leads=1)
    lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
    crm.assign_owner(ObjectType.LEAD, lead.record_id, "own_2")  # a manager, by hand, in the CRM
    owner_writes = len(crm.calls_to("assign_owner"))

    first = reconcile(path, crm)
    second = reconcile(path, crm)

    with duckdb.connect(str(path)) as con:
        findings = con.execute("select finding, action from ops.crm_reconciliation").fetchall()
        conflicts = con.execute("select leadops_value, crm_value from ops.crm_conflicts").fetchall()
    assert first.success and second.success
    assert findings == [(OWNER_CHANGED, FLAGGED)]
    assert conflicts == [("own_1", "own_2")]
    assert len(crm.calls_to("assign_owner")) == owner_writes
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_2"
    assert not check_passed(first) and not check_passed(second)


def test_a_write_a_newer_decision_will_replace_is_not_checked(tmp_path: Path) -> None:
    crm = fake_crm()
    path = written_warehouse(tmp_path, crm, leads=1)
    with duckdb.connect(str(path)) as con:
        # The next decision's owner change waits for a retry: the written one is about to be replaced.
        con.execute(
            "insert into ops.outbox_actions select action_id || ':next', lead_id, kind, 'v2', state_seq,"
            " seq + 100, external_id, payload_json, payload_sha256, 'pending', 1, now() + interval 1 hour,"
            " 'rate limited', null, null, null, enqueued_at, updated_at"
            " from ops.outbox_actions where kind = 'assign_owner'"
        )
        lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
        crm.assign_owner(ObjectType.LEAD, lead.record_id, "own_2")

        outcome = reconcile_with_crm(con, crm, NO_WAIT)

    assert outcome.checked == 3 and outcome.findings == []


def test_the_schedule_reconciles_once_something_was_written_and_no_batch_runs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)):
        pass
    written = written_warehouse(tmp_path, fake_crm(), leads=1)

    assert isinstance(reconcile_request(tmp_path / "none.duckdb", batch_running=False), dg.SkipReason)
    assert isinstance(reconcile_request(empty, batch_running=False), dg.SkipReason)
    assert isinstance(reconcile_request(written, batch_running=True), dg.SkipReason)
    request = reconcile_request(written, batch_running=False)
    assert isinstance(request, dg.RunRequest) and request.tags["leadops/written_actions"] == "4"
