"""Salesforce adapter against the Salesforce contract server (TLS, test CA): upsert by external id,
exactly-once under faults, error mapping, client-credentials login, snapshot reads."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from contract_server_base import FaultPlan
from remote_crm_helpers import (
    DUE,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    salesforce,
    write_leads_through_faults,
)

from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.port import CrmPermanentError, CrmTransientError
from integrations.crm.salesforce import SalesforceCrm, SalesforceTransientError, domain_of

UPSERT_PATH = "/sobjects/Lead/LeadOps_External_Id__c/"


def upsert_statuses(log: list[tuple[str, str, int]]) -> list[int]:
    return [status for method, path, status in log if method == "PATCH" and UPSERT_PATH in path]


def test_upsert_by_external_id_creates_with_201_then_updates_with_200_and_never_duplicates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path) as (server, crm):
        created = crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1", status="routed"))
        updated = crm.upsert_lead("lead-1", LeadFields(status="escalated"))
        repeated = crm.upsert_lead("lead-1", LeadFields(status="escalated"))

        assert upsert_statuses(server.log) == [201, 200]
        assert server.count("Lead") == 1
    assert (created.created, updated.created, repeated.changed) == (True, False, False)
    assert created.record_id == updated.record_id == repeated.record_id
    assert (created.version, updated.version, repeated.version) == (1, 2, 2)


def test_a_lost_upsert_answer_is_retried_into_the_same_lead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = FaultPlan(rate=1.0, kinds=["lost_response"], only=UPSERT_PATH)
    with salesforce(monkeypatch, tmp_path, plan) as (server, crm):
        with pytest.raises(CrmTransientError):
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))
        server.faults.rate = 0.0

        retried = crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))

        assert server.count("Lead") == 1
    assert retried.fields == {"email": "a@b.com"} and not retried.changed


def test_with_a_fifth_of_requests_failing_every_write_lands_exactly_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = FaultPlan(rate=0.2, seed=8, slow_seconds=0.5)
    with salesforce(monkeypatch, tmp_path, plan) as (server, crm):
        seen = write_leads_through_faults(crm, leads=6)
        server.faults.rate = 0.0
        external_ids = Counter(
            r.get("LeadOps_External_Id__c")
            for name in ("Lead", "Task")
            for r in server.records[name].values()
        )

        assert (server.count("Lead"), server.count("Task")) == (6, 12)
    assert set(plan.injected) == {"rate_limit", "server_error", "slow", "lost_response"} and seen
    assert [key for key, count in external_ids.items() if count > 1] == []


def test_a_task_create_that_races_another_worker_returns_the_winners_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Both workers look the external id up, find nothing, then both create: the unique external-id field
    # refuses the second create with DUPLICATE_VALUE naming the first.
    both_looked = threading.Barrier(2, timeout=5)
    look_up_parent = SalesforceCrm._parent

    def parent_once_both_looked(self: SalesforceCrm, record_id: str):
        both_looked.wait()
        return look_up_parent(self, record_id)

    monkeypatch.setattr(SalesforceCrm, "_parent", parent_once_both_looked)
    with salesforce(monkeypatch, tmp_path) as (server, crm), ThreadPoolExecutor(2) as pool:
        tasks = list(pool.map(lambda _: crm.create_task("t-1", "CON-1", "Call", DUE, "OWN-1"), range(2)))

        assert server.count("Task") == 1
        assert ("POST", "/services/data/v59.0/sobjects/Task/", 400) in server.log
    assert {task.record_id for task in tasks} == {tasks[0].record_id}
    assert sorted(task.created for task in tasks) == [False, True]


def test_a_400_surfaces_salesforces_own_message_as_a_permanent_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path, missing_fields={"LeadOps_Team__c"}) as (server, crm):
        with pytest.raises(CrmPermanentError) as raised:
            crm.upsert_lead("lead-1", LeadFields(email="a@b.com", team="emea_smb"))

        assert server.count("Lead") == 0
    assert not isinstance(raised.value, CrmTransientError)
    assert "INVALID_FIELD: No such column 'LeadOps_Team__c' on sobject of type Lead" in str(raised.value)


def test_an_expired_session_is_renewed_once_with_the_client_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path) as (server, crm):
        crm.read_owners()
        server.expire_sessions()

        assert len(crm.read_owners()) == 3
        logins = [status for method, path, status in server.log if path == "/services/oauth2/token"]
        assert logins == [200, 200]


def test_refused_client_credentials_are_permanent_and_the_secret_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with salesforce(monkeypatch, tmp_path) as (server, _):
        crm = SalesforceCrm(
            SALESFORCE_CLIENT_ID, "not-the-secret-4b1d", login_url=server.url, timeout_seconds=0.25
        )
        with pytest.raises(CrmPermanentError, match="client credentials") as raised:
            crm.read_owners()

    shown = [str(raised.value), repr(crm), caplog.text]
    assert not any(
        secret in text for text in shown for secret in ("not-the-secret-4b1d", SALESFORCE_CLIENT_SECRET)
    )


def test_a_rate_limit_is_transient_and_carries_retry_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = FaultPlan(rate=1.0, kinds=["rate_limit"], retry_after_seconds=7)
    with (
        salesforce(monkeypatch, tmp_path, plan) as (_, crm),
        pytest.raises(SalesforceTransientError) as raised,
    ):
        crm.read_accounts()

    assert raised.value.retry_after == 7.0


@pytest.mark.parametrize("kind", ["server_error", "slow", "lost_response"])
def test_server_errors_and_timeouts_are_transient(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan = FaultPlan(rate=1.0, kinds=[kind], slow_seconds=0.5)
    with salesforce(monkeypatch, tmp_path, plan) as (_, crm), pytest.raises(CrmTransientError):
        crm.read_contacts()


def test_notes_are_completed_tasks_on_the_record_and_count_apart_from_tasks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path) as (server, crm):
        note = crm.add_note("lead-1:decision", "ACC-1", "rule emea_enterprise: 1,200 employees, DE")
        crm.create_task("lead-1:first_touch", "CON-1", "Call Dana", DUE, "OWN-1")

        stored = server.records["Task"][note.record_id]
        counts = (crm.count(ObjectType.NOTE), crm.count(ObjectType.TASK))
    assert (stored["WhatId"], stored["Status"], stored["Description"]) == (
        "ACC-1",
        "Completed",
        "rule emea_enterprise: 1,200 employees, DE",
    )
    assert counts == (1, 1)


def test_the_snapshot_reads_users_accounts_by_domain_contacts_and_only_open_opportunities(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path) as (server, crm):
        server.seed("Opportunity", "OPP-1", AccountId="ACC-1", StageName="Prospecting", Name="New")
        server.seed("Opportunity", "OPP-2", AccountId="ACC-1", StageName="Closed Won", Name="Won")
        crm.upsert_lead("lead-1", LeadFields(email="new@b.com"))

        owners = {owner.owner_id: owner.active for owner in crm.read_owners()}
        (account,) = crm.read_accounts()
        contacts = [contact.contact_id for contact in crm.read_contacts()]
        opportunities = [opp.opportunity_id for opp in crm.read_open_opportunities()]
        by_domain = crm.find_account_by_domain("acme.com")
        unknown = crm.find_account_by_domain("acme.co")

    assert owners == {"OWN-1": True, "OWN-2": True, "OWN-9": False}
    assert (account.domain, account.status, account.owner_id) == ("acme.com", "customer", "OWN-9")
    assert contacts == ["CON-1"] and opportunities == ["OPP-1"]
    assert by_domain == account and unknown is None


@pytest.mark.parametrize(
    ("website", "domain"),
    [("https://www.Acme.com/about", "acme.com"), ("acme.io", "acme.io"), ("", None), (None, None)],
)
def test_an_accounts_domain_is_its_websites_host_without_www(website: str | None, domain: str | None) -> None:
    assert domain_of(website) == domain
