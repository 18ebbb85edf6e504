"""Notifications through the outbox, against the real local servers: one Slack alert and one approved
acknowledgement email per routed lead, nothing new on a rerun, nothing before the CRM record and owner,
auto-booking in a free slot of the owner's Radicale calendar, a CRM task where booking is not allowed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.outbound.crm_sync import ASSIGN_OWNER, UPSERT
from assets.outbound.notifications import (
    ACK_EMAIL,
    BOOK_MEETING,
    CALENDAR_TARGET,
    EMAIL_TARGET,
    MEETING_TASK,
    SLACK_ASSIGNMENT,
    SLACK_TARGET,
    NotificationPolicy,
    NotificationTargets,
    email_slots,
    plan_for_sync,
    plan_notifications,
)
from assets.outbound.outbox import RetryPolicy, utc_now
from assets.outbound.reconcile import sync_to_crm
from assets.outbound.resource import OutboxResource, owner_calendar_url
from integrations.calendar.caldav_adapter import CalDavCalendar
from integrations.calendar.fake import FakeCalendar
from integrations.calendar.port import meeting_uid
from integrations.crm.fake import FakeCrm
from integrations.crm.models import ObjectType, Owner
from integrations.email.smtp import SmtpEmailSender, SmtpSettings
from integrations.email.templates import TemplateLibrary
from integrations.slack.web_api import SlackWebApiNotifier, web_client
from tests.integrations.calendar.radicale_server import PASSWORD, USERNAME, RadicaleServer
from tests.integrations.email.smtp_catcher import SmtpCatcher
from tests.integrations.slack.slack_api_server import TOKEN, SlackApiServer
from tests.outbound.outbound_rows import routed_row

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "dbt_project" / "policies" / "default"
TRANSITIONS = REPO / "dbt_project" / "seeds" / "state_machine" / "lead_state_transitions.csv"
# A Monday well in the future, 09:00 in Berlin (emea_smb's business hours): booking windows start here.
DECIDED_AT = datetime(2030, 3, 4, 8, 0)
OWNERS = {
    "own_1": ("Ana Owner", "ana.owner@example.com", True),
    "own_2": ("Ben Second", "ben.second@example.com", True),
    "own_3": ("Cy Away", "cy.away@example.com", False),
}
FAST = RetryPolicy(max_attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.05)


def decision(**overrides: Any) -> dict[str, Any]:
    """The marts.lead_decisions facts of routed_row(): a demo request in emea_smb, 30-minute SLA."""
    row = {
        "lead_id": "lead_0001",
        "email": "ada@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "account_name": None,
        "source": "web_form",
        "intent": "demo_request",
        "policy_flag": None,
        "high_impact_allowed": True,
        "disposition": "route",
        "rule_id": "territory_segment",
        "reason": "EMEA smb → emea_smb",
        "team": "emea_smb",
        "owner_id": "own_1",
        "sla_minutes": 30,
        "decided_at": DECIDED_AT,
    }
    row.update(overrides)
    return row


def build_warehouse(decisions: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """The tables the outbound stage reads, as dbt leaves them: decisions, owners, the policy seeds."""
    con = duckdb.connect()
    for schema in ("marts", "staging", "rules", "raw", "ops"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table marts.lead_decisions (lead_id varchar, email varchar, first_name varchar,"
        " last_name varchar, company varchar, account_name varchar, source varchar, intent varchar,"
        " policy_flag varchar, high_impact_allowed boolean, disposition varchar, rule_id varchar,"
        " reason varchar, team varchar, owner_id varchar, sla_minutes integer, decided_at timestamp)"
    )
    for row in decisions:
        con.execute(
            f"insert into marts.lead_decisions values ({', '.join('?' for _ in row)})", list(row.values())
        )
    con.execute(
        "create table staging.stg_crm__owners (owner_id varchar, owner_name varchar, owner_email varchar,"
        " team varchar, is_active boolean)"
    )
    for owner_id, (name, email, active) in OWNERS.items():
        con.execute(
            "insert into staging.stg_crm__owners values (?, ?, ?, 'emea_smb', ?)",
            [owner_id, name, email, active],
        )
    for seed in ("notification_channels", "business_hours", "business_holidays"):
        con.execute(f"create table rules.{seed} as select * from read_csv('{POLICY / (seed + '.csv')}')")
    con.execute(f"create table rules.lead_state_transitions as select * from read_csv('{TRANSITIONS}')")
    return con


def fake_crm() -> FakeCrm:
    crm = FakeCrm()
    crm.seed(
        owners=[
            Owner(owner_id=i, name=n, email=e, team="emea_smb", region="EMEA", active=a, capacity=9)
            for i, (n, e, a) in OWNERS.items()
        ]
    )
    return crm


def crm_row(**overrides: Any) -> dict[str, Any]:
    return routed_row(**{"source": "web_form", **overrides})


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackApiServer]:
    with SlackApiServer() as server:
        yield server


@pytest.fixture
def slack(slack_server: SlackApiServer) -> SlackApiServer:
    slack_server.reset()
    for user_id, (_, email, _) in zip(("U0ANA", "U0BEN", "U0CY"), OWNERS.values(), strict=True):
        slack_server.add_user(email, user_id)
    slack_server.add_channel("C0EMEASMB", "sales-emea-smb")
    slack_server.add_channel("C0EMEAREVIEW", "lead-review-emea")
    return slack_server


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpCatcher]:
    with SmtpCatcher() as catcher:
        yield catcher


@pytest.fixture
def smtp(smtp_server: SmtpCatcher) -> SmtpCatcher:
    smtp_server.handler.reset()
    return smtp_server


def slack_client(slack: SlackApiServer) -> SlackWebApiNotifier:
    return SlackWebApiNotifier(web_client(TOKEN, base_url=slack.base_url, timeout_seconds=3))


def email_client(smtp: SmtpCatcher) -> SmtpEmailSender:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=smtp.port,
        security="none",
        from_address="sales@leadops.example",
        message_id_domain="leadops.example",
    )
    return SmtpEmailSender(settings, TemplateLibrary(POLICY / "email_templates"))


def kinds_in_order(con, lead_id: str = "lead_0001") -> list[str]:
    return [
        kind
        for (kind,) in con.execute(
            "select kind from ops.outbox_actions where lead_id = ? order by seq", [lead_id]
        ).fetchall()
    ]


def test_a_routed_demo_lead_gets_one_slack_alert_and_one_acknowledgement_and_a_rerun_sends_nothing_new(
    slack: SlackApiServer, smtp: SmtpCatcher
) -> None:
    con = build_warehouse([decision()])
    crm = fake_crm()
    clients = {SLACK_TARGET: slack_client(slack), EMAIL_TARGET: email_client(smtp)}

    sync_to_crm(con, crm, [crm_row()], FAST, clients=clients)

    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert slack.messages_in("DU0ANA"), "the owner is alerted by DM, found by their email"
    [message] = smtp.handler.messages
    assert message["To"].addresses[0].addr_spec == "ada@example.org"
    assert message["X-LeadOps-Template"] == "first_touch"
    assert message["X-LeadOps-Template-Version"] == "2"
    assert message["Reply-To"].addresses[0].addr_spec == "ana.owner@example.com"
    order = kinds_in_order(con)
    assert order.index(UPSERT) < order.index(ASSIGN_OWNER) < order.index(SLACK_ASSIGNMENT)
    assert order.index(ASSIGN_OWNER) < order.index(ACK_EMAIL)
    logged = con.execute(
        "select kind, recipient, template, template_version, status from ops.notification_log order by kind"
    ).fetchall()
    assert logged == [
        (ACK_EMAIL, "ada@example.org", "first_touch", 2, "written"),
        (SLACK_ASSIGNMENT, "DM:ana.owner@example.com", None, None, "written"),
    ]

    sync_to_crm(con, crm, [crm_row()], FAST, clients=clients)
    sync_to_crm(con, crm, [crm_row(reason="EMEA smb → emea_smb (details corrected)")], FAST, clients=clients)

    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(smtp.handler.messages) == 1


def test_nothing_is_announced_before_the_crm_record_and_owner_are_written(
    slack: SlackApiServer, smtp: SmtpCatcher
) -> None:
    con = build_warehouse([decision()])
    crm = fake_crm()
    crm.inject_failure("assign_owner", times=1)
    clients = {SLACK_TARGET: slack_client(slack), EMAIL_TARGET: email_client(smtp)}

    sync_to_crm(con, crm, [crm_row()], RetryPolicy(max_attempts=3, base_delay_seconds=3600), clients=clients)

    assert slack.calls_to("chat.postMessage") == []
    assert smtp.handler.messages == []
    statuses = dict(con.execute("select kind, status from ops.outbox_actions").fetchall())
    assert statuses[SLACK_ASSIGNMENT] == statuses[ACK_EMAIL] == "pending"


@pytest.mark.parametrize(
    ("facts", "row"),
    [
        ({"rule_id": "existing_customer"}, {}),
        ({"rule_id": "partner_referral"}, {}),
        ({}, {"source": "partner_referral"}),
        ({"policy_flag": "legal_threat"}, {}),
        ({"consent_marketing": False}, {}),
    ],
    ids=["customer", "partner_rule", "partner_source", "policy_sensitive", "consent_refused"],
)
def test_no_acknowledgement_email_to_customers_partners_sensitive_leads_or_refused_consent(
    facts: dict[str, Any], row: dict[str, Any]
) -> None:
    lead = decision(**facts)
    planned = plan_notifications(
        [crm_row(**row)],
        [_crm_action(UPSERT), _crm_action(ASSIGN_OWNER)],
        {"lead_0001": lead},
        {"own_1": {"owner_name": "Ana Owner", "owner_email": "ana.owner@example.com"}},
        _policy(),
        NotificationTargets(slack=True, email=True),
    )
    kinds = [action.kind for action in planned]
    assert ACK_EMAIL not in kinds
    assert SLACK_ASSIGNMENT in kinds, "the owner is still told"


def test_an_llm_draft_fills_a_slot_only_when_the_decision_allows_it() -> None:
    draft = {"product": "the Payouts API", "owner_name": "Someone Else"}
    owner = {"owner_name": "Ana Owner"}
    allowed = email_slots(decision(), crm_row(), owner, draft)
    refused = email_slots(decision(high_impact_allowed=False), crm_row(), owner, draft)
    assert allowed["product"] == "the Payouts API"
    assert allowed["owner_name"] == "Ana Owner", "only draftable slots take a draft"
    assert refused["product"] == "our platform", "the template's default text"


def interpreted(con: duckdb.DuckDBPyConnection, *, llm_products: list[str] | None) -> None:
    """lead_0001's message read as the interpretation step reads it, with the fake LLM: the local
    classifier is unsure (it names the API too), so the fake LLM answers with `llm_products`; None: no
    LLM is configured and the local answer stands."""
    from assets.interpretation.batch import interpret_batch, pending_lead
    from assets.interpretation.fake import FakeIntentInterpreterResource, ScriptedAnswer
    from assets.interpretation.store import ensure_tables, write_batch

    backends = FakeIntentInterpreterResource(
        default_local=ScriptedAnswer(message="", confidence=0.2, product_interest=["api"]),
        llm_configured=llm_products is not None,
        default_llm=ScriptedAnswer(message="", product_interest=llm_products or []),
    ).backends()
    batch = interpret_batch(
        [pending_lead({"lead_id": "lead_0001", "message": "Can we pull leads through your API?"})],
        local=backends.local,
        local_model=backends.local_model,
        llm=backends.llm.interpreter if backends.llm else None,
        llm_model=backends.llm.model if backends.llm else "",
        llm_priced=True,
        min_confidence=0.6,
        max_concurrency=1,
        run_id="run-1",
        now=lambda: DECIDED_AT,
    )
    ensure_tables(con)
    write_batch(con, batch.interpretations, batch.calls)


@pytest.mark.parametrize(
    ("high_impact_allowed", "llm_products", "product"),
    [
        (True, ["api", "analytics"], "the public API and webhooks"),
        (False, ["api"], "our platform"),
        (True, [], "our platform"),
        (True, None, "our platform"),
    ],
    ids=["llm_pick_allowed", "decision_forbids", "llm_named_no_product", "no_llm"],
)
def test_the_acknowledgement_takes_the_llms_product_only_in_its_slot_and_only_when_the_decision_allows(
    high_impact_allowed: bool, llm_products: list[str] | None, product: str
) -> None:
    from assets.outbound.outbox import OUTBOX_ACTIONS_DDL

    con = build_warehouse([decision(high_impact_allowed=high_impact_allowed)])
    con.execute(OUTBOX_ACTIONS_DDL)
    interpreted(con, llm_products=llm_products)

    planned = plan_for_sync(
        con, [crm_row()], [_crm_action(UPSERT), _crm_action(ASSIGN_OWNER)], {EMAIL_TARGET: object()}
    )

    [email] = [action.payload["email"] for action in planned if action.kind == ACK_EMAIL]
    assert email["template"] == "first_touch"
    assert email["slots"]["product"] == product
    # The lead's own words and the LLM's summary reach no slot.
    assert not {"Can we pull leads through your API?", "openai says general_info"} & set(
        email["slots"].values()
    )


def _crm_action(kind: str):
    from assets.outbound.outbox import PlannedAction

    return PlannedAction("lead_0001", kind, "lead_0001", {}, "v1")


def _policy() -> NotificationPolicy:
    con = build_warehouse([])
    from assets.outbound.notifications import load_policy

    return load_policy(con)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path_factory.mktemp("radicale")) as server:
        yield server


def add_busy(radicale: RadicaleServer, url: str, start: datetime, end: datetime) -> None:
    radicale.client().calendar(url=url).add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:busy-{start:%H%M}\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_an_allowed_auto_booking_lands_in_a_free_slot_of_the_owners_radicale_calendar(
    radicale: RadicaleServer,
) -> None:
    url = radicale.make_calendar("own_1")
    assert url.rstrip("/") == owner_calendar_url(radicale.url, USERNAME, "own_1").rstrip("/")
    # 09:00-10:15 Berlin is taken (08:00-09:15 UTC): the meeting goes at 10:15 Berlin, not on top of it.
    add_busy(radicale, url, datetime(2030, 3, 4, 8, 0), datetime(2030, 3, 4, 9, 15))
    con = build_warehouse([decision()])
    crm = fake_crm()
    resource = OutboxResource(caldav_url=radicale.url, caldav_user=USERNAME, caldav_password=PASSWORD)

    sync_to_crm(con, crm, [crm_row()], FAST, clients=resource.clients())
    sync_to_crm(con, crm, [crm_row()], FAST, clients=resource.clients())

    calendar = CalDavCalendar(
        radicale.url, username=USERNAME, password=PASSWORD, calendar_urls={"own_1": url}
    )
    uid = meeting_uid("lead_0001")
    booked = calendar.find_meeting("own_1", uid)
    assert booked is not None
    assert booked.start == datetime(2030, 3, 4, 9, 15, tzinfo=UTC)
    assert booked.end - booked.start == timedelta(minutes=30)
    assert calendar.events_with_uid("own_1", uid) == 1
    assert crm.get_record(ObjectType.TASK, external_id="lead_0001:meeting") is None
    [(status, recipient)] = con.execute(
        f"select status, recipient from ops.notification_log where kind = '{BOOK_MEETING}'"
    ).fetchall()
    assert (status, recipient) == ("written", "calendar:own_1")


@pytest.mark.parametrize(
    "facts", [{"high_impact_allowed": False}, {"team": "emea_enterprise"}], ids=["decision", "policy"]
)
def test_a_booking_the_decision_or_policy_does_not_allow_becomes_a_crm_task(facts: dict[str, Any]) -> None:
    con = build_warehouse([decision(**facts)])
    crm = fake_crm()
    calendar = FakeCalendar()

    sync_to_crm(
        con,
        crm,
        [crm_row(team=facts.get("team", "emea_smb"))],
        FAST,
        clients={CALENDAR_TARGET: lambda _: calendar},
    )

    assert calendar.meetings == {}
    task = crm.get_record(ObjectType.TASK, external_id="lead_0001:meeting")
    assert task is not None
    assert task.fields.get("owner_id") in (None, "own_1")
    assert MEETING_TASK in kinds_in_order(con)


def test_the_default_installation_plans_no_notification() -> None:
    con = build_warehouse([decision()])
    sync_to_crm(con, fake_crm(), [crm_row()], FAST, clients=OutboxResource().clients())
    assert set(kinds_in_order(con)) <= {UPSERT, ASSIGN_OWNER, "create_task", "add_note"}
    assert utc_now() is not None
