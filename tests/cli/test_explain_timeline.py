"""`leadops explain` prints marts.lead_timeline as it stands: every step counted, flags and evidence shown."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project.cli import explain_text, timeline_lines


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from dagster_project.settings import Settings

    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    return Settings.from_env()


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw; create schema marts")
    con.execute("create table marts.lead_events as select 'evt_1' as event_id, 'lead_1' as lead_id")
    con.execute("create table raw.inbound_events as select 'evt_1' as event_id, 'ann@acme.com' as email_key")
    con.execute(
        "create table marts.lead_decisions as select 'lead_1' as lead_id, 'ann@acme.com' as email,"
        " 'escalate' as disposition, 'unclear_intent' as rule_id, 'message unclear' as reason,"
        " null::varchar as team, null::varchar as owner_id, null::integer as sla_minutes,"
        " timestamp '2026-03-01 10:00:00' as decided_at, 'none' as match_method,"
        " null::varchar as account_id, null::varchar as account_name, null::varchar as contact_id,"
        " 'US' as country_code, 'AMER' as region, 'smb' as segment, 50 as employees,"
        " 'software' as industry, null::varchar as spam_signals"
    )
    con.execute(
        "create table marts.lead_timeline as select * from (values"
        " ('lead_1', 1, timestamp '2026-03-01 09:00:00', 'event_received', 'evt_1', null,"
        "  'web_form (a.jsonl:1)', null, null),"
        " ('lead_1', 2, timestamp '2026-03-01 10:00:00', 'interpretation', 'injection_rule', null,"
        "  'intent unclear via rule (injection_rule) confidence -', null,"
        "  'injection suspected (rule ignore_instructions): the message decided nothing'),"
        " ('lead_1', 3, timestamp '2026-03-01 10:01:00', 'state_transition', '1', 'pipeline',"
        "  'matched → escalated (rules v1)', '{\"rule_id\": \"unclear_intent\"}', null))"
        " as t(lead_id, position, occurred_at, step, subject_id, actor, detail, evidence, flag)"
    )
    return con


def test_explain_prints_each_timeline_row_with_its_flag_and_evidence(settings):
    with _warehouse() as con:
        text = explain_text(con, "ann@acme.com", settings)
    assert "decision: escalate — rule unclear_intent" in text
    assert "interpretation injection_rule: intent unclear via rule (injection_rule)" in text
    assert "flag: injection suspected (rule ignore_instructions)" in text
    assert "state_transition 1: matched → escalated (rules v1) by pipeline" in text
    assert 'evidence: {"rule_id": "unclear_intent"}' in text
    assert text.index("event_received") < text.index("interpretation injection_rule")


def test_every_step_is_counted_so_a_lead_that_never_reached_the_crm_says_so():
    with _warehouse() as con:
        header = timeline_lines(con, "lead_1")[0]
    assert header.startswith("  timeline (3 steps): events (1),")
    assert "state transitions (1)" in header and "CRM writes (0)" in header and "CRM conflicts (0)" in header


def test_a_warehouse_without_the_timeline_says_how_to_build_it():
    with duckdb.connect() as con:
        assert timeline_lines(con, "lead_1") == [
            "  timeline: not built yet (`leadops run` builds marts.lead_timeline)"
        ]
