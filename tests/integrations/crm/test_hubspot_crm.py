"""HubSpot adapter against the HubSpot contract server: exactly-once writes under faults, error mapping,
snapshot reads."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from contract_server_base import FaultPlan
from remote_crm_helpers import DUE, HUBSPOT_TOKEN, hubspot, write_leads_through_faults

from integrations.crm.hubspot import HubSpotCrm, HubSpotTransientError
from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.port import CrmPermanentError, CrmTransientError


def test_with_a_fifth_of_requests_failing_every_write_lands_exactly_once() -> None:
    plan = FaultPlan(rate=0.2, seed=8, slow_seconds=0.5)
    with hubspot(plan) as (server, crm):
        seen = write_leads_through_faults(crm, leads=6)
        server.faults.rate = 0.0

        external_ids = Counter(
            (name, obj["properties"].get("leadops_external_id"))
            for name in ("contacts", "tasks", "notes")
            for obj in server.objects[name].values()
        )
        emails = Counter(o["properties"].get("email") for o in server.objects["contacts"].values())

    assert set(plan.injected) == {"rate_limit", "server_error", "slow", "lost_response"}
    assert seen, "the faults reached the adapter as transient errors"
    assert all(e.retry_after == plan.retry_after_seconds for e in seen if "rate limited" in str(e))
    assert [count for count in external_ids.values() if count > 1] == []
    assert (server.count("contacts"), len(server.objects["tasks"]), len(server.objects["notes"])) == (7, 6, 6)
    assert max(count for email, count in emails.items() if email) == 1


def test_a_create_that_races_another_worker_gets_409_and_returns_the_winners_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both workers look the external id up, find nothing, then both create: HubSpot's unique property
    # answers the second create 409 with the existing id.
    both_looked = threading.Barrier(2, timeout=5)
    look_up_parent = HubSpotCrm._parent

    def parent_once_both_looked(self: HubSpotCrm, record_id: str):
        both_looked.wait()
        return look_up_parent(self, record_id)

    monkeypatch.setattr(HubSpotCrm, "_parent", parent_once_both_looked)
    with hubspot() as (server, crm), ThreadPoolExecutor(2) as pool:
        tasks = list(pool.map(lambda _: crm.create_task("t-1", "CON-1", "Call", DUE, "OWN-1"), range(2)))

        assert {task.record_id for task in tasks} == {tasks[0].record_id}
        assert sorted(task.created for task in tasks) == [False, True]
        assert len(server.objects["tasks"]) == 1
        assert any(status == 409 for _, _, status in server.log)


def test_a_400_surfaces_hubspots_own_message_as_a_permanent_error() -> None:
    with hubspot(missing_properties={"leadops_team"}) as (server, crm):
        with pytest.raises(CrmPermanentError) as raised:
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com", team="emea_smb"))

        assert server.count("contacts") == 1
    assert not isinstance(raised.value, CrmTransientError)
    assert "Property values were not valid" in str(raised.value)
    assert 'Property \\"leadops_team\\" does not exist' in str(raised.value)


def test_a_refused_token_is_permanent_and_names_the_credentials() -> None:
    with hubspot() as (server, _):
        crm = HubSpotCrm("pat-revoked", host=server.url, timeout_seconds=0.25)
        with pytest.raises(CrmPermanentError, match="credentials") as raised:
            crm.read_owners()

    assert "pat-revoked" not in str(raised.value) and HUBSPOT_TOKEN not in repr(crm)


def test_a_rate_limit_is_transient_and_carries_retry_after() -> None:
    with hubspot(FaultPlan(rate=1.0, kinds=["rate_limit"], retry_after_seconds=7)) as (server, crm):
        with pytest.raises(HubSpotTransientError) as raised:
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))

        assert server.count("contacts") == 1
    assert raised.value.retry_after == 7.0


@pytest.mark.parametrize("kind", ["server_error", "slow", "lost_response"])
def test_server_errors_and_timeouts_are_transient(kind: str) -> None:
    with (
        hubspot(FaultPlan(rate=1.0, kinds=[kind], slow_seconds=0.5)) as (_, crm),
        pytest.raises(CrmTransientError),
    ):
        crm.read_contacts()


def test_a_lost_create_answer_is_retried_into_the_same_contact() -> None:
    plan = FaultPlan(rate=1.0, kinds=["lost_response"], only=r"^POST /crm/v3/objects/contacts$")
    with hubspot(plan) as (server, crm):
        with pytest.raises(CrmTransientError):
            crm.upsert_lead("lead-1", LeadFields(first_name="Ana", owner_id="OWN-1"))
        server.faults.rate = 0.0

        retried = crm.upsert_lead("lead-1", LeadFields(first_name="Ana", owner_id="OWN-1"))

        assert server.count("contacts", leadops_external_id="lead:lead-1") == 1
    assert not retried.changed and retried.fields == {"first_name": "Ana", "owner_id": "OWN-1"}


def test_a_lead_whose_email_hubspot_already_holds_is_written_onto_that_contact() -> None:
    with hubspot() as (server, crm):
        lead = crm.upsert_lead("lead-1", LeadFields(email="dana@acme.com", status="routed"))

        assert server.count("contacts") == 1
    assert lead.record_id == "CON-1" and not lead.created
    assert lead.fields["status"] == "routed"


def test_notes_and_tasks_are_associated_with_their_record_by_v4_association_types() -> None:
    with hubspot() as (server, crm):
        note = crm.add_note("lead-1:decision", "ACC-1", "rule emea_enterprise: 1,200 employees, DE")
        task = crm.create_task("lead-1:first_touch", "CON-1", "Call Dana", DUE, "OWN-1")

        assert server.objects["notes"][note.record_id]["associations"] == {"companies": ["ACC-1"]}
        assert server.objects["tasks"][task.record_id]["associations"] == {"contacts": ["CON-1"]}
    assert note.fields["related_object_type"] == ObjectType.ACCOUNT
    assert task.fields["related_object_type"] == ObjectType.CONTACT


def test_the_snapshot_reads_owners_companies_contacts_and_only_open_deals() -> None:
    with hubspot() as (server, crm):
        server.seed_object("deals", "D-1", {"dealstage": "appointmentscheduled"}, {"companies": ["ACC-1"]})
        server.seed_object("deals", "D-2", {"dealstage": "closedwon"}, {"companies": ["ACC-1"]})
        crm.upsert_lead("lead-1", LeadFields(email="new@b.com"))

        owners = {owner.owner_id: owner.active for owner in crm.read_owners()}
        (account,) = crm.read_accounts()
        contacts = [contact.contact_id for contact in crm.read_contacts()]
        deals = [(opp.opportunity_id, opp.account_id) for opp in crm.read_open_opportunities()]
        by_domain = crm.find_account_by_domain("acme.com")

    assert owners == {"OWN-1": True, "OWN-2": True, "OWN-9": False}
    assert account.alias_domains == ["acme.io"] and account.status == "customer"
    assert contacts == ["CON-1"]
    assert deals == [("D-1", "ACC-1")]
    assert by_domain == account
