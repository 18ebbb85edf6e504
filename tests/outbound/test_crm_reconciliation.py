"""A CRM that lost records behind LeadOps's back is noticed, repaired once, and never reported as written."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from assets.crm.resource import CrmResource
from assets.outbound.assets import crm_holds_what_the_outbox_wrote, crm_writes
from assets.outbound.crm_sync import ASSIGN_OWNER, plan_writes
from assets.outbound.outbox import RetryPolicy
from assets.outbound.reconcile import (
    FLAGGED,
    MISSING,
    OWNER_CHANGED,
    RESENT,
    UNCONFIRMED,
    UNCONFIRMED_STATUS,
    sync_to_crm,
)
from assets.outbound.resource import OutboxResource
from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import LeadFields, ObjectType, Owner
from integrations.crm.port import CrmUnavailableError

NO_WAIT = RetryPolicy(max_attempts=3, base_delay_seconds=1)
LEADS = 3
OPERATIONS_PER_LEAD = 4  # upsert, owner, task, note


def owner(owner_id: str) -> Owner:
    return Owner(
        owner_id=owner_id,
        name=f"Rep {owner_id}",
        email=f"{owner_id}@salescorp.com",
        team="emea_smb",
        region="EMEA",
        active=True,
        capacity=50,
    )


def lead_row(number: int, **overrides) -> dict:
    lead_id = f"lead_{number:04d}"
    row = {
        "lead_id": lead_id,
        "email": f"person{number}@example.org",
        "first_name": "Ada",
        "last_name": f"Lovelace {number}",
        "company": "Analytical Engines",
        "job_title": "CTO",
        "phone_e164": "+442071234567",
        "country_code": "GB",
        "account_id": None,
        "contact_id": None,
        "lead_status": "routed",
        "reason": "EMEA smb → emea_smb",
        "team": "emea_smb",
        "owner_id": "own_1",
        "source": "demo_request",
        "task_subject": f"First touch: Ada Lovelace {number} (demo_request)",
        "task_due_at": datetime(2026, 11, 25, 12, 30),
        "note_body": "Routed by territory_segment: EMEA smb → emea_smb",
    }
    row.update(overrides)
    return row


ROWS = [lead_row(number) for number in range(1, LEADS + 1)]


def initialised_crm(path: Path) -> EmbeddedCrm:
    crm = EmbeddedCrm(path)
    crm.import_records([owner("own_1"), owner("own_2")])
    return crm


def back_up(path: Path, backup: Path) -> None:
    with sqlite3.connect(path) as source, sqlite3.connect(backup) as target:
        source.backup(target)


def restore(backup: Path, path: Path) -> None:
    """What an operator does: the CRM file and its journal files replaced by an older copy."""
    for journal in path.parent.glob(path.name + "-*"):
        journal.unlink()
    os.replace(backup, path)


def statuses(outcome) -> dict[str, int]:
    return pd.Series([result.status for result in outcome.results]).value_counts().to_dict()


def assert_holds_every_record_once(crm: EmbeddedCrm) -> None:
    assert crm.count(ObjectType.LEAD) == LEADS
    assert crm.count(ObjectType.TASK) == LEADS
    assert crm.count(ObjectType.NOTE) == LEADS
    leads = crm.read_by_external_ids(ObjectType.LEAD, [row["lead_id"] for row in ROWS])
    assert {lead.fields["owner_id"] for lead in leads.values()} == {"own_1"}


def test_a_crm_restored_from_an_older_backup_is_repaired_and_then_holds_every_record_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.sqlite"
    initialised_crm(path)
    con = duckdb.connect()
    back_up(path, tmp_path / "backup.sqlite")
    first = sync_to_crm(con, EmbeddedCrm(path, create=False), ROWS, NO_WAIT)
    assert statuses(first) == {"written": LEADS * OPERATIONS_PER_LEAD}

    restore(tmp_path / "backup.sqlite", path)
    restored = EmbeddedCrm(path, create=False)
    assert restored.count(ObjectType.LEAD) == 0
    second = sync_to_crm(con, restored, ROWS, NO_WAIT)

    assert {(finding.finding, finding.action) for finding in second.findings} == {(MISSING, RESENT)}
    assert len(second.findings) == LEADS * OPERATIONS_PER_LEAD
    assert statuses(second) == {"written": LEADS * OPERATIONS_PER_LEAD}
    assert_holds_every_record_once(restored)

    third = sync_to_crm(con, EmbeddedCrm(path, create=False), ROWS, NO_WAIT)
    assert third.findings == []
    assert third.results == []
    assert_holds_every_record_once(restored)


class DeletesTheFileAfterWrites:
    """The CRM port, with its file deleted by someone else after `writes` write calls."""

    def __init__(self, crm: EmbeddedCrm, writes: int) -> None:
        self._crm, self._writes_left = crm, writes

    def __getattr__(self, name: str):
        method = getattr(self._crm, name)
        if name not in ("upsert_lead", "assign_owner", "create_task", "add_note"):
            return method

        def write(*args, **kwargs):
            result = method(*args, **kwargs)
            self._writes_left -= 1
            if self._writes_left == 0:
                for file in self._crm.database_path.parent.glob(self._crm.database_path.name + "*"):
                    file.unlink()
            return result

        return write


def test_a_crm_deleted_mid_run_confirms_nothing_and_the_next_run_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    initialised_crm(path)
    con = duckdb.connect()

    outcome = sync_to_crm(con, DeletesTheFileAfterWrites(EmbeddedCrm(path, create=False), 5), ROWS, NO_WAIT)

    assert "written" not in statuses(outcome)
    assert statuses(outcome)[UNCONFIRMED_STATUS] == 5
    assert outcome.crm_unavailable and "removed" in outcome.crm_unavailable
    assert {finding.finding for finding in outcome.findings} == {UNCONFIRMED}
    with pytest.raises(CrmUnavailableError, match="a run never creates one"):
        EmbeddedCrm(path, create=False)


def test_an_owner_a_person_changed_in_the_crm_is_flagged_and_kept() -> None:
    con = duckdb.connect()
    crm = FakeCrm()
    crm.seed(owners=[owner("own_1"), owner("own_2")])
    sync_to_crm(con, crm, ROWS[:1], NO_WAIT)
    lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
    crm.assign_owner(ObjectType.LEAD, lead.record_id, "own_2")
    calls_before = len(crm.calls_to("assign_owner"))

    second = sync_to_crm(con, crm, ROWS[:1], NO_WAIT)

    [finding] = second.findings
    assert (finding.operation, finding.finding, finding.action) == (ASSIGN_OWNER, OWNER_CHANGED, FLAGGED)
    assert "own_2" in finding.detail and "own_1" in finding.detail
    assert len(crm.calls_to("assign_owner")) == calls_before
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_2"


def test_a_lost_task_alone_is_recreated_on_the_existing_lead_without_a_second_lead() -> None:
    con = duckdb.connect()
    crm = FakeCrm()
    crm.seed(owners=[owner("own_1")])
    sync_to_crm(con, crm, ROWS[:1], NO_WAIT)
    # A rep deleted the task in the CRM (the port has no delete, so straight from the fake's store).
    task = crm.get_record(ObjectType.TASK, external_id="lead_0001:first_touch")
    crm._records.pop(task.record_id)
    crm._by_external_id.pop((ObjectType.TASK, "lead_0001:first_touch"))

    second = sync_to_crm(con, crm, ROWS[:1], NO_WAIT)

    assert [(finding.operation, finding.finding) for finding in second.findings] == [("create_task", MISSING)]
    assert crm.count(ObjectType.LEAD) == 1 and crm.count(ObjectType.TASK) == 1
    lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
    new_task = crm.get_record(ObjectType.TASK, external_id="lead_0001:first_touch")
    assert new_task.fields["related_record_id"] == lead.record_id


def test_crm_payloads_never_carry_nul_bytes_or_control_characters() -> None:
    row = lead_row(
        1,
        first_name="A\x00da",
        company="Analytical\tEngines\x07",
        task_subject="First touch:\r\nAda\x1b[31m",
        note_body="Routed.\r\nSecond line\x00\twith a tab\x7f\x85",
        reason="line one\nline two\x00",
    )

    writes = plan_writes(row)

    def strings(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, str):
            yield value

    texts = [text for write in writes for text in strings(write.payload)]
    controls = {chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]}
    assert all(not (set(text) & (controls - {"\n", "\t"})) for text in texts)
    fields = writes[0].payload["fields"]
    assert (fields["first_name"], fields["company"]) == ("Ada", "Analytical Engines")
    assert fields["description"] == "line one\nline two"
    assert writes[2].payload["subject"] == "First touch: Ada[31m"
    assert writes[3].payload["body"] == "Routed.\nSecond line\twith a tab "
    LeadFields(**fields)


# ---- the asset: what it records, its metadata and its check ----------------------------------------------

PAYLOAD_COLUMNS = list(ROWS[0])


def warehouse_with_payload(path: Path) -> DuckDBResource:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        frame = pd.DataFrame(ROWS, columns=PAYLOAD_COLUMNS)
        con.register("rows", frame)
        con.execute("create table marts.sync_crm_leads as select * from rows")
    return DuckDBResource(database=str(path))


def materialize(warehouse: DuckDBResource, crm_path: Path, *, raise_on_error: bool = True):
    return dg.materialize(
        [crm_writes],
        resources={
            "warehouse": warehouse,
            "crm": CrmResource(database_path=str(crm_path)),
            "outbox": OutboxResource(),
        },
        raise_on_error=raise_on_error,
    )


def summary_counts(warehouse: DuckDBResource) -> dict[str, int]:
    """The counts `leadops run` prints: the latest state of every (lead, operation) in the outbox."""
    with warehouse.get_connection() as con:
        return dict(
            con.execute(
                "select status, count(*) from (select status from ops.crm_writes qualify row_number() over"
                " (partition by lead_id, operation order by written_at desc) = 1) group by 1"
            ).fetchall()
        )


def check_result(warehouse: DuckDBResource) -> dg.AssetCheckResult:
    return crm_holds_what_the_outbox_wrote(dg.build_asset_check_context(), warehouse)


@pytest.mark.slow
def test_the_asset_reports_only_writes_the_crm_holds_and_repairs_a_restored_crm(tmp_path: Path) -> None:
    crm_path = tmp_path / "crm.sqlite"
    initialised_crm(crm_path)
    back_up(crm_path, tmp_path / "backup.sqlite")
    warehouse = warehouse_with_payload(tmp_path / "warehouse.duckdb")
    total = LEADS * OPERATIONS_PER_LEAD

    first = materialize(warehouse, crm_path).asset_materializations_for_node("ops__crm_writes")[0]
    assert first.metadata["written"].value == total
    restore(tmp_path / "backup.sqlite", crm_path)
    second = materialize(warehouse, crm_path).asset_materializations_for_node("ops__crm_writes")[0]

    assert second.metadata["written"].value == total
    assert second.metadata["resent_missing_in_crm"].value == total
    assert second.metadata["unconfirmed"].value == 0
    assert summary_counts(warehouse) == {"written": total}
    assert check_result(warehouse).passed
    assert_holds_every_record_once(EmbeddedCrm(crm_path, create=False))

    for file in tmp_path.glob("crm.sqlite*"):
        file.unlink()
    failed = materialize(warehouse, crm_path, raise_on_error=False)
    assert not failed.success
    assert not crm_path.exists()
