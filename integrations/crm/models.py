"""Records that cross the CRM boundary, validated with pydantic.

The admin models (`Owner`, `Account`, `Contact`, `Opportunity`) mirror the CSV contracts of the CRM import
and the `crm.*` snapshot tables. Their ids are the CRM's own ids: the CSVs are an export of the CRM, so an
account imported as `ACC-0001` is read back as `ACC-0001`.

The write payloads (`LeadFields`, `ContactFields`) follow PATCH semantics: a field left out is kept as it is
in the CRM, a field passed as `None` is cleared. That is what `model_dump(exclude_unset=True)` gives us, and
it is how HubSpot and Salesforce updates behave too.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, NonNegativeInt


class ObjectType(StrEnum):
    OWNER = "owner"
    ACCOUNT = "account"
    CONTACT = "contact"
    OPPORTUNITY = "opportunity"
    LEAD = "lead"
    TASK = "task"
    NOTE = "note"


# Prefix of the ids the CRM generates itself ("LEAD-000001"). Owners, accounts and opportunities only ever
# arrive through the import with their own ids, so they have no prefix.
GENERATED_ID_PREFIX: dict[ObjectType, str] = {
    ObjectType.LEAD: "LEAD",
    ObjectType.CONTACT: "CONTACT",
    ObjectType.TASK: "TASK",
    ObjectType.NOTE: "NOTE",
}

# Objects that can carry an owner; `assign_owner` refuses the others.
OWNABLE_TYPES = frozenset(
    {ObjectType.LEAD, ObjectType.CONTACT, ObjectType.ACCOUNT, ObjectType.OPPORTUNITY, ObjectType.TASK}
)
# Objects a task or a note can hang off.
PARENT_TYPES = frozenset({ObjectType.LEAD, ObjectType.CONTACT, ObjectType.ACCOUNT, ObjectType.OPPORTUNITY})

CLOSED_OPPORTUNITY_STAGES = frozenset({"closed_won", "closed_lost"})

# Lead states the CRM shows a rep: the state machine minus the pipeline-internal steps
# (normalized, enriched, matched, qualified), which never reach the CRM.
LeadStatus = Literal[
    "new",
    "routed",
    "awaiting_response",
    "meeting_requested",
    "meeting_booked",
    "escalated",
    "disqualified",
    "closed",
]


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _valid_email(value: str) -> str:
    # Syntax only: a CRM import must not depend on DNS. The address is kept as written (trimmed);
    # matching keys are computed downstream.
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from error
    return value


def _bare_domain(value: str) -> str:
    domain = value.strip().lower()
    if not domain or "." not in domain or any(ch in domain for ch in " /@:"):
        raise ValueError(f"expected a bare domain like acme.com, got {value!r}")
    return domain


def _domain_list(value: Any) -> Any:
    # The CSV writes alias domains as one cell, `acme.io;acme.co.uk`.
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in (piece.strip() for piece in value.split(";")) if part]
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
RequiredText = Annotated[str, BeforeValidator(_blank_to_none), Field(min_length=1)]
Email = Annotated[str, BeforeValidator(_blank_to_none), AfterValidator(_valid_email)]
OptionalEmail = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(lambda value: None if value is None else _valid_email(value)),
]
Domain = Annotated[str, AfterValidator(_bare_domain)]
OptionalDomain = Annotated[
    str | None,
    BeforeValidator(_blank_to_none),
    AfterValidator(lambda value: None if value is None else _bare_domain(value)),
]
OptionalCount = Annotated[NonNegativeInt | None, BeforeValidator(_blank_to_none)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Record):
    owner_id: RequiredText
    name: RequiredText
    email: Email
    team: RequiredText
    region: RequiredText
    active: bool
    # Open leads a rep can take at once; 0 parks a rep without deactivating them.
    capacity: NonNegativeInt


class Account(_Record):
    account_id: RequiredText
    name: RequiredText
    domain: OptionalDomain = None
    alias_domains: Annotated[list[Domain], BeforeValidator(_domain_list)] = Field(default_factory=list)
    country: OptionalText = None
    employees: OptionalCount = None
    industry: OptionalText = None
    status: Literal["customer", "prospect"]
    owner_id: OptionalText = None


class Contact(_Record):
    contact_id: RequiredText
    account_id: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    email: OptionalEmail = None
    title: OptionalText = None
    phone: OptionalText = None
    owner_id: OptionalText = None


class Opportunity(_Record):
    opportunity_id: RequiredText
    account_id: RequiredText
    stage: RequiredText
    owner_id: OptionalText = None

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_OPPORTUNITY_STAGES


AdminRecord = Owner | Account | Contact | Opportunity


class LeadFields(_Record):
    """What the pipeline writes on a lead. Unset fields are left alone; `None` clears a field."""

    email: OptionalEmail = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    company: OptionalText = None
    job_title: OptionalText = None
    phone: OptionalText = None
    # The pattern sits on the str branch only: on the whole union it rejects None.
    country_code: Annotated[
        Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None, BeforeValidator(_blank_to_none)
    ] = None
    status: LeadStatus | None = None
    owner_id: OptionalText = None
    team: OptionalText = None
    account_id: OptionalText = None
    contact_id: OptionalText = None
    source: OptionalText = None
    description: OptionalText = None


class ContactFields(_Record):
    """What the pipeline writes on a contact. Unset fields are left alone; `None` clears a field."""

    email: OptionalEmail = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    title: OptionalText = None
    phone: OptionalText = None
    account_id: OptionalText = None
    owner_id: OptionalText = None


class CrmRecord(BaseModel):
    """One record as the CRM returns it after a read or a write."""

    model_config = ConfigDict(frozen=True)

    object_type: ObjectType
    record_id: str
    external_id: str | None
    fields: dict[str, Any]
    version: int = Field(ge=1, description="1 on creation, +1 per change")
    created_at: datetime
    updated_at: datetime
    created: bool = Field(description="this call created the record")
    changed: bool = Field(description="this call created or modified the record")


def merge_fields(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH `changes` onto `current`: `None` removes a key, anything else overwrites it."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


ADMIN_TYPES: dict[type[AdminRecord], tuple[ObjectType, str]] = {
    Owner: (ObjectType.OWNER, "owner_id"),
    Account: (ObjectType.ACCOUNT, "account_id"),
    Contact: (ObjectType.CONTACT, "contact_id"),
    Opportunity: (ObjectType.OPPORTUNITY, "opportunity_id"),
}


def admin_identity(record: AdminRecord) -> tuple[ObjectType, str, dict[str, Any]]:
    """(object type, CSV id, stored fields) of an imported record; empty values are not stored."""
    object_type, id_field = ADMIN_TYPES[type(record)]
    fields = record.model_dump(mode="json", exclude={id_field}, exclude_none=True)
    return object_type, getattr(record, id_field), fields


def owner_from_record(record: CrmRecord) -> Owner:
    return Owner(owner_id=record.record_id, **record.fields)


def account_from_record(record: CrmRecord) -> Account:
    return Account(account_id=record.record_id, **record.fields)


def contact_from_record(record: CrmRecord) -> Contact:
    # Contacts the pipeline created carry only ContactFields keys, all of which Contact knows.
    return Contact(contact_id=record.record_id, **record.fields)


def opportunity_from_record(record: CrmRecord) -> Opportunity:
    return Opportunity(opportunity_id=record.record_id, **record.fields)
