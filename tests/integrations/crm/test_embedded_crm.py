"""What only the SQLite-backed CRM must show: durability, safe concurrent writers, lock → transient."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.crm.embedded import SCHEMA_VERSION, EmbeddedCrm
from integrations.crm.models import LeadFields, ObjectType, Owner
from integrations.crm.port import CrmPermanentError, CrmTransientError, CrmUnavailableError

LEADS_PER_WRITER = 25


def _owner(owner_id: str = "OWN-1") -> Owner:
    return Owner(
        owner_id=owner_id,
        name="Ada",
        email="ada@vendor.io",
        team="amer_smb",
        region="AMER",
        active=True,
        capacity=5,
    )


def test_records_and_id_sequences_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    first = EmbeddedCrm(path)
    first.import_records([_owner()])
    written = first.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1"))
    first.create_task(
        "lead-1:first_touch", written.record_id, "Call", datetime(2025, 1, 1, tzinfo=UTC), "OWN-1"
    )

    reopened = EmbeddedCrm(path)

    assert reopened.get_record(ObjectType.LEAD, external_id="lead-1") == written.model_copy(
        update={"created": False, "changed": False}
    )
    assert reopened.count(ObjectType.TASK) == 1
    assert reopened.upsert_lead("lead-2", LeadFields(email="c@d.com")).record_id == "LEAD-000002"


def test_the_file_is_in_wal_mode_with_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    EmbeddedCrm(path)

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_crm_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(CrmPermanentError, match="Upgrade LeadOps"):
        EmbeddedCrm(path)


def test_a_file_that_is_not_a_crm_database_is_a_permanent_error(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    path.write_bytes(b"this is a duckdb file, not sqlite" * 100)

    with pytest.raises(CrmPermanentError, match="not a database"):
        EmbeddedCrm(path)


def test_a_write_while_another_process_holds_the_lock_is_transient_and_reads_still_work(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.sqlite"
    crm = EmbeddedCrm(path, busy_timeout_seconds=0.05)
    crm.import_records([_owner()])
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(CrmTransientError, match="busy"):
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
        assert [owner.owner_id for owner in crm.read_owners()] == ["OWN-1"]
        assert EmbeddedCrm(path, busy_timeout_seconds=0.05).count(ObjectType.OWNER) == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert crm.upsert_lead("lead-1", LeadFields(email="a@b.com")).created


def _write_leads(path: str, writer: int) -> None:
    crm = EmbeddedCrm(path, busy_timeout_seconds=30)
    for number in range(LEADS_PER_WRITER):
        lead = crm.upsert_lead(
            f"lead-{number}", LeadFields(email=f"p{number}@b.com", description=f"w{writer}")
        )
        crm.create_task(f"lead-{number}:first_touch", lead.record_id, "Call", datetime.now(UTC), "OWN-1")


def test_two_processes_writing_the_same_leads_create_each_lead_and_task_once(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    crm = EmbeddedCrm(path)
    crm.import_records([_owner()])
    # fork: the children inherit the imported modules instead of paying a fresh interpreter each.
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_leads, args=(str(path), writer)) for writer in (1, 2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)

    assert [process.exitcode for process in writers] == [0, 0]
    assert crm.count(ObjectType.LEAD) == LEADS_PER_WRITER
    assert crm.count(ObjectType.TASK) == LEADS_PER_WRITER
    expected_ids = {f"LEAD-{number:06d}" for number in range(1, LEADS_PER_WRITER + 1)}
    leads = [crm.get_record(ObjectType.LEAD, external_id=f"lead-{n}") for n in range(LEADS_PER_WRITER)]
    assert {lead.record_id for lead in leads if lead is not None} == expected_ids
    # Each lead was written by both processes: created by one, changed at most once by the other.
    assert all(lead is not None and lead.version in (1, 2) for lead in leads)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_run_never_creates_a_crm_where_there_is_none(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"

    with pytest.raises(CrmUnavailableError, match="a run never creates one"):
        EmbeddedCrm(path, create=False)
    assert not path.exists()


def test_an_empty_file_is_not_taken_for_a_new_crm(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    path.touch()

    with pytest.raises(CrmUnavailableError, match="holds no CRM"):
        EmbeddedCrm(path, create=False)
    assert path.stat().st_size == 0


def test_an_initialised_crm_opens_without_create(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    EmbeddedCrm(path).import_records([_owner()])

    assert EmbeddedCrm(path, create=False).count(ObjectType.OWNER) == 1


def test_a_crm_file_deleted_under_an_open_client_fails_every_call_instead_of_writing_into_the_void(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.sqlite"
    crm = EmbeddedCrm(path)
    crm.import_records([_owner()])
    crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
    for file in tmp_path.glob("crm.sqlite*"):
        file.unlink()

    with pytest.raises(CrmUnavailableError, match="removed"):
        crm.upsert_lead("lead-2", LeadFields(email="c@d.com"))
    with pytest.raises(CrmUnavailableError, match="removed"):
        crm.count(ObjectType.LEAD)
    assert not path.exists()


def test_a_crm_file_replaced_under_an_open_client_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    crm = EmbeddedCrm(path)
    crm.import_records([_owner()])
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(path) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
    for file in tmp_path.glob("crm.sqlite-*"):
        file.unlink()
    os.replace(backup, path)

    with pytest.raises(CrmUnavailableError, match="replaced"):
        crm.upsert_lead("lead-2", LeadFields(email="c@d.com"))
    assert EmbeddedCrm(path, create=False).count(ObjectType.LEAD) == 0
