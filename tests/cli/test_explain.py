"""`leadops explain` on a small published warehouse: what it shows about one lead's decision and overrides."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project.cli import explain_text
from dagster_project.settings import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    return Settings.from_env()


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw; create schema marts")
    con.execute(
        "create table marts.lead_decisions as select 'lead_1' as lead_id, 'ann@acme.com' as email,"
        " 'route' as disposition, 'override' as rule_id, 'override ovr_2 by bob: named account' as reason,"
        " 'amer_smb' as team, 'own_ben' as owner_id, 60 as sla_minutes,"
        " timestamp '2026-03-01 10:00:00' as decided_at, 'none' as match_method,"
        " null::varchar as account_id, null::varchar as account_name, null::varchar as contact_id,"
        " 'US' as country_code, 'AMER' as region, 'smb' as segment, 50 as employees,"
        " 'software' as industry, null::varchar as spam_signals, 'bob' as decided_by,"
        " 'ovr_2' as override_id"
    )
    con.execute("create table marts.lead_events as select 'evt_1' as event_id, 'lead_1' as lead_id")
    con.execute(
        "create table raw.inbound_events as select 'evt_1' as event_id, 'web_form' as source,"
        " timestamp '2026-03-01 09:00:00' as received_at, 'a.jsonl' as file_name, 1 as line_number,"
        " 'Ann@Acme.com' as email, 'ann@acme.com' as email_normalized, 'ann@acme.com' as email_key,"
        " 'Acme' as company, 'acme' as company_normalized, 'USA' as country, 'US' as country_code,"
        " null::varchar as phone, null::varchar as phone_e164, null::varchar as website,"
        " null::varchar as website_domain, null::integer as employees, null::varchar as spam_signals"
    )
    con.execute(
        "create table raw.operator_overrides as"
        " select * from (values"
        " ('ovr_1', timestamp '2026-03-01 09:30:00', 'bob', 'lead', 'lead_1', 'disqualify', null,"
        "  'looked like a competitor', 1),"
        " ('ovr_r', timestamp '2026-03-01 09:40:00', 'bob', 'lead', 'lead_1', 'revoke', 'ovr_1',"
        "  'it was not', 2),"
        " ('ovr_2', timestamp '2026-03-01 09:50:00', 'bob', 'lead', 'lead_1', 'reroute_owner', 'own_ben',"
        "  'named account', 3))"
        " as t(override_id, created_at, actor, scope, target_id, action, value, reason, line_number)"
    )
    return con


def test_explain_shows_the_decision_and_marks_a_revoked_override(settings):
    with _warehouse() as con:
        text = explain_text(con, "ANN@acme.com", settings)
    assert "decision: route — rule override" in text
    assert "ovr_1 disqualify on lead lead_1 by bob" in text and "(revoked by ovr_r)" in text
    assert "ovr_2 reroute_owner own_ben on lead lead_1 by bob" in text
    assert "operator overrides (" not in text, "the untested private copy of the override lines is gone"
