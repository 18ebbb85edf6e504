"""The inbound event contract v1: what a landed line must look like, and what happens when it does not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from assets.ingest.contract import (
    CONTRACT_VERSION,
    FIELD_LIMITS,
    MAX_LINE_BYTES,
    SCHEMA_PATH,
    ContractViolation,
    InboundEvent,
    Source,
    parse_event_line,
    render_json_schema,
)

VALID = {"event_id": "evt-1", "source": "web_form", "received_at": "2024-05-01T09:30:00Z"}


def line(**fields: object) -> str:
    payload = {**VALID, **fields}
    return json.dumps({key: value for key, value in payload.items() if value is not ...})


def violation(text: str) -> ContractViolation:
    with pytest.raises(ContractViolation) as caught:
        parse_event_line(text)
    return caught.value


def test_minimal_event_needs_only_id_source_and_timestamp() -> None:
    event = parse_event_line(line())
    assert event.event_id == "evt-1"
    assert event.source is Source.web_form
    assert event.received_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert event.email is None and event.utm is None and event.extra == {}


@pytest.mark.parametrize("field", ["event_id", "source", "received_at"])
def test_missing_required_field_is_a_violation_naming_it(field: str) -> None:
    error = violation(line(**{field: ...}))
    assert error.reason == f"contract_violation: {field}: required field is missing"


@pytest.mark.parametrize("event_id", ["", "   ", None])
def test_blank_event_id_is_a_violation(event_id: object) -> None:
    assert "event_id" in violation(line(event_id=event_id)).reason


def test_event_id_surrounding_whitespace_is_dropped_so_redeliveries_still_match() -> None:
    assert parse_event_line(line(event_id="  evt-1 \t")).event_id == "evt-1"


def test_unknown_source_is_a_violation_listing_the_allowed_values() -> None:
    error = violation(line(source="fax"))
    assert "source: 'fax' is not one of web_form, demo_request" in error.reason
    assert error.event_id == "evt-1"


@pytest.mark.parametrize("source", [member.value for member in Source])
def test_every_documented_source_is_accepted(source: str) -> None:
    assert parse_event_line(line(source=source)).source.value == source


@pytest.mark.parametrize(
    ("received_at", "expected_utc"),
    [
        ("2024-05-01T09:30:00Z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T11:30:00+02:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01t04:30:00-05:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01 09:30:00z", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T09:30:00.123456789Z", datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_received_at_accepts_rfc3339_with_offset_and_is_stored_in_utc(
    received_at: str, expected_utc: datetime
) -> None:
    assert parse_event_line(line(received_at=received_at)).received_at == expected_utc


@pytest.mark.parametrize(
    "received_at",
    [
        "2024-05-01T09:30:00",  # no offset: which time zone?
        "2024-05-01",
        "01/05/2024 09:30",
        "2024-13-01T09:30:00Z",
        "2024-05-01T25:00:00Z",
        "20240501T093000Z",
        1714555800,
        "",
    ],
)
def test_received_at_without_offset_or_not_rfc3339_is_a_violation(received_at: object) -> None:
    assert "received_at" in violation(line(received_at=received_at)).reason


def test_empty_and_whitespace_strings_become_none() -> None:
    event = parse_event_line(
        line(
            email="",
            first_name="   ",
            company="\t",
            utm={"source": " ", "medium": "cpc"},
            partner="",
            extra="",
        )
    )
    assert event.email is None and event.first_name is None and event.company is None
    assert event.utm is not None and event.utm.source is None and event.utm.medium == "cpc"
    assert event.partner is None
    assert event.extra == {}


def test_non_blank_values_are_kept_exactly_as_received() -> None:
    assert parse_event_line(line(company="  Acme, Inc. ")).company == "  Acme, Inc. "


@pytest.mark.parametrize(
    ("employees", "text"), [(250, "250"), (1000.0, "1000"), (12.5, "12.5"), ("51-200", "51-200")]
)
def test_employees_accepts_a_json_number_and_keeps_it_as_text(employees: object, text: str) -> None:
    assert parse_event_line(line(employees=employees)).employees == text


def test_unknown_top_level_fields_are_kept_in_extra() -> None:
    event = parse_event_line(line(gclid="abc", form_version=3, extra={"campaign_owner": "kim"}))
    assert event.extra == {"campaign_owner": "kim", "gclid": "abc", "form_version": 3}


def test_unknown_field_colliding_with_an_extra_key_keeps_both_values() -> None:
    event = parse_event_line(line(gclid="top-level", extra={"gclid": "inside-extra"}))
    assert event.extra == {"gclid": "inside-extra", "_unknown": {"gclid": "top-level"}}


def test_unknown_keys_inside_nested_objects_are_kept_in_extra_with_a_dotted_name() -> None:
    event = parse_event_line(
        line(utm={"source": "google", "id": "123"}, partner={"id": "p1", "tier": "gold"})
    )
    assert event.utm is not None and event.utm.source == "google"
    assert event.extra == {"utm.id": "123", "partner.tier": "gold"}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"email": {"address": "a@b.com"}}, "email: Input should be a valid string"),
        ({"phone": 4155550132}, "phone: Input should be a valid string"),
        ({"utm": "google"}, "utm: Input should be a valid dictionary"),
        ({"utm": {"source": ["a"]}}, "utm.source: Input should be a valid string"),
        ({"consent": {"marketing": "maybe"}}, "consent.marketing: Input should be a valid boolean"),
        ({"consent": True}, "consent: Input should be a valid dictionary"),
        ({"extra": ["a"]}, "extra: Input should be a valid dictionary"),
        ({"employees": True}, "employees: Input should be a valid string"),
        ({"event_id": 17}, "event_id: Input should be a valid string"),
    ],
)
def test_wrong_types_are_violations_naming_the_field(fields: dict[str, object], named: str) -> None:
    assert named in violation(line(**fields)).reason


def test_every_wrong_field_is_reported_not_only_the_first() -> None:
    reason = violation(line(phone={"n": 1}, utm=[1], source="fax")).reason
    assert "phone:" in reason and "utm:" in reason and "source:" in reason


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("{not json", "invalid_json: "),
        ('{"event_id": "e1", "event_id": "e2"}', "invalid_json: duplicate key 'event_id'"),
        ('{"event_id": "e1", "score": NaN}', "invalid_json: NaN is not valid JSON"),
        ("[1, 2]", "contract_violation: event: an event must be a JSON object, got list"),
        ('"just a string"', "contract_violation: event: an event must be a JSON object, got str"),
        ("[" * 100_000 + "]" * 100_000, "invalid_json: nested too deeply"),
    ],
)
def test_lines_that_are_not_json_objects_are_violations(text: str, starts: str) -> None:
    assert violation(text).reason.startswith(starts)


def test_violation_carries_the_event_id_when_the_line_has_one() -> None:
    assert violation(line(event_id=" evt-9 ", source="fax")).event_id == "evt-9"
    assert violation(line(event_id=17)).event_id is None
    assert violation("{oops").event_id is None


def test_consent_marketing_is_a_boolean() -> None:
    event = parse_event_line(line(consent={"marketing": False}))
    assert event.consent is not None and event.consent.marketing is False


def test_committed_json_schema_matches_the_model() -> None:
    # Regenerate with: python -m assets.ingest.contract
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json_schema()


def test_json_schema_declares_required_fields_and_accepts_unknown_ones() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["required"] == ["event_id", "source", "received_at"]
    assert schema["additionalProperties"] is True
    assert schema["properties"]["received_at"]["format"] == "date-time"
    assert CONTRACT_VERSION in schema["$comment"]


def test_model_rejects_a_source_outside_the_enum_even_when_built_directly() -> None:
    with pytest.raises(ValueError, match="source"):
        InboundEvent.model_validate({**VALID, "source": "cold_call"})


def test_schema_states_every_field_limit_of_the_contract() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for field, limit in FIELD_LIMITS.items():
        parent, _, name = field.rpartition(".")
        owner = schema["$defs"][parent.capitalize()] if parent else schema
        declared = owner["properties"][name]
        if limit.when_longer == "quarantine":
            lengths = [option.get("maxLength") for option in [declared, *declared.get("anyOf", [])]]
            assert limit.max_chars in lengths, field
        else:
            assert declared["x-truncated-at"] == limit.max_chars, field
    assert schema["x-max-line-bytes"] == MAX_LINE_BYTES


def test_identity_field_over_its_limit_is_a_violation() -> None:
    assert "email: String should have at most 320 characters" in violation(line(email="a" * 321)).reason


def test_free_text_over_its_limit_is_cut_and_the_cut_recorded() -> None:
    event = parse_event_line(line(message="m" * 25_000, utm={"term": "t" * 600}))
    assert event.message == "m" * FIELD_LIMITS["message"].max_chars
    assert event.utm is not None and event.utm.term == "t" * 500
    assert event.extra == {"_truncated": {"message": 25_000, "utm.term": 600}}


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        (line(company="\ud800"), "invalid_json: company holds a lone UTF-16 surrogate"),
        ('{"event_id": "e1", "n": 1e400}', "invalid_json: number '1e400' is too large"),
        (
            line(extra={"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}),
            "invalid_json: ",
        ),
        ("x" * (MAX_LINE_BYTES + 1), "line_too_long: "),
        (line(received_at="9999-12-31T23:59:59-14:00"), "contract_violation: received_at: "),
        (line(received_at="2100-01-01T00:00:00Z"), "contract_violation: received_at: "),
        (line(extra={"k": "v" * 70_000}), "contract_violation: event: extra holds 70,"),
    ],
)
def test_values_no_table_or_later_step_could_handle_are_violations(text: str, starts: str) -> None:
    assert violation(text).reason.startswith(starts)


def test_a_huge_value_is_quoted_shortly_in_the_reason() -> None:
    assert len(violation(line(source="s" * 100_000)).reason) < 400
