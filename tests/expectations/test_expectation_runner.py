"""The GX gates: good frames pass, each kind of defect fails naming its expectation, bad suites refuse.

Each validation costs ~0.3 s after GX's one-off 6-8 s import, so every bad frame carries exactly one
defect and the cases stay few.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey

from assets.ingest.contract import Source
from expectations.runner import (
    SUITES_DIR,
    FailedExpectation,
    SuiteLoadError,
    SuiteOutcome,
    load_suite,
    to_asset_check_result,
    validate_dataframe,
)

RAW_SUITE = SUITES_DIR / "raw_inbound_events.json"
SYNC_SUITE = SUITES_DIR / "sync_crm_leads.json"

# Nullable dtypes, as DuckDB hands them to pandas (BOOLEAN -> boolean, INTEGER -> Int32, VARCHAR -> str).
RAW_DTYPES = {
    "consent_marketing": "boolean",
    "employees_reported_min": "Int32",
    "employees_reported_max": "Int32",
}


def raw_frame(**changes_to_first_row: object) -> pd.DataFrame:
    rows = [
        {
            "event_id": "evt-1",
            "source": "web_form",
            "received_at": datetime(2025, 3, 1, 9, 30),
            "payload_json": '{"event_id": "evt-1"}',
            "email_normalized": "ana.garcia@acme.io",
            "country_code": "ES",
            "phone_e164": "+34911234567",
            "consent_marketing": True,
            "spam_signals": "",
            "employees_reported_min": 51,
            "employees_reported_max": 200,
            "batch_id": "b1",
            "file_name": "forms.jsonl",
        },
        {
            "event_id": "evt-2",
            "source": "partner_referral",
            "received_at": datetime(2025, 3, 1, 9, 31),
            "payload_json": '{"event_id": "evt-2"}',
            "email_normalized": None,
            "country_code": None,
            "phone_e164": None,
            "consent_marketing": None,
            "spam_signals": "honeypot_filled;invalid_email",
            "employees_reported_min": None,
            "employees_reported_max": None,
            "batch_id": "b1",
            "file_name": "forms.jsonl",
        },
    ]
    rows[0].update(changes_to_first_row)
    return pd.DataFrame(rows).astype(RAW_DTYPES)


def sync_frame(**changes_to_first_row: object) -> pd.DataFrame:
    base = {
        "email": None,
        "first_name": None,
        "last_name": None,
        "company": None,
        "job_title": None,
        "phone_e164": None,
        "country_code": None,
        "account_id": None,
        "contact_id": None,
        "team": None,
        "owner_id": None,
        "task_subject": None,
        "task_due_at": None,
        "note_body": None,
    }
    rows = [
        {
            **base,
            "lead_id": "lead-1",
            "email": "ana.garcia@acme.io",
            "country_code": "ES",
            "disposition": "route",
            "lead_status": "routed",
            "rule_id": "emea_mid_market",
            "reason": "ES, 51-200 employees",
            "team": "emea_mm",
            "owner_id": "own-7",
            "task_subject": "First touch: Ana Garcia",
            "task_due_at": datetime(2025, 3, 1, 10, 30),
        },
        {
            **base,
            "lead_id": "lead-2",
            "phone_e164": "+14155550100",
            "disposition": "escalate",
            "lead_status": "escalated",
            "rule_id": "no_active_owner",
            "reason": "team na_ent has no active owner",
        },
        {
            **base,
            "lead_id": "lead-3",
            "email": "x@mailinator.com",
            "disposition": "disqualify",
            "lead_status": "disqualified",
            "rule_id": "spam",
            "reason": "disposable_email",
        },
    ]
    rows[0].update(changes_to_first_row)
    return pd.DataFrame(rows)


def failed_types(outcome: SuiteOutcome) -> set[tuple[str, str | None]]:
    return {(failure.type, failure.column) for failure in outcome.failed}


def test_clean_raw_events_pass_the_ingest_gate() -> None:
    outcome = validate_dataframe(raw_frame(), RAW_SUITE)

    assert outcome.success, outcome.failed
    assert outcome.evaluated == len(load_suite(RAW_SUITE)["expectations"])


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ({"event_id": "evt-2"}, ("expect_column_values_to_be_unique", "event_id")),
        ({"source": "newsletter"}, ("expect_column_values_to_be_in_set", "source")),
        ({"phone_e164": "0911234567"}, ("expect_column_values_to_match_regex", "phone_e164")),
        ({"employees_reported_min": 500}, ("expect_column_pair_values_a_to_be_greater_than_b", None)),
        (
            {"spam_signals": "honeypot_filled;looks_spammy"},
            ("expect_column_values_to_match_regex", "spam_signals"),
        ),
    ],
    ids=[
        "duplicate_event_id",
        "unknown_source",
        "phone_not_e164",
        "headcount_range_upside_down",
        "undocumented_spam_signal",
    ],
)
def test_each_raw_defect_fails_the_expectation_that_guards_it(
    defect: dict[str, object], expected: tuple[str, str | None]
) -> None:
    outcome = validate_dataframe(raw_frame(**defect), RAW_SUITE)

    assert not outcome.success
    assert [failure.type for failure in outcome.failed] == [expected[0]]
    if expected[1] is not None:
        assert outcome.failed[0].column == expected[1]


def test_clean_payload_passes_the_outbound_gate() -> None:
    outcome = validate_dataframe(sync_frame(), SYNC_SUITE)

    assert outcome.success, outcome.failed


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ({"lead_id": "lead-2"}, ("expect_column_values_to_be_unique", "lead_id")),
        (
            {"disposition": "escalate"},
            ("expect_column_pair_values_to_be_in_set", "disposition, lead_status"),
        ),
        ({"owner_id": None}, ("expect_column_values_to_not_be_null", "owner_id")),
        ({"task_due_at": None}, ("expect_column_values_to_not_be_null", "task_due_at")),
        ({"email": None}, ("expect_column_values_to_not_be_null", "email")),
    ],
    ids=[
        "duplicate_lead",
        "status_contradicts_disposition",
        "routed_without_owner",
        "task_without_due_time",
        "no_email_and_no_phone",
    ],
)
def test_each_payload_defect_fails_the_expectation_that_guards_it(
    defect: dict[str, object], expected: tuple[str, str]
) -> None:
    outcome = validate_dataframe(sync_frame(**defect), SYNC_SUITE)

    assert failed_types(outcome) == {expected}


def test_a_missing_column_fails_its_expectations_instead_of_raising() -> None:
    outcome = validate_dataframe(sync_frame().drop(columns=["owner_id"]), SYNC_SUITE)

    assert failed_types(outcome) == {("expect_column_values_to_not_be_null", "owner_id")}
    assert 'column "owner_id"' in (outcome.failed[0].exception or "")


def test_a_misspelled_expectation_type_refuses_the_suite(tmp_path: Path) -> None:
    suite = load_suite(SYNC_SUITE)
    suite["expectations"][0]["type"] = "expect_column_values_to_not_be_nul"
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(suite), encoding="utf-8")

    with pytest.raises(SuiteLoadError, match=r"loaded 14 of 15 .*expect_column_values_to_not_be_nul"):
        validate_dataframe(sync_frame(), path)


def test_a_suite_file_of_the_wrong_shape_is_refused_before_gx_runs(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "bad", "expectations": [{"kwargs": {}}]}), encoding="utf-8")

    with pytest.raises(SuiteLoadError, match="type"):
        load_suite(path)


def test_raw_suite_accepts_exactly_the_sources_of_the_ingest_contract() -> None:
    in_set = [
        e
        for e in load_suite(RAW_SUITE)["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "source"
    ]

    assert [set(e["kwargs"]["value_set"]) for e in in_set] == [{source.value for source in Source}]


def test_a_passing_outcome_becomes_a_passing_check_without_failure_table() -> None:
    outcome = SuiteOutcome(
        suite_name="sync_crm_leads",
        success=True,
        evaluated=15,
        failed=[],
        statistics={"success_percent": 100.0},
    )

    result = to_asset_check_result(outcome, asset_key=AssetKey(["marts", "sync_crm_leads"]), check_name="gx")

    assert result.passed
    assert result.asset_key == AssetKey(["marts", "sync_crm_leads"])
    assert result.check_name == "gx"
    assert result.metadata["evaluated"].value == 15
    assert result.metadata["failed"].value == 0
    assert "failures" not in result.metadata


def test_a_failing_outcome_becomes_an_error_check_listing_each_failure() -> None:
    failure = FailedExpectation(
        type="expect_column_values_to_not_be_null",
        column="owner_id",
        kwargs={"column": "owner_id"},
        unexpected_count=2,
        unexpected_percent=40.0,
        unexpected_sample=[None, None],
    )
    outcome = SuiteOutcome(
        suite_name="sync_crm_leads",
        success=False,
        evaluated=15,
        failed=[failure],
        statistics={"success_percent": 93.3},
    )

    result = to_asset_check_result(outcome)

    assert not result.passed
    assert result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["failed"].value == 1
    table = result.metadata["failures"].value
    assert "| expect_column_values_to_not_be_null | owner_id | 2 unexpected (40.0%)" in table
