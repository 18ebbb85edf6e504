"""Outcome event contract v1: one line of a JSON Lines file in the feedback landing zone.

An outcome is something that happened to a lead after LeadOps routed it, reported by the CRM or a person:
a person reassigned the owner, the status changed, the lead converted, an opportunity moved (stage and
amount over time), a meeting was booked/held/cancelled/missed, the owner first touched the lead, or a rep
marked the lead as spam or wrongly routed. docs/outcome-contract.md is the producer's guide.

Every kind carries `outcome_id` (the idempotency key: the same id twice changes nothing), `lead_id` or
`crm_external_id` (the id LeadOps wrote the lead to the CRM under), `occurred_at` (event time with an
offset: state is decided by event time, never by arrival order), `actor` and `actor_type`. Unknown fields
are refused rather than dropped: a producer with something new bumps `contract_version` and we add it.

`python -m assets.feedback.contract` regenerates `outcome_event.schema.json` from these models.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

CONTRACT_VERSION = "1"
SCHEMA_PATH = Path(__file__).with_name("outcome_event.schema.json")
# An outcome is a few hundred bytes; 64 KiB bounds a line's parse while leaving room for a long note.
MAX_LINE_BYTES = 65_536
# occurred_at must lie in [OCCURRED_AT_MIN, OCCURRED_AT_MAX): year 9999 is a producer bug, not an outcome.
OCCURRED_AT_MIN = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_AT_MAX = datetime(2100, 1, 1, tzinfo=UTC)

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)]


class ActorType(StrEnum):
    person = "person"
    system = "system"


class ReassignReason(StrEnum):
    wrong_territory = "wrong_territory"
    wrong_team = "wrong_team"
    wrong_segment = "wrong_segment"
    out_of_office = "out_of_office"
    capacity = "capacity"
    rebalance = "rebalance"
    other = "other"


class LeadStatus(StrEnum):
    new = "new"
    working = "working"
    nurturing = "nurturing"
    qualified = "qualified"
    unqualified = "unqualified"
    converted = "converted"
    closed = "closed"


class OpportunityStage(StrEnum):
    created = "created"
    discovery = "discovery"
    proposal = "proposal"
    negotiation = "negotiation"
    closed_won = "closed_won"
    closed_lost = "closed_lost"


class MeetingStatus(StrEnum):
    booked = "booked"
    held = "held"
    cancelled = "cancelled"
    no_show = "no_show"


class TouchChannel(StrEnum):
    call = "call"
    email = "email"
    task = "task"


class RepMark(StrEnum):
    spam = "spam"
    wrong_routing = "wrong_routing"
    wrong_account = "wrong_account"


class _Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_version: Literal["1"] = CONTRACT_VERSION
    outcome_id: Id
    lead_id: Id | None = None
    crm_external_id: Id | None = None
    occurred_at: AwareDatetime
    actor: Id
    actor_type: ActorType = ActorType.person

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if not OCCURRED_AT_MIN <= value < OCCURRED_AT_MAX:
            raise ValueError(f"must fall between {OCCURRED_AT_MIN:%Y-%m-%d} and {OCCURRED_AT_MAX:%Y-%m-%d}")
        return value

    @model_validator(mode="after")
    def _names_a_lead(self):
        if self.lead_id is None and self.crm_external_id is None:
            raise ValueError("give lead_id or crm_external_id")
        return self

    @property
    def occurred_at_utc(self) -> datetime:
        """UTC without an offset: the warehouse stores naive UTC timestamps."""
        return self.occurred_at.astimezone(UTC).replace(tzinfo=None)


class OwnerReassigned(_Outcome):
    """A person gave the lead to another owner. Within the policy window this counts as a misroute."""

    kind: Literal["owner_reassigned"]
    to_owner_id: Id
    from_owner_id: Id | None = None
    reason: ReassignReason = ReassignReason.other


class StatusChanged(_Outcome):
    kind: Literal["status_changed"]
    status: LeadStatus


class LeadConverted(_Outcome):
    """The lead became a contact (and usually an account and an opportunity) in the CRM."""

    kind: Literal["lead_converted"]
    contact_id: Id | None = None
    account_id: Id | None = None


class OpportunityUpdated(_Outcome):
    """An opportunity from the lead was created or moved: one event per change, stage and amount then."""

    kind: Literal["opportunity_updated"]
    opportunity_id: Id
    stage: OpportunityStage
    amount: Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), decimal_places=2)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class MeetingChanged(_Outcome):
    kind: Literal["meeting"]
    meeting_id: Id
    status: MeetingStatus
    meeting_at: AwareDatetime | None = None


class FirstTouch(_Outcome):
    """The owner's first call, email or completed task with the lead (the end of speed-to-lead)."""

    kind: Literal["first_touch"]
    channel: TouchChannel


class MarkedByRep(_Outcome):
    kind: Literal["marked_by_rep"]
    mark: RepMark
    note: Text | None = None


OutcomeEvent = Annotated[
    OwnerReassigned
    | StatusChanged
    | LeadConverted
    | OpportunityUpdated
    | MeetingChanged
    | FirstTouch
    | MarkedByRep,
    Field(discriminator="kind"),
]
OUTCOME_KINDS = (
    "owner_reassigned",
    "status_changed",
    "lead_converted",
    "opportunity_updated",
    "meeting",
    "first_touch",
    "marked_by_rep",
)
_ADAPTER: TypeAdapter[Any] = TypeAdapter(OutcomeEvent)


class OutcomeContractViolation(ValueError):
    """A line that is not a valid outcome: `reason` is `<code>: <detail>` for the quarantine."""

    def __init__(self, reason: str, outcome_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome_id = outcome_id


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"duplicated key(s) {duplicated}")
    return dict(pairs)


def parse_outcome_line(text: str) -> _Outcome:
    """One line → a validated outcome, or OutcomeContractViolation naming what is wrong."""
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_LINE_BYTES:
        raise OutcomeContractViolation(f"line_too_long: more than {MAX_LINE_BYTES:,} bytes")
    try:
        payload = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise OutcomeContractViolation(f"invalid_json: {exc}") from None
    if not isinstance(payload, dict):
        raise OutcomeContractViolation(
            f"invalid_json: a line must be an object, got {type(payload).__name__}"
        )
    outcome_id = payload.get("outcome_id") if isinstance(payload.get("outcome_id"), str) else None
    try:
        return _ADAPTER.validate_python(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'line'}: {error['msg']}"
            for error in exc.errors()
        )
        raise OutcomeContractViolation(f"contract_violation: {problems}", outcome_id) from None


def json_schema() -> dict[str, Any]:
    schema = _ADAPTER.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://leadops.dev/schemas/outcome_event.v{CONTRACT_VERSION}.json",
        "title": f"LeadOps outcome event v{CONTRACT_VERSION}",
        **schema,
    }


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
