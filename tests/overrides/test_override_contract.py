"""The one validator the CLI and the run share: what a valid override is, and what a rejection says."""

from __future__ import annotations

from datetime import datetime

import pytest

from integrations.llm.schema import Intent
from integrations.overrides_file.contract import (
    CORRECTABLE_FIELDS,
    HEADER_LINE,
    Action,
    InvalidOverride,
    OverridesFileError,
    Scope,
    parse_overrides,
    render_csv_line,
    validate_override,
)

NOW = datetime(2026, 3, 1, 12, 0, 0)


def row(**changes: str) -> dict[str, str]:
    base = {
        "override_id": "ovr_000000000001",
        "created_at": "2026-03-01T09:30:00Z",
        "actor": "ann",
        "scope": "lead",
        "target_id": "lead_abc",
        "action": "reroute_owner",
        "value": "own_7",
        "reason": "customer asked for Ann",
    }
    return {**base, **changes}


def rejection(**changes: str) -> str:
    with pytest.raises(InvalidOverride) as error:
        validate_override(row(**changes), now=NOW)
    return str(error.value)


def test_a_valid_reroute_is_parsed_with_typed_values():
    override = validate_override(row(), now=NOW)
    assert override.action is Action.REROUTE_OWNER and override.scope is Scope.LEAD
    assert override.created_at == datetime(2026, 3, 1, 9, 30)
    assert override.value == "own_7"


def test_created_at_with_an_offset_is_stored_as_naive_utc():
    override = validate_override(row(created_at="2026-03-01T11:30:00+02:00"), now=NOW)
    assert override.created_at == datetime(2026, 3, 1, 9, 30)


@pytest.mark.parametrize("column", ["reason", "actor", "override_id", "created_at", "action", "scope"])
def test_a_required_column_left_empty_is_rejected_by_name(column):
    assert f"{column} is required" in rejection(**{column: "  "})


def test_unknown_action_lists_the_allowed_ones():
    message = rejection(action="promote")
    assert "promote" in message and "reroute_owner" in message


@pytest.mark.parametrize(
    ("scope", "action", "value"),
    [("account", "reroute_owner", "own_7"), ("global", "disqualify", ""), ("lead", "unmerge", "")],
)
def test_an_action_in_a_scope_it_does_not_support_is_rejected(scope, action, value):
    target = "" if scope == "global" else "x_1"
    assert "not possible for scope" in rejection(scope=scope, target_id=target, action=action, value=value)


def test_pause_works_at_lead_account_and_global_scope():
    for scope, target in (("lead", "lead_1"), ("account", "acc_1"), ("global", "")):
        override = validate_override(
            row(scope=scope, target_id=target, action="pause_automation", value=""), now=NOW
        )
        assert override.scope == scope and override.target_id == (target or None)


def test_a_global_override_cannot_name_a_target_and_others_must():
    named = rejection(scope="global", target_id="lead_1", action="pause_automation", value="")
    assert "no target_id" in named
    assert "target_id is required" in rejection(target_id="")


def test_intent_must_be_in_the_taxonomy_and_is_normalized_to_lower_case():
    override = validate_override(row(action="reclassify_intent", value="PRICING"), now=NOW)
    assert override.value == Intent.PRICING.value
    message = rejection(action="reclassify_intent", value="hot_lead")
    assert "hot_lead" in message and Intent.DEMO_REQUEST.value in message


def test_every_intent_of_the_taxonomy_is_accepted():
    for intent in Intent:
        assert validate_override(row(action="reclassify_intent", value=intent.value), now=NOW).value == intent


def test_field_corrections_are_allow_listed_and_normalized():
    country = validate_override(row(action="correct_field", value="country_code=de"), now=NOW)
    assert country.corrected_field == ("country_code", "DE")
    employees = validate_override(row(action="correct_field", value="employees=1,200"), now=NOW)
    assert employees.value == "employees=1200"
    company = validate_override(row(action="correct_field", value="company=A=B GmbH"), now=NOW)
    assert company.corrected_field == ("company", "A=B GmbH")
    assert "cannot be corrected" in rejection(action="correct_field", value="email=a@b.c")
    assert "not an ISO 3166-1" in rejection(action="correct_field", value="country_code=Germany")
    assert "whole number" in rejection(action="correct_field", value="employees=lots")
    assert "field=value" in rejection(action="correct_field", value="company")
    assert set(CORRECTABLE_FIELDS) == {
        "company",
        "country_code",
        "job_title",
        "first_name",
        "last_name",
        "employees",
    }


def test_actions_without_a_value_refuse_one():
    assert "takes no value" in rejection(action="disqualify", value="spam")


def test_a_created_at_far_in_the_future_is_rejected_as_a_typo():
    assert "in the future" in rejection(created_at="2062-03-01T09:30:00Z")
    assert "ISO-8601" in rejection(created_at="yesterday")


def test_unmerge_targets_an_event():
    override = validate_override(row(scope="event", target_id="evt_9", action="unmerge", value=""), now=NOW)
    assert override.action is Action.UNMERGE and override.target_id == "evt_9"


def file_text(*rows: dict[str, str], header: str = HEADER_LINE) -> str:
    from integrations.overrides_file.contract import Override

    lines = [header]
    for values in rows:
        override: Override = validate_override(values, now=NOW)
        lines.append(render_csv_line(override).rstrip("\n"))
    return "\n".join(lines) + "\n"


def test_a_broken_line_is_rejected_with_its_line_number_and_the_rest_go_on():
    good = file_text(row(), row(override_id="ovr_2", target_id="lead_2"))
    broken = good + 'ovr_3,2026-03-01T09:30:00Z,ann,lead,lead_3,reroute_owner,"own_1,reason\n'
    broken += "ovr_4,2026-03-01T09:30:00Z,ann,lead,lead_4,teleport,,why\n"
    parsed = parse_overrides(broken, now=NOW)
    assert [line for line, _ in parsed.accepted] == [2, 3]
    assert [(r.line_number, "teleport" in r.reason) for r in parsed.rejected] == [(4, False), (5, True)]
    assert parsed.rejected[1].raw_text.startswith("ovr_4,")


def test_columns_may_come_in_any_order_but_the_header_must_name_them_all():
    header = "reason,override_id,created_at,actor,scope,target_id,action,value"
    text = header + "\nwhy,ovr_1,2026-03-01T09:30:00Z,ann,lead,lead_1,disqualify,\n"
    assert parse_overrides(text, now=NOW).accepted[0][1].action is Action.DISQUALIFY
    with pytest.raises(OverridesFileError, match="missing: reason"):
        parse_overrides("override_id,created_at,actor,scope,target_id,action,value\n", now=NOW)


def test_no_file_and_an_empty_file_mean_no_overrides():
    assert parse_overrides(None).accepted == [] and parse_overrides("").rejected == []
    assert parse_overrides(HEADER_LINE + "\n\n").accepted == []


def test_a_duplicate_override_id_is_rejected_on_its_second_line():
    text = file_text(row(), row(target_id="lead_2"))
    parsed = parse_overrides(text, now=NOW)
    assert len(parsed.accepted) == 1
    assert parsed.rejected[0].line_number == 3 and "already used on line 2" in parsed.rejected[0].reason


def test_a_revoke_must_name_a_valid_override_of_the_same_target():
    revoke = row(override_id="ovr_r", action="revoke", value="ovr_000000000001")
    parsed = parse_overrides(file_text(row(), revoke), now=NOW)
    assert parsed.revoked_by() == {"ovr_000000000001": "ovr_r"}

    unknown = row(override_id="ovr_r", action="revoke", value="ovr_nothing")
    assert "not a valid override" in parse_overrides(file_text(unknown), now=NOW).rejected[0].reason

    other_target = row(override_id="ovr_r", target_id="lead_other", action="revoke", value="ovr_000000000001")
    parsed = parse_overrides(file_text(row(), other_target), now=NOW)
    assert "must carry its scope and target (lead lead_abc)" in parsed.rejected[0].reason


def test_line_breaks_inside_a_value_are_rejected():
    assert "one line" in rejection(reason="first\nsecond")


def test_a_written_line_reads_back_to_the_same_override():
    override = validate_override(row(reason='says "urgent", twice'), now=NOW)
    parsed = parse_overrides(HEADER_LINE + "\n" + render_csv_line(override), now=NOW)
    assert parsed.accepted == [(2, override)]
