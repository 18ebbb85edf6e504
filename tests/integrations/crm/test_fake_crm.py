"""What the fake adds for pipeline tests: recorded calls and failures on request."""

from __future__ import annotations

import pytest

from integrations.crm.fake import FakeCrm
from integrations.crm.models import LeadFields, ObjectType, Owner
from integrations.crm.port import CrmPermanentError, CrmTransientError


def test_fail_next_fails_that_many_calls_then_lets_them_through() -> None:
    crm = FakeCrm(fail_next={"upsert_lead": 2})

    for _ in range(2):
        with pytest.raises(CrmTransientError, match="injected failure of upsert_lead"):
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
    record = crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))

    assert record.created and crm.count(ObjectType.LEAD) == 1
    assert [type(call.error) for call in crm.calls_to("upsert_lead")] == [
        CrmTransientError,
        CrmTransientError,
        type(None),
    ]


def test_an_injected_failure_before_the_write_leaves_nothing_behind() -> None:
    crm = FakeCrm(fail_next={"upsert_lead": 1}, failure=CrmPermanentError)

    with pytest.raises(CrmPermanentError):
        crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))

    assert crm.count(ObjectType.LEAD) == 0


def test_a_lost_response_lands_the_write_and_the_retry_finds_it_instead_of_duplicating() -> None:
    crm = FakeCrm()
    crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
    crm.inject_failure("add_note", after_write=True)

    with pytest.raises(CrmTransientError, match="after the write landed"):
        crm.add_note("lead-1:evt-1", "LEAD-000001", "first touch")
    retried = crm.add_note("lead-1:evt-1", "LEAD-000001", "first touch")

    assert not retried.created
    assert crm.count(ObjectType.NOTE) == 1


def test_calls_are_recorded_with_their_arguments_in_order() -> None:
    crm = FakeCrm()
    fields = LeadFields(email="a@b.com")

    crm.upsert_lead("lead-1", fields)
    crm.count(ObjectType.LEAD)

    assert [(call.method, call.args) for call in crm.calls] == [
        ("upsert_lead", ("lead-1", fields)),
        ("count", (ObjectType.LEAD,)),
    ]


def test_injecting_a_failure_into_a_method_the_port_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="not a CrmPort method"):
        FakeCrm(fail_next={"upsert_leads": 1})


def test_seeding_is_neither_recorded_nor_failed() -> None:
    crm = FakeCrm(fail_next={"import_records": 1})

    crm.seed(
        owners=[
            Owner(
                owner_id="OWN-1",
                name="Ada",
                email="ada@vendor.io",
                team="t",
                region="EMEA",
                active=True,
                capacity=1,
            )
        ]
    )

    assert crm.calls == []
    assert crm.count(ObjectType.OWNER) == 1
