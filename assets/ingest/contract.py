"""Inbound event contract v1: what one line of a landed JSON Lines file must look like.

Producers (web forms, chat, partner feeds, ...) write one JSON object per line. The contract is lenient
where forms are sloppy (any optional field may be missing, null or blank) and strict where a wrong value
would silently change a decision (types, the source enum, a timestamp with an offset). Unknown fields are
never dropped: they land in `extra`, so a producer adding a field loses nothing while we catch up.

`python -m assets.ingest.contract` regenerates `inbound_event.schema.json` from the model.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

CONTRACT_VERSION = "1"
SCHEMA_PATH = Path(__file__).with_name("inbound_event.schema.json")

# Where unknown fields go when their name is already taken inside the producer's own `extra`.
UNKNOWN_FIELDS_KEY = "_unknown"


class Source(StrEnum):
    web_form = "web_form"
    demo_request = "demo_request"
    pricing_inquiry = "pricing_inquiry"
    chat = "chat"
    email_reply = "email_reply"
    partner_referral = "partner_referral"
    webinar_registration = "webinar_registration"


def _blank_to_none(value: Any) -> Any:
    """Forms send "" or "  " for a field the visitor skipped: that is the same as not sending it."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _blank_to_empty_object(value: Any) -> Any:
    return {} if _blank_to_none(value) is None else value


def _employees_as_text(value: Any) -> Any:
    """`employees` is self-reported free text; a form that sends a JSON number means the same thing."""
    value = _blank_to_none(value)
    if isinstance(value, bool):
        return value  # rejected by StrictStr below: true/false is not a headcount
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return value


OptionalText = Annotated[StrictStr | None, BeforeValidator(_blank_to_none)]
EmployeesText = Annotated[
    StrictStr | None,
    BeforeValidator(_employees_as_text, json_schema_input_type=str | int | float | None),
]

# RFC 3339 date-time: full date, "T" (or a space, which RFC 3339 allows), time, mandatory offset or Z.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})",
)


def _parse_rfc3339(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 string such as 2024-05-01T09:30:00Z")
    text = value.strip()
    if not _RFC3339.fullmatch(text):
        raise ValueError(
            f"{value!r} is not an RFC 3339 timestamp with an offset (e.g. 2024-05-01T09:30:00Z or +02:00)"
        )
    # fromisoformat keeps microseconds only: nanosecond producers lose digits nobody routes on.
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6], 1)
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from exc
    return parsed.astimezone(UTC)


class _Nested(BaseModel):
    # Unknown keys inside a nested object are accepted like top-level ones: InboundEvent moves them to
    # `extra` (as "utm.<key>") before validation, so none is ever stored here.
    model_config = ConfigDict(extra="allow")


class Utm(_Nested):
    source: OptionalText = None
    medium: OptionalText = None
    campaign: OptionalText = None
    content: OptionalText = None
    term: OptionalText = None


class Partner(_Nested):
    id: OptionalText = None
    name: OptionalText = None
    referrer_email: OptionalText = None


class Consent(_Nested):
    marketing: StrictBool | None = None


class InboundEvent(BaseModel):
    """One inbound event, as one line of a landed JSON Lines file."""

    model_config = ConfigDict(
        extra="allow",  # accepted, then moved into `extra` by _keep_unknown_fields_in_extra
        title="InboundEvent",
        json_schema_extra={"$comment": f"LeadOps inbound event contract v{CONTRACT_VERSION}"},
    )

    event_id: StrictStr = Field(description="Idempotency key: a redelivered event_id is not a new event.")
    source: Source
    received_at: Annotated[
        datetime,
        BeforeValidator(_parse_rfc3339, json_schema_input_type=str),
        Field(
            description="RFC 3339 with an offset or Z; stored in UTC.",
            json_schema_extra={"format": "date-time"},
        ),
    ]
    email: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    full_name: OptionalText = None
    company: OptionalText = None
    website: OptionalText = None
    job_title: OptionalText = None
    phone: OptionalText = None
    country: OptionalText = None
    employees: EmployeesText = Field(default=None, description="Self-reported headcount, free text.")
    message: OptionalText = None
    utm: Annotated[Utm | None, BeforeValidator(_blank_to_none)] = None
    landing_page: OptionalText = None
    partner: Annotated[Partner | None, BeforeValidator(_blank_to_none)] = None
    consent: Annotated[Consent | None, BeforeValidator(_blank_to_none)] = None
    honeypot: OptionalText = Field(default=None, description="Hidden form field; humans leave it empty.")
    ip: OptionalText = None
    user_agent: OptionalText = None
    extra: Annotated[
        dict[str, Any],
        BeforeValidator(_blank_to_empty_object),
        Field(description="Producer-specific fields; unknown top-level fields are added here."),
    ] = Field(default_factory=dict)

    @field_validator("event_id")
    @classmethod
    def _event_id_not_blank(cls, value: str) -> str:
        # Surrounding whitespace is transport noise; keeping it would make " e1" and "e1" two events.
        value = value.strip()
        if not value:
            raise ValueError("event_id must be a non-empty string")
        return value

    @model_validator(mode="before")
    @classmethod
    def _keep_unknown_fields_in_extra(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"an event must be a JSON object, got {type(data).__name__}")
        known = set(cls.model_fields)
        unknown: dict[str, Any] = {key: value for key, value in data.items() if key not in known}
        cleaned = {key: value for key, value in data.items() if key in known}
        for name, model in _NESTED.items():
            nested = cleaned.get(name)
            if isinstance(nested, dict):
                allowed = set(model.model_fields)
                cleaned[name] = {key: value for key, value in nested.items() if key in allowed}
                unknown.update(
                    {f"{name}.{key}": value for key, value in nested.items() if key not in allowed}
                )
        if unknown:
            cleaned["extra"] = _merge_unknown(cleaned.get("extra"), unknown)
        return cleaned


_NESTED: dict[str, type[_Nested]] = {"utm": Utm, "partner": Partner, "consent": Consent}


def _merge_unknown(extra: Any, unknown: dict[str, Any]) -> Any:
    """Add unknown fields to the producer's `extra`; a name clash keeps both values."""
    if _blank_to_none(extra) is None:
        return dict(unknown)
    if not isinstance(extra, dict):
        return extra  # the field validator reports the wrong type; nothing to merge into
    merged = dict(extra)
    clashes = {key: value for key, value in unknown.items() if key in merged or key == UNKNOWN_FIELDS_KEY}
    merged.update({key: value for key, value in unknown.items() if key not in clashes})
    if clashes:
        slot = UNKNOWN_FIELDS_KEY
        suffix = 1
        while slot in merged:
            slot = f"{UNKNOWN_FIELDS_KEY}_{suffix}"
            suffix += 1
        merged[slot] = clashes
    return merged


class ContractViolation(ValueError):
    """A landed line that is not a v1 inbound event; `reason` is what the quarantine records."""

    def __init__(self, reason: str, event_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; one of the two values would be lost.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_event_line(line: str) -> InboundEvent:
    """Parse one JSON Lines line into an event, or raise ContractViolation saying what is wrong.

    Reasons start with a stable code (`invalid_json:` or `contract_violation:`) so they can be counted.
    """
    try:
        payload = json.loads(
            line, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_reject_constant
        )
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ContractViolation(f"invalid_json: {exc}") from exc
    except RecursionError as exc:  # [[[[...]]]] nested beyond the parser's stack
        raise ContractViolation("invalid_json: nested too deeply") from exc
    event_id = _extract_event_id(payload)
    try:
        return InboundEvent.model_validate(payload)
    except ValidationError as exc:
        raise ContractViolation(f"contract_violation: {describe_errors(exc)}", event_id) from exc


def _extract_event_id(payload: Any) -> str | None:
    """The event_id of a bad line, when it has a usable one, so its delivery can still be traced."""
    if isinstance(payload, dict) and isinstance(payload.get("event_id"), str):
        return payload["event_id"].strip() or None
    return None


def describe_errors(exc: ValidationError) -> str:
    """One line naming each offending field, e.g. `utm: Input should be a valid dictionary ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "enum":
            message = f"{error['input']!r} is not one of {', '.join(source.value for source in Source)}"
        parts.append(f"{location}: {message}")
    return "; ".join(parts)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one landed line, as committed in inbound_event.schema.json."""
    schema = InboundEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render_json_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
