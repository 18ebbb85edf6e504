"""Reaching the right person in time: Slack alerts, the acknowledgement email and meeting booking as outbox
action kinds, planned beside the CRM's actions of the same decision.

For every decision row the CRM sync plans, and only for the targets an installation configured (Slack,
SMTP, CalDAV; none by default):

- `slack_assignment`: the owner is told by DM (found by their email) or, where the policy seed
  `notification_channels` says so or the owner has no email, the team's channel; `slack_escalation`: an
  escalated lead goes to the team's review channel;
- `ack_email`: the approved `first_touch` template (dbt_project/policies/<policy>/email_templates) to the
  lead, only when the policy seed allows it for the team and `integrations.email.policy` does not forbid it
  (customers, partner referrals, policy-sensitive leads, withheld consent); an LLM draft may fill a
  template slot only when the decision allows high-impact automation, otherwise the slot's default text.
  The draft: the first product named by the lead's latest interpretation, when an LLM made it, in the
  catalogue's reviewed words (`llm_drafts`);
- `book_meeting`: a demo request is booked in the owner's calendar, in the first free slot of the team's
  business hours, only when the decision's `high_impact_allowed` and the policy's `auto_book_meetings`
  allow it; otherwise `meeting_task`, a CRM task asking the owner to book it.

Ordering: every one of these actions follows its lead's CRM actions in the outbox, and each names the CRM
kinds it needs (`requires`): it is not sent before the lead's upsert (or contact link) and owner
assignment succeeded, however the outbox got there. Every send is logged in `ops.notification_log` with
its recipient, and for email its template and version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from assets.outbound.business_time import (
    BusinessHours,
    as_utc,
    business_deadline,
    business_hours_by_team,
    holiday_intervals,
    hours_for,
)
from assets.outbound.crm_sync import ASSIGN_OWNER, CRM_TARGET, LINK_CONTACT, UPSERT, classify_crm_error
from assets.outbound.outbox import (
    PERMANENT,
    TRANSIENT,
    UNAVAILABLE,
    ActionKind,
    ActionResult,
    OutboxAction,
    PlannedAction,
    SendContext,
    Sent,
    decision_version,
    register_action_kind,
)
from integrations.calendar.port import (
    Calendar,
    CalendarError,
    CalendarTransientError,
    Interval,
    MeetingRequest,
    WorkingHours,
)
from integrations.calendar.slots import first_free_slot
from integrations.crm.port import CrmPort
from integrations.email.policy import AutoEmailFacts, EmailConsent, auto_email_decision
from integrations.email.port import EmailError, EmailSender, EmailTransientError, OutboundEmail
from integrations.llm.schema import CATALOGUE
from integrations.slack.port import (
    AssignmentAlert,
    Escalation,
    LeadSummary,
    Notifier,
    NotifierError,
    NotifierTransientError,
)

SLACK_TARGET = "slack"
EMAIL_TARGET = "email"
CALENDAR_TARGET = "calendar"

SLACK_ASSIGNMENT = "slack_assignment"
SLACK_ESCALATION = "slack_escalation"
SLACK_SLA_REMINDER = "slack_sla_reminder"
ACK_EMAIL = "ack_email"
BOOK_MEETING = "book_meeting"
MEETING_TASK = "meeting_task"

ACK_TEMPLATE = "first_touch"
# Intents that ask for a meeting (intent_rules.csv): only these are booked or get a booking task.
MEETING_INTENTS = frozenset({"demo_request"})
MEETING_MINUTES = 30
# A week ahead covers five business days; a demo booked further out is better arranged by a person.
BOOKING_WINDOW_DAYS = 7
# An escalation has no owner SLA; the review channel is asked to act within this much business time.
ESCALATION_SLA_MINUTES = 60
# Slots an LLM draft may fill, when the decision allows high-impact automation; every other slot is
# always LeadOps' own text. A draft is one line, at most this long.
DRAFTABLE_SLOTS = frozenset({"product"})
DRAFT_MAX_CHARS = 80
DEFAULT_SLOTS = {"product": "our platform", "owner_title": "Account Executive"}

NOTIFICATION_LOG_DDL = """
create schema if not exists ops;
create table if not exists ops.notification_log (
    action_id varchar not null,
    lead_id varchar not null,
    kind varchar not null,
    recipient varchar,
    template varchar,
    template_version integer,
    message_ref varchar,
    status varchar not null,
    error varchar,
    logged_at timestamp not null
);
"""

NOTIFICATION_KINDS = frozenset(
    {SLACK_ASSIGNMENT, SLACK_ESCALATION, SLACK_SLA_REMINDER, ACK_EMAIL, BOOK_MEETING, MEETING_TASK}
)


# ----------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class TeamNotifications:
    """One row of the policy seed `notification_channels`; a team without a row is alerted by DM only."""

    team_channel: str | None = None
    review_channel: str | None = None
    alert_owner_by_dm: bool = True
    send_ack_email: bool = False
    auto_book_meetings: bool = False


@dataclass(frozen=True)
class NotificationPolicy:
    teams: Mapping[str, TeamNotifications]
    hours: Mapping[str, BusinessHours]

    def team(self, team: str | None) -> TeamNotifications:
        return self.teams.get(str(team), TeamNotifications())

    def business_hours(self, team: str | None) -> BusinessHours:
        return hours_for(self.hours, team)


def table_exists(con, schema: str, name: str) -> bool:
    [(count,)] = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(count)


def _rows(con, schema: str, name: str) -> list[dict[str, Any]]:
    if not table_exists(con, schema, name):
        return []
    return con.execute(f"select * from {schema}.{name}").df().to_dict("records")


def load_policy(con) -> NotificationPolicy:
    """The seeds as dbt loaded them into the `rules` schema (missing seeds: DM-only alerts, UTC 9-17)."""
    teams = {
        str(row["team"]): TeamNotifications(
            team_channel=text_or_none(row.get("team_channel")),
            review_channel=text_or_none(row.get("review_channel")),
            alert_owner_by_dm=bool(row.get("alert_owner_by_dm")),
            send_ack_email=bool(row.get("send_ack_email")),
            auto_book_meetings=bool(row.get("auto_book_meetings")),
        )
        for row in _rows(con, "rules", "notification_channels")
    }
    hours = business_hours_by_team(
        _rows(con, "rules", "business_hours"), _rows(con, "rules", "business_holidays")
    )
    return NotificationPolicy(teams, hours)


@dataclass(frozen=True)
class NotificationTargets:
    """Which outside systems this installation configured; a kind whose target is not set is never planned."""

    slack: bool = False
    email: bool = False
    calendar: bool = False

    @classmethod
    def of(cls, clients: Mapping[str, Any]) -> NotificationTargets:
        return cls(SLACK_TARGET in clients, EMAIL_TARGET in clients, CALENDAR_TARGET in clients)

    @property
    def any(self) -> bool:
        return self.slack or self.email or self.calendar


# ------------------------------------------------------------------------------------------------ facts


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False  # a list or an array is a value


def text_or_none(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _flag(value: Any) -> bool | None:
    if _missing(value):
        return None
    return bool(value)


_DECISION_COLUMNS = (
    "lead_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "account_name",
    "source",
    "intent",
    "policy_flag",
    "high_impact_allowed",
    "disposition",
    "rule_id",
    "reason",
    "team",
    "sla_minutes",
    "decided_at",
)


def lead_facts(con, lead_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What notifications need beyond the CRM payload: the decision's intent, flags and SLA, and the
    lead's latest stated marketing consent (raw.inbound_events via marts.lead_events)."""
    wanted = sorted(set(lead_ids))
    if not wanted or not table_exists(con, "marts", "lead_decisions"):
        return {}
    con.register("_notify_leads", pd.DataFrame({"lead_id": wanted}))
    try:
        columns = ", ".join(f"d.{column}" for column in _DECISION_COLUMNS)
        facts = {
            row["lead_id"]: row
            for row in con.execute(
                f"select {columns} from marts.lead_decisions d join _notify_leads using (lead_id)"
            )
            .df()
            .to_dict("records")
        }
        if table_exists(con, "marts", "lead_events") and table_exists(con, "raw", "inbound_events"):
            consent = con.execute(
                "select e.lead_id, arg_max(i.consent_marketing, i.received_at) from marts.lead_events e"
                " join _notify_leads using (lead_id) join raw.inbound_events i using (event_id)"
                " where i.consent_marketing is not null group by 1"
            ).fetchall()
            for lead_id, value in consent:
                if lead_id in facts:
                    facts[lead_id]["consent_marketing"] = value
    finally:
        con.unregister("_notify_leads")
    return facts


def owner_directory(con) -> dict[str, dict[str, Any]]:
    """Owners as staging.stg_crm__owners holds them (name, email, team, active)."""
    return {
        str(row["owner_id"]): row
        for row in _rows(con, "staging", "stg_crm__owners")
        if text_or_none(row.get("owner_id"))
    }


# The interpretation backend that is an LLM (the other, `local`, is the offline classifier).
LLM_BACKEND = "openai"


def llm_drafts(con, lead_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Slot drafts per lead from its latest interpretation, when an LLM made it and its answer was valid:
    the product it named first, as the product catalogue describes it. The LLM answers only catalogue ids
    (a closed enum), so neither its own words nor the lead's reach the prospect; `email_slots` still puts
    the draft in a draftable slot only, and only when the decision allows high-impact automation."""
    wanted = sorted(set(lead_ids))
    if not wanted or not table_exists(con, "interpretation", "lead_interpretations"):
        return {}
    described = {product.id: product.description for product in CATALOGUE.products}
    latest = con.execute(
        "select lead_id, arg_max(backend, interpreted_at), arg_max(is_valid, interpreted_at),"
        " arg_max(product_interest, interpreted_at) from interpretation.lead_interpretations"
        f" where lead_id in ({', '.join('?' for _ in wanted)}) group by lead_id",
        wanted,
    ).fetchall()
    drafts: dict[str, dict[str, str]] = {}
    for lead_id, backend, is_valid, product_interest in latest:
        products = [product for product in json.loads(product_interest or "[]") if product in described]
        if backend == LLM_BACKEND and is_valid and products:
            drafts[lead_id] = {"product": described[products[0]]}
    return drafts


def consent_of(value: Any) -> EmailConsent:
    """The intake's `consent.marketing`: false is a stated refusal; nothing stated is not recorded."""
    flag = _flag(value)
    if flag is None:
        return EmailConsent.NOT_RECORDED
    return EmailConsent.GRANTED if flag else EmailConsent.WITHDRAWN


def email_facts(facts: Mapping[str, Any], row: Mapping[str, Any]) -> AutoEmailFacts:
    # Either source of a fact forbids: the decision's and the CRM payload's (an override may differ).
    rule_ids = {text_or_none(facts.get("rule_id")), text_or_none(row.get("rule_id"))}
    sources = {text_or_none(facts.get("source")), text_or_none(row.get("source"))}
    return AutoEmailFacts(
        is_existing_customer="existing_customer" in rule_ids,
        is_partner_referral="partner_referral" in rule_ids | sources,
        is_policy_sensitive="policy_sensitive" in rule_ids
        or text_or_none(facts.get("policy_flag")) is not None,
        consent=consent_of(facts.get("consent_marketing")),
    )


def email_slots(
    facts: Mapping[str, Any],
    row: Mapping[str, Any],
    owner: Mapping[str, Any],
    draft: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The `first_touch` template's slots: LeadOps' own facts, and an LLM draft only in a draftable slot
    and only when the decision allows high-impact automation; otherwise the slot's default text."""
    slots = {
        "first_name": text_or_none(row.get("first_name")) or "there",
        "account": text_or_none(row.get("company")) or text_or_none(facts.get("account_name")) or "your team",
        "product": DEFAULT_SLOTS["product"],
        "owner_name": text_or_none(owner.get("owner_name")) or "the LeadOps sales team",
        "owner_title": DEFAULT_SLOTS["owner_title"],
    }
    if draft and _flag(facts.get("high_impact_allowed")):
        for slot, text in draft.items():
            line = " ".join(str(text).split())
            if slot in DRAFTABLE_SLOTS and line and len(line) <= DRAFT_MAX_CHARS:
                slots[slot] = line
    return slots


def lead_summary(lead_id: str, facts: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    first, last = text_or_none(row.get("first_name")), text_or_none(row.get("last_name"))
    email = text_or_none(row.get("email")) or text_or_none(facts.get("email"))
    name = " ".join(part for part in (first, last) if part) or email or lead_id
    domain = email.rsplit("@", 1)[-1] if email and "@" in email else None
    return LeadSummary(
        lead_id=lead_id,
        name=name,
        email=email,
        title=text_or_none(row.get("job_title")),
        account=text_or_none(row.get("company"))
        or text_or_none(facts.get("account_name"))
        or domain
        or "unknown company",
        intent=(
            text_or_none(facts.get("intent")) or text_or_none(row.get("source")) or "inbound lead"
        ).replace("_", " "),
    ).model_dump(mode="json")


def sla_deadline(
    facts: Mapping[str, Any], policy: NotificationPolicy, minutes: float | None = None
) -> datetime:
    """The lead's first-touch deadline in its team's business time, from the moment it was decided."""
    decided = facts.get("decided_at")
    start = decided.to_pydatetime() if isinstance(decided, pd.Timestamp) else decided
    if _missing(start):
        raise ValueError(f"lead {facts.get('lead_id')} has no decided_at")
    sla = facts.get("sla_minutes") if minutes is None else minutes
    sla = ESCALATION_SLA_MINUTES if text_or_none(sla) is None else float(sla)
    return business_deadline(start, sla, policy.business_hours(text_or_none(facts.get("team"))))


# --------------------------------------------------------------------------------------------- planning


def _row_version(row: Mapping[str, Any]) -> str:
    return decision_version({key: text_or_none(value) for key, value in row.items()})


def _requires(crm_planned: Sequence[PlannedAction], lead_id: str) -> list[str]:
    kinds = {action.kind for action in crm_planned if action.lead_id == lead_id}
    return sorted(kinds & {UPSERT, LINK_CONTACT, ASSIGN_OWNER})


def plan_notifications(
    rows: Iterable[Mapping[str, Any]],
    crm_planned: Sequence[PlannedAction],
    facts: Mapping[str, Mapping[str, Any]],
    owners: Mapping[str, Mapping[str, Any]],
    policy: NotificationPolicy,
    targets: NotificationTargets,
    drafts: Mapping[str, Mapping[str, str]] | None = None,
) -> list[PlannedAction]:
    """The notification actions of the CRM sync's rows, versioned like their CRM actions."""
    if not targets.any:
        return []
    planned: list[PlannedAction] = []
    for row in rows:
        lead_id = str(row.get("lead_id"))
        lead = facts.get(lead_id)
        requires = _requires(crm_planned, lead_id)
        if lead is None or not requires:
            continue  # not decided in the marts, or the CRM refused the row: nothing to announce
        version = _row_version(row)
        planned.extend(
            PlannedAction(lead_id, kind, external_id, {**payload, "requires": requires}, version)
            for kind, external_id, payload in _plan_lead(
                lead_id, row, lead, owners, policy, targets, (drafts or {}).get(lead_id)
            )
        )
    return planned


def _plan_lead(
    lead_id: str,
    row: Mapping[str, Any],
    facts: Mapping[str, Any],
    owners: Mapping[str, Mapping[str, Any]],
    policy: NotificationPolicy,
    targets: NotificationTargets,
    draft: Mapping[str, str] | None,
) -> list[tuple[str, str, dict[str, Any]]]:
    disposition = text_or_none(row.get("disposition")) or text_or_none(facts.get("disposition"))
    team_name = text_or_none(row.get("team")) or text_or_none(facts.get("team"))
    team = policy.team(team_name)
    summary = lead_summary(lead_id, facts, row)
    reason = (
        text_or_none(row.get("reason")) or text_or_none(facts.get("reason")) or "decided by the routing rules"
    )[:300]
    actions: list[tuple[str, str, dict[str, Any]]] = []
    if disposition == "escalate":
        if targets.slack and team.review_channel:
            deadline = sla_deadline(facts, policy)
            escalation = Escalation(
                lead=LeadSummary(**summary),
                review_channel=team.review_channel,
                sla_deadline=deadline,
                reason=reason,
            )
            actions.append(
                (
                    SLACK_ESCALATION,
                    f"{lead_id}:escalation",
                    {"escalation": escalation.model_dump(mode="json")},
                )
            )
        return actions
    owner_id = text_or_none(row.get("owner_id"))
    if disposition != "route" or owner_id is None:
        return actions
    owner = owners.get(owner_id, {})
    deadline = sla_deadline(facts, policy)
    if targets.slack:
        alert = assignment_alert(summary, owner, team, deadline, reason)
        if alert is not None:
            # One alert per owner and lead: a corrected decision does not announce the lead again.
            actions.append((SLACK_ASSIGNMENT, f"{lead_id}:assignment:{owner_id}", {"alert": alert}))
    email = text_or_none(row.get("email")) or text_or_none(facts.get("email"))
    if targets.email and team.send_ack_email and email:
        verdict = auto_email_decision(email_facts(facts, row))
        if verdict.allowed:
            message = OutboundEmail(
                lead_id=lead_id,
                to_address=email,
                to_name=summary["name"] if summary["name"] != email else None,
                template=ACK_TEMPLATE,
                slots=email_slots(facts, row, owner, draft),
                reply_to=text_or_none(owner.get("owner_email")),
            )
            actions.append((ACK_EMAIL, f"{lead_id}:ack_email", {"email": message.model_dump(mode="json")}))
    if targets.calendar and text_or_none(facts.get("intent")) in MEETING_INTENTS:
        hours = policy.business_hours(team_name)
        if team.auto_book_meetings and _flag(facts.get("high_impact_allowed")):
            actions.append(
                (BOOK_MEETING, lead_id, _meeting_payload(lead_id, summary, owner_id, hours, facts, deadline))
            )
        else:
            why = (
                "the team's policy does not book meetings on its own"
                if not team.auto_book_meetings
                else "this decision does not allow high-impact automation"
            )
            actions.append(
                (
                    MEETING_TASK,
                    f"{lead_id}:meeting",
                    {
                        "subject": f"Book a demo with {summary['name']} ({summary['account']}): {why}",
                        "due_at": deadline.astimezone(UTC).replace(tzinfo=None).isoformat(),
                        "owner_id": owner_id,
                    },
                )
            )
    return actions


def assignment_alert(
    summary: Mapping[str, Any],
    owner: Mapping[str, Any],
    team: TeamNotifications,
    deadline: datetime,
    reason: str,
) -> dict[str, Any] | None:
    """The owner by DM when the policy says so and their email is known, else the team channel."""
    owner_email = text_or_none(owner.get("owner_email"))
    by_dm = team.alert_owner_by_dm and owner_email is not None
    if not by_dm and not team.team_channel:
        return None
    alert = AssignmentAlert(
        lead=LeadSummary(**summary),
        owner_name=text_or_none(owner.get("owner_name")),
        owner_email=owner_email if by_dm else None,
        team_channel=None if by_dm else team.team_channel,
        sla_deadline=deadline,
        reason=reason[:300],
    )
    return alert.model_dump(mode="json")


def _meeting_payload(
    lead_id: str,
    summary: Mapping[str, Any],
    owner_id: str,
    hours: BusinessHours,
    facts: Mapping[str, Any],
    deadline: datetime,
) -> dict[str, Any]:
    decided = facts.get("decided_at")
    earliest = as_utc(decided.to_pydatetime() if isinstance(decided, pd.Timestamp) else decided)
    request = MeetingRequest(
        lead_external_id=lead_id,
        owner=owner_id,
        title=f"Demo: {summary['name']} ({summary['account']})",
        description=f"Booked by LeadOps for lead {lead_id}. Why it went here: leadops explain {lead_id}",
        attendee_email=summary.get("email"),
        length=timedelta(minutes=MEETING_MINUTES),
    )
    return {
        "request": request.model_dump(mode="json"),
        "earliest": earliest.isoformat(),
        "hours": {
            "time_zone": hours.time_zone,
            "start": hours.day_start.isoformat(),
            "end": hours.day_end.isoformat(),
            "weekdays": sorted(hours.weekdays),
            "holidays": sorted(day.isoformat() for day in hours.holidays),
        },
        "first_touch_due": deadline.isoformat(),
    }


# ------------------------------------------------------------------------------------------ the sending


class PrerequisiteNotMet(Exception):
    """The lead's CRM record or owner is not written yet: nobody is told about a lead the CRM lacks."""


def _check_requires(action: OutboxAction, context: SendContext) -> None:
    required = set(action.payload.get("requires", ()))
    missing = []
    record_kinds = required & {UPSERT, LINK_CONTACT}
    if record_kinds and not any(context.latest_done(action.lead_id, kind) for kind in record_kinds):
        missing.append(" or ".join(sorted(record_kinds)))
    if ASSIGN_OWNER in required and context.latest_done(action.lead_id, ASSIGN_OWNER) is None:
        missing.append(ASSIGN_OWNER)
    if missing:
        raise PrerequisiteNotMet(f"{action.kind} waits for {', '.join(missing)} of lead {action.lead_id}")


def _send_assignment(action: OutboxAction, context: SendContext) -> Sent:
    _check_requires(action, context)
    notifier: Notifier = context.client(SLACK_TARGET)
    posted = notifier.send_assignment(
        AssignmentAlert.model_validate(action.payload["alert"]), idempotency_key=action.action_id
    )
    return Sent(f"slack:{posted.channel}", posted.ts)


def _send_escalation(action: OutboxAction, context: SendContext) -> Sent:
    _check_requires(action, context)
    notifier: Notifier = context.client(SLACK_TARGET)
    posted = notifier.send_escalation(
        Escalation.model_validate(action.payload["escalation"]), idempotency_key=action.action_id
    )
    return Sent(f"slack:{posted.channel}", posted.ts)


def _send_email(action: OutboxAction, context: SendContext) -> Sent:
    _check_requires(action, context)
    sender: EmailSender = context.client(EMAIL_TARGET)
    sent = sender.send(
        OutboundEmail.model_validate(action.payload["email"]), idempotency_key=action.action_id
    )
    return Sent(f"email:{sent.template}", sent.message_id, sent.version)


CalendarFor = Callable[[str], Calendar]


def _send_meeting(action: OutboxAction, context: SendContext) -> Sent:
    """Book in the owner's first free slot from now (or the decision, if later), never on a busy one and
    never on a holiday; a meeting this lead already has is kept where it is."""
    _check_requires(action, context)
    calendar_for: CalendarFor = context.client(CALENDAR_TARGET)
    request = MeetingRequest.model_validate(action.payload["request"])
    calendar = calendar_for(request.owner)
    existing = calendar.find_meeting(request.owner, request.uid)
    if existing is None:
        settings = action.payload["hours"]
        hours = WorkingHours(
            time_zone=settings["time_zone"],
            start=settings["start"],
            end=settings["end"],
            weekdays=frozenset(settings["weekdays"]),
        )
        start = max(datetime.fromisoformat(action.payload["earliest"]), datetime.now(UTC))
        window = Interval(start=start, end=start + timedelta(days=BOOKING_WINDOW_DAYS))
        business = BusinessHours(
            time_zone=hours.time_zone,
            weekdays=hours.weekdays,
            day_start=hours.start,
            day_end=hours.end,
            holidays=frozenset(datetime.fromisoformat(day).date() for day in settings["holidays"]),
        )
        busy = calendar.busy(request.owner, window) + [
            Interval(start=begin, end=end)
            for begin, end in holiday_intervals(business, window.start, window.end)
        ]
        slot = first_free_slot(busy, window, request.length, hours)
        if slot is None:
            raise CalendarTransientError(
                f"no free {MEETING_MINUTES}-minute slot for {request.owner}"
                f" in the next {BOOKING_WINDOW_DAYS} days"
            )
        existing = calendar.put_meeting(request, slot)
    return Sent(f"meeting:{existing.owner}", existing.uid)


def _send_meeting_task(action: OutboxAction, context: SendContext) -> Sent:
    _check_requires(action, context)
    crm: CrmPort = context.client(CRM_TARGET)
    record = None
    for kind in (UPSERT, LINK_CONTACT):
        done = context.latest_done(action.lead_id, kind)
        if done is not None and done.result_record_id:
            record = done.result_record_id
            break
    if record is None:
        raise PrerequisiteNotMet(f"{action.kind} needs the CRM record of lead {action.lead_id}")
    payload = action.payload
    task = crm.create_task(
        action.external_id,
        record,
        payload["subject"],
        datetime.fromisoformat(payload["due_at"]),
        payload.get("owner_id"),
    )
    return Sent(str(task.object_type), task.record_id, task.version)


def classify_notification_error(error: BaseException) -> str | None:
    if isinstance(
        error, PrerequisiteNotMet | NotifierTransientError | EmailTransientError | CalendarTransientError
    ):
        return TRANSIENT
    if isinstance(error, NotifierError | EmailError | CalendarError):
        return PERMANENT
    if isinstance(error, LookupError):
        return UNAVAILABLE  # the target is not configured in this process: keep the action for later
    return None


def _classify_task_error(error: BaseException) -> str | None:
    if isinstance(error, PrerequisiteNotMet):
        return TRANSIENT
    return classify_crm_error(error)


def _retry_after(error: BaseException) -> float | None:
    return getattr(error, "retry_after_seconds", None) or getattr(error, "retry_after", None)


NOTIFICATION_ACTION_KINDS = (
    register_action_kind(
        ActionKind(
            SLACK_ASSIGNMENT, SLACK_TARGET, _send_assignment, classify_notification_error, _retry_after
        )
    ),
    register_action_kind(
        ActionKind(
            SLACK_ESCALATION, SLACK_TARGET, _send_escalation, classify_notification_error, _retry_after
        )
    ),
    register_action_kind(
        ActionKind(
            SLACK_SLA_REMINDER, SLACK_TARGET, _send_assignment, classify_notification_error, _retry_after
        )
    ),
    register_action_kind(
        ActionKind(ACK_EMAIL, EMAIL_TARGET, _send_email, classify_notification_error, _retry_after)
    ),
    register_action_kind(
        ActionKind(BOOK_MEETING, CALENDAR_TARGET, _send_meeting, classify_notification_error, _retry_after)
    ),
    register_action_kind(ActionKind(MEETING_TASK, CRM_TARGET, _send_meeting_task, _classify_task_error)),
)


# ------------------------------------------------------------------------------------------------ log


def _recipient(action: OutboxAction) -> str | None:
    payload = action.payload
    if "alert" in payload:
        alert = payload["alert"]
        return f"DM:{alert['owner_email']}" if alert.get("owner_email") else alert.get("team_channel")
    if "escalation" in payload:
        return payload["escalation"]["review_channel"]
    if "email" in payload:
        return payload["email"]["to_address"]
    if "request" in payload:
        return f"calendar:{payload['request']['owner']}"
    return payload.get("owner_id")


def log_notifications(con, results: Iterable[ActionResult]) -> int:
    """Append every notification send of a pass (and its outcome) to ops.notification_log."""
    rows = [
        {
            "action_id": result.action.action_id,
            "lead_id": result.action.lead_id,
            "kind": result.action.kind,
            "recipient": _recipient(result.action),
            "template": result.action.payload.get("email", {}).get("template"),
            "template_version": result.action.result_version if result.action.kind == ACK_EMAIL else None,
            "message_ref": result.record_id,
            "status": result.status,
            "error": result.error,
            "logged_at": result.at,
        }
        for result in results
        if result.action.kind in NOTIFICATION_KINDS
    ]
    if not rows:
        return 0
    con.execute(NOTIFICATION_LOG_DDL)
    frame = pd.DataFrame(rows)
    frame["template_version"] = frame["template_version"].astype("Int64")
    con.register("_notification_log_rows", frame)
    try:
        columns = ", ".join(frame.columns)
        con.execute(
            f"insert into ops.notification_log ({columns}) select {columns} from _notification_log_rows"
        )
    finally:
        con.unregister("_notification_log_rows")
    return len(rows)


def plan_for_sync(
    con, rows: Sequence[Mapping[str, Any]], crm_planned: Sequence[PlannedAction], clients: Mapping[str, Any]
) -> list[PlannedAction]:
    """The notification actions for the CRM sync's rows, for the targets `clients` configures."""
    targets = NotificationTargets.of(clients)
    if not targets.any:
        return []
    ids = [str(row.get("lead_id")) for row in rows]
    drafts = llm_drafts(con, ids) if targets.email else {}
    planned = plan_notifications(
        rows, crm_planned, lead_facts(con, ids), owner_directory(con), load_policy(con), targets, drafts
    )
    # A person is told, emailed or booked once per lead (per owner for alerts): a changed decision of
    # the same lead plans the same external id, which the outbox already holds, and adds nothing.
    kinds = sorted(NOTIFICATION_KINDS)
    held = set(
        con.execute(
            "select kind, external_id from ops.outbox_actions"
            f" where kind in ({', '.join('?' for _ in kinds)}) and status not in ('superseded', 'cancelled')",
            kinds,
        ).fetchall()
    )
    return [action for action in planned if (action.kind, action.external_id) not in held]
