"""Inbound event contract v1: what one line of a landed JSON Lines file must look like.

Producers (web forms, chat, partner feeds, ...) write one JSON object per line. The contract is lenient
where forms are sloppy (any optional field may be missing, null or blank) and strict where a wrong value
would silently change a decision (types, the source enum, a timestamp with an offset). Unknown fields are
never dropped: they land in `extra`, so a producer adding a field loses nothing while we catch up.

Every line costs a bounded amount of work, whatever a producer sends (docs/inbound-contract.md):

- a line longer than MAX_LINE_BYTES (1 MiB) is quarantined unparsed (`line_too_long`);
- JSON nested deeper than MAX_DEPTH (32) levels, a number too large for a float or an int of more than
  4,300 digits, a lone UTF-16 surrogate (`"\\ud800"`) in any key or value and a duplicated key are
  `invalid_json`;
- each text field has a length limit in FIELD_LIMITS. Fields that decide matching or routing (event_id,
  email, names, company, website, phone, country, employees, partner) are quarantined when longer
  (`contract_violation: <field>: String should have at most N characters`); free text nobody matches on
  (message, user_agent, landing_page, honeypot, utm.*) is cut to the limit and the cut is recorded in
  `extra["_truncated"]` as {field: original length}; payload_json keeps the whole line;
- `extra` serialized as JSON may hold MAX_EXTRA_CHARS (65,536) characters, else the line is quarantined;
- received_at must fall between 1970-01-01 and 2100-01-01 UTC: year 9999 is a producer bug, and dates
  at the edge of the calendar overflow when converted to UTC or when an SLA interval is added to them.

`python -m assets.ingest.contract` regenerates `inbound_event.schema.json` from the model; its maxLength
and `x-truncated-at` keywords come from FIELD_LIMITS.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

CONTRACT_VERSION = "1"
SCHEMA_PATH = Path(__file__).with_name("inbound_event.schema.json")

# Where unknown fields go when their name is already taken inside the producer's own `extra`.
UNKNOWN_FIELDS_KEY = "_unknown"
# Where the original length of each cut field is recorded: {"message": 48210}.
TRUNCATED_FIELDS_KEY = "_truncated"

# A real lead is under 10 KB; 1 MiB leaves room for a pasted RFP while bounding a line's parse to ~10 ms.
MAX_LINE_BYTES = 1_048_576
# Producers' `extra` objects nest 2-3 levels; 32 stays far below the parser's recursion limit (~1,000).
MAX_DEPTH = 32
MAX_EXTRA_CHARS = 65_536
# received_at must lie in [RECEIVED_AT_MIN, RECEIVED_AT_MAX).
RECEIVED_AT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
RECEIVED_AT_MAX = datetime(2100, 1, 1, tzinfo=UTC)
# Reasons quote at most this many characters of an offending value: a 5 MB value must not make a 5 MB reason.
_QUOTE_CHARS = 80


@dataclass(frozen=True)
class FieldLimit:
    """Most characters a text field may hold, and what happens to a longer value."""

    max_chars: int
    when_longer: Literal["quarantine", "truncate"]


# Limits sit well above real values (RFC 5321 caps an address at 254 characters; the longest company names
# run ~160) and far below what would slow normalization (phonenumbers, nameparser, cleanco, the spam
# regexes all run in under a millisecond at these sizes).
FIELD_LIMITS: dict[str, FieldLimit] = {
    "event_id": FieldLimit(200, "quarantine"),
    "email": FieldLimit(320, "quarantine"),
    "first_name": FieldLimit(200, "quarantine"),
    "last_name": FieldLimit(200, "quarantine"),
    "full_name": FieldLimit(400, "quarantine"),
    "company": FieldLimit(300, "quarantine"),
    "website": FieldLimit(2_000, "quarantine"),
    "job_title": FieldLimit(300, "quarantine"),
    "phone": FieldLimit(64, "quarantine"),
    "country": FieldLimit(100, "quarantine"),
    "employees": FieldLimit(100, "quarantine"),
    "ip": FieldLimit(100, "quarantine"),
    "partner.id": FieldLimit(200, "quarantine"),
    "partner.name": FieldLimit(300, "quarantine"),
    "partner.referrer_email": FieldLimit(320, "quarantine"),
    "message": FieldLimit(20_000, "truncate"),
    "user_agent": FieldLimit(1_000, "truncate"),
    "landing_page": FieldLimit(2_000, "truncate"),
    "honeypot": FieldLimit(1_000, "truncate"),
    "utm.source": FieldLimit(500, "truncate"),
    "utm.medium": FieldLimit(500, "truncate"),
    "utm.campaign": FieldLimit(500, "truncate"),
    "utm.content": FieldLimit(500, "truncate"),
    "utm.term": FieldLimit(500, "truncate"),
}


def _quote(value: Any) -> str:
    """repr of a value, cut to _QUOTE_CHARS characters (repr also escapes lone surrogates)."""
    text = repr(value)
    return text if len(text) <= _QUOTE_CHARS else f"{text[:_QUOTE_CHARS]}... ({len(text):,} characters)"


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


def _text(field: str) -> Any:
    """An optional text field with its FIELD_LIMITS limit: maxLength when a longer value is quarantined;
    a truncating field accepts any length (InboundEvent cuts it first) and documents where it is cut."""
    limit = FIELD_LIMITS[field]
    if limit.when_longer == "quarantine":
        return Annotated[
            Annotated[StrictStr, StringConstraints(max_length=limit.max_chars)] | None,
            BeforeValidator(_blank_to_none),
        ]
    return Annotated[
        StrictStr | None,
        BeforeValidator(_blank_to_none),
        Field(json_schema_extra={"x-truncated-at": limit.max_chars}),
    ]


EmployeesText = Annotated[
    Annotated[StrictStr, StringConstraints(max_length=FIELD_LIMITS["employees"].max_chars)] | None,
    BeforeValidator(_employees_as_text, json_schema_input_type=str | int | float | None),
    # The input schema above replaces the string one, so its limit is restated (it applies to strings).
    Field(json_schema_extra={"maxLength": FIELD_LIMITS["employees"].max_chars}),
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
            f"{_quote(value)} is not an RFC 3339 timestamp with an offset"
            " (e.g. 2024-05-01T09:30:00Z or +02:00)"
        )
    # fromisoformat keeps microseconds only: nanosecond producers lose digits nobody routes on.
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6], 1)
    try:
        parsed = datetime.fromisoformat(text.upper()).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from exc
    except OverflowError as exc:  # 9999-12-31T23:59:59-14:00 is past the last representable instant
        raise ValueError(f"{value!r} is outside the supported date range") from exc
    if not RECEIVED_AT_MIN <= parsed < RECEIVED_AT_MAX:
        raise ValueError(
            f"{value!r} is outside {RECEIVED_AT_MIN:%Y-%m-%d} to {RECEIVED_AT_MAX:%Y-%m-%d} (UTC)"
        )
    return parsed


class _Nested(BaseModel):
    # Unknown keys inside a nested object are accepted like top-level ones: InboundEvent moves them to
    # `extra` (as "utm.<key>") before validation, so none is ever stored here.
    model_config = ConfigDict(extra="allow")


class Utm(_Nested):
    source: _text("utm.source") = None
    medium: _text("utm.medium") = None
    campaign: _text("utm.campaign") = None
    content: _text("utm.content") = None
    term: _text("utm.term") = None


class Partner(_Nested):
    id: _text("partner.id") = None
    name: _text("partner.name") = None
    referrer_email: _text("partner.referrer_email") = None


class Consent(_Nested):
    marketing: StrictBool | None = None


class InboundEvent(BaseModel):
    """One inbound event, as one line of a landed JSON Lines file."""

    model_config = ConfigDict(
        extra="allow",  # accepted, then moved into `extra` by _keep_unknown_fields_in_extra
        title="InboundEvent",
        json_schema_extra={
            "$comment": f"LeadOps inbound event contract v{CONTRACT_VERSION}",
            "x-max-line-bytes": MAX_LINE_BYTES,
            "x-max-depth": MAX_DEPTH,
            "x-max-extra-chars": MAX_EXTRA_CHARS,
        },
    )

    event_id: Annotated[StrictStr, StringConstraints(max_length=FIELD_LIMITS["event_id"].max_chars)] = Field(
        description="Idempotency key: a redelivered event_id is not a new event."
    )
    source: Source
    received_at: Annotated[
        datetime,
        BeforeValidator(_parse_rfc3339, json_schema_input_type=str),
        Field(
            description="RFC 3339 with an offset or Z, from 1970-01-01 to 2100-01-01 UTC; stored in UTC.",
            json_schema_extra={"format": "date-time"},
        ),
    ]
    email: _text("email") = None
    first_name: _text("first_name") = None
    last_name: _text("last_name") = None
    full_name: _text("full_name") = None
    company: _text("company") = None
    website: _text("website") = None
    job_title: _text("job_title") = None
    phone: _text("phone") = None
    country: _text("country") = None
    employees: EmployeesText = Field(default=None, description="Self-reported headcount, free text.")
    message: _text("message") = None
    utm: Annotated[Utm | None, BeforeValidator(_blank_to_none)] = None
    landing_page: _text("landing_page") = None
    partner: Annotated[Partner | None, BeforeValidator(_blank_to_none)] = None
    consent: Annotated[Consent | None, BeforeValidator(_blank_to_none)] = None
    honeypot: _text("honeypot") = Field(default=None, description="Hidden form field; humans leave it empty.")
    ip: _text("ip") = None
    user_agent: _text("user_agent") = None
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
        truncated = _truncate_long_text(cleaned)
        if truncated:
            unknown[TRUNCATED_FIELDS_KEY] = truncated
        if unknown:
            cleaned["extra"] = _merge_unknown(cleaned.get("extra"), unknown)
        return cleaned

    @model_validator(mode="after")
    def _extra_within_limit(self) -> InboundEvent:
        size = len(json.dumps(self.extra, ensure_ascii=False))
        if size > MAX_EXTRA_CHARS:
            raise ValueError(f"extra holds {size:,} characters as JSON, over the {MAX_EXTRA_CHARS:,} limit")
        return self


_NESTED: dict[str, type[_Nested]] = {"utm": Utm, "partner": Partner, "consent": Consent}


def _truncate_long_text(data: dict[str, Any]) -> dict[str, int]:
    """Cut each truncating field longer than its limit, in place; {field: original length} of the cut ones."""
    truncated: dict[str, int] = {}
    for field, limit in FIELD_LIMITS.items():
        if limit.when_longer != "truncate":
            continue
        parent, _, name = field.rpartition(".")
        holder = data.get(parent) if parent else data
        if not isinstance(holder, dict):
            continue
        value = holder.get(name)
        if isinstance(value, str) and len(value) > limit.max_chars:
            holder[name] = value[: limit.max_chars]
            truncated[field] = len(value)
    return truncated


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


def _finite_float(text: str) -> float:
    # 1e400 parses to inf, which json.dumps would write back as the non-JSON token Infinity.
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {_quote(text)} is too large")
    return value


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; one of the two values would be lost.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {_quote(key)}")
        result[key] = value
    return result


# JSON's \ud800 escape decodes to a lone surrogate (a valid pair decodes to one character): no UTF-8
# encoder, so no table, can store it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_values(payload: Any) -> None:
    """Raise ValueError for nesting deeper than MAX_DEPTH or a lone surrogate in any key or string value.

    Iterative, so a deeply nested value cannot exhaust the stack here.
    """
    stack: list[tuple[Any, int, str]] = [(payload, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ValueError(f"{path or 'the event'} is nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                key_text = str(key)
                if _LONE_SURROGATE.search(key_text):
                    raise ValueError(f"key {_quote(key_text)} holds a lone UTF-16 surrogate")
                stack.append((item, depth + 1, f"{path}.{key_text}" if path else key_text))
        elif isinstance(value, str) and _LONE_SURROGATE.search(value):
            raise ValueError(f"{path or 'the event'} holds a lone UTF-16 surrogate: {_quote(value)}")


def payload_sha256(line: str) -> str:
    """sha256 of a line's JSON with keys sorted and whitespace removed: the same event sent with another
    key order or spacing has the same hash; any changed value changes it."""
    canonical = json.dumps(
        json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(canonical).hexdigest()


def parse_event_line(line: str) -> InboundEvent:
    """Parse one JSON Lines line into an event, or raise ContractViolation saying what is wrong.

    Reasons start with a stable code (`line_too_long:`, `invalid_json:` or `contract_violation:`) so
    they can be counted.
    """
    size = len(line.encode("utf-8", errors="surrogatepass"))
    if size > MAX_LINE_BYTES:
        raise ContractViolation(f"line_too_long: {size:,} bytes, over the {MAX_LINE_BYTES:,}-byte limit")
    try:
        payload = json.loads(
            line,
            object_pairs_hook=_object_without_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except ValueError as exc:  # JSONDecodeError is a ValueError; so is an int of more than 4,300 digits
        raise ContractViolation(f"invalid_json: {exc}") from exc
    except RecursionError as exc:  # [[[[...]]]] nested beyond the parser's stack
        raise ContractViolation("invalid_json: nested too deeply") from exc
    event_id = _extract_event_id(payload)
    try:
        _check_values(payload)
    except ValueError as exc:
        raise ContractViolation(f"invalid_json: {exc}", event_id) from exc
    try:
        return InboundEvent.model_validate(payload)
    except ValidationError as exc:
        raise ContractViolation(f"contract_violation: {describe_errors(exc)}", event_id) from exc


def _extract_event_id(payload: Any) -> str | None:
    """The event_id of a bad line, when it has a usable one, so its delivery can still be traced."""
    if isinstance(payload, dict) and isinstance(payload.get("event_id"), str):
        event_id = payload["event_id"].strip()
        if len(event_id) <= FIELD_LIMITS["event_id"].max_chars:
            return event_id or None
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
            message = f"{_quote(error['input'])} is not one of {', '.join(source.value for source in Source)}"
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
