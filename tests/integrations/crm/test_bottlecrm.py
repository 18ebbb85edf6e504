"""The BottleCRM adapter against a real BottleCRM server (django-crm 1.35.0), one server per module."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
import test_crm_contract as contract
from bottlecrm_server import bottlecrm_server, client_for

from integrations.crm.bottlecrm import BottleCrm
from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.port import CrmPermanentError, CrmTransientError

pytestmark = [pytest.mark.bottlecrm, pytest.mark.slow]

DUE = datetime(2025, 11, 24, 10, 0, tzinfo=UTC)
OWNERS = (("ana@vendor.io", True), ("ben@vendor.io", True), ("cleo@vendor.io", False))


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    with bottlecrm_server(OWNERS) as running:
        yield running


@pytest.fixture
def crm(server: object) -> Iterator[BottleCrm]:
    client = client_for(server)
    yield client
    client.close()


@pytest.fixture
def owner_ids(server: object) -> dict[str, str]:
    return {email.split("@")[0]: profile for email, profile in server.owner_profiles.items()}  # type: ignore[attr-defined]


def test_the_bottlecrm_adapter_implements_every_port_method(crm: BottleCrm) -> None:
    contract.test_the_adapter_implements_every_port_method(crm)


def test_a_lead_lands_with_its_owner_task_and_note(crm: BottleCrm, owner_ids: dict[str, str]) -> None:
    lead = crm.upsert_lead(
        "lead-a",
        LeadFields(email="dana@acme.com", first_name="Dana", company="Acme", owner_id=owner_ids["ana"]),
    )
    task = crm.create_task("lead-a:first_touch", lead.record_id, "Call Dana", DUE, owner_ids["ana"])
    note = crm.add_note("lead-a:evt-1", lead.record_id, "Asked about pricing")

    assert lead.created and lead.external_id == "lead-a"
    assert lead.fields["owner_id"] == owner_ids["ana"] and lead.fields["company"] == "Acme"
    assert (
        task.created and task.fields["subject"] == "Call Dana" and task.fields["owner_id"] == owner_ids["ana"]
    )
    assert note.created and note.fields["body"] == "Asked about pricing"
    assert crm.get_record(ObjectType.LEAD, external_id="lead-a") == lead.model_copy(
        update={"created": False, "changed": False}
    )
    owners = {owner.owner_id: owner for owner in crm.read_owners()}
    assert owners[owner_ids["ana"]].active and not owners[owner_ids["cleo"]].active


def test_a_second_write_of_the_same_lead_task_and_note_creates_nothing(
    crm: BottleCrm, owner_ids: dict[str, str]
) -> None:
    fields = LeadFields(email="eli@beta.com", first_name="Eli", owner_id=owner_ids["ben"])
    first = crm.upsert_lead("lead-b", fields)
    leads_before, tasks_before, notes_before = (
        crm.count(kind) for kind in (ObjectType.LEAD, ObjectType.TASK, ObjectType.NOTE)
    )

    second = crm.upsert_lead("lead-b", fields)
    task = crm.create_task("lead-b:first_touch", first.record_id, "Call Eli", DUE, owner_ids["ben"])
    task_again = crm.create_task(
        "lead-b:first_touch", first.record_id, "Call Eli again", DUE, owner_ids["ana"]
    )
    note = crm.add_note("lead-b:evt-1", first.record_id, "Downloaded the whitepaper")
    note_again = crm.add_note("lead-b:evt-1", first.record_id, "Downloaded the whitepaper (retry)")

    assert second.record_id == first.record_id and not second.created and not second.changed
    assert (task_again.record_id, task_again.created, task_again.fields["subject"]) == (
        task.record_id,
        False,
        "Call Eli",
    )
    assert (note_again.record_id, note_again.created) == (note.record_id, False)
    assert crm.count(ObjectType.LEAD) == leads_before
    assert crm.count(ObjectType.TASK) == tasks_before + 1
    assert crm.count(ObjectType.NOTE) == notes_before + 1


def test_sixteen_concurrent_upserts_of_one_external_id_make_one_lead(server: object) -> None:
    def upsert(n: int) -> str:
        client = client_for(server)
        try:
            return client.upsert_lead(
                "lead-race", LeadFields(email="race@gamma.com", last_name="Race")
            ).record_id
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        record_ids = set(pool.map(upsert, range(16)))

    crm = client_for(server)
    assert len(record_ids) == 1
    assert list(crm.read_by_external_ids(ObjectType.LEAD, ["lead-race", "lead-404"])) == ["lead-race"]


def test_a_later_upsert_changes_the_fields_it_names_and_keeps_the_rest(
    crm: BottleCrm, owner_ids: dict[str, str]
) -> None:
    crm.upsert_lead("lead-c", LeadFields(email="fay@delta.com", company="Delta", job_title="CTO"))

    changed = crm.upsert_lead("lead-c", LeadFields(company="Delta GmbH", owner_id=owner_ids["ben"]))
    moved = crm.assign_owner(ObjectType.LEAD, changed.record_id, owner_ids["ana"])
    again = crm.assign_owner(ObjectType.LEAD, changed.record_id, owner_ids["ana"])

    assert (
        changed.changed and changed.fields["company"] == "Delta GmbH" and changed.fields["job_title"] == "CTO"
    )
    assert moved.changed and moved.fields["owner_id"] == owner_ids["ana"]
    assert not again.changed


def test_inactive_and_unknown_owners_never_receive_a_lead(crm: BottleCrm, owner_ids: dict[str, str]) -> None:
    with pytest.raises(CrmPermanentError, match="inactive"):
        crm.upsert_lead("lead-d", LeadFields(email="gus@eps.com", owner_id=owner_ids["cleo"]))
    with pytest.raises(CrmPermanentError, match="unknown owner"):
        crm.upsert_lead(
            "lead-d", LeadFields(email="gus@eps.com", owner_id="00000000-0000-0000-0000-000000000000")
        )

    assert crm.get_record(ObjectType.LEAD, external_id="lead-d") is None


def test_a_task_on_a_missing_lead_is_permanent(crm: BottleCrm) -> None:
    with pytest.raises(CrmPermanentError, match="no lead"):
        crm.create_task("t-missing", "00000000-0000-0000-0000-000000000000", "Call", DUE, None)


def test_a_bad_token_is_permanent_and_an_unreachable_server_is_transient(server: object) -> None:
    refused = BottleCrm(server.base_url, "not-a-token", server.intake_id, server.intake_key)  # type: ignore[attr-defined]
    gone = BottleCrm("http://127.0.0.1:9", "t", "i", "k", timeout_seconds=2)

    with pytest.raises(CrmPermanentError, match=r"HTTP 40[13]"):
        refused.read_owners()
    with pytest.raises(CrmTransientError):
        gone.read_owners()


def test_bottlecrm_answers_a_server_error_as_transient() -> None:
    failing = BottleCrm(
        "http://bottlecrm.test",
        "t",
        "i",
        "k",
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )

    with pytest.raises(CrmTransientError, match="503"):
        failing.read_owners()
