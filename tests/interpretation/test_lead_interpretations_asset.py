"""The interpretation asset on a temporary DuckDB file, with the fake interpreter and the scripted server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pytest
from dagster import materialize
from dagster_duckdb import DuckDBResource
from interpretation_warehouse import create_warehouse, lead, query, replace_leads
from openai_compatible_server import answer

from assets.interpretation.assets import LEAD_INTERPRETATIONS_KEY, lead_interpretations
from assets.interpretation.batch import DEFAULT_MIN_CONFIDENCE
from assets.interpretation.fake import FAKE_LLM_MODEL, FakeIntentInterpreterResource, ScriptedAnswer
from assets.interpretation.local_classifier import LocalIntentClassifier
from assets.interpretation.resource import IntentInterpreterResource
from assets.interpretation.store import read_min_confidence
from integrations.llm.schema import Intent, PolicyFlag

LEADS = [
    lead("L1", "how much for 20 seats?"),
    lead("L2", "hmm"),
    lead("L3", "our lawyer will contact you"),
    lead("L4", "already routed by rules", needs=False),
    lead("L5", "slow server"),
]
LOCAL = [
    ScriptedAnswer(message="how much for 20 seats?", intent=Intent.PRICING, confidence=0.95),
    ScriptedAnswer(message="hmm", intent=Intent.GENERAL_INFO, confidence=0.3),
    ScriptedAnswer(
        message="our lawyer will contact you",
        intent=Intent.SUPPORT,
        confidence=0.4,
        policy_flags=[PolicyFlag.COMPLAINT, PolicyFlag.LEGAL_THREAT],
    ),
    ScriptedAnswer(message="slow server", intent=Intent.SUPPORT, confidence=0.2),
]


def run(path: Path, interpreter) -> dict[str, object]:
    outcome = materialize(
        [lead_interpretations],
        resources={"warehouse": DuckDBResource(database=str(path)), "interpreter": interpreter},
    )
    assert outcome.success
    [materialization] = outcome.asset_materializations_for_node(lead_interpretations.op.name)
    assert materialization.asset_key == LEAD_INTERPRETATIONS_KEY
    return {key: value.value for key, value in materialization.metadata.items()}


def interpretations(path: Path) -> dict[str, tuple]:
    rows = query(
        path,
        "select lead_id, backend, model, intent, intent_confidence, is_valid, error, policy_sensitive,"
        " policy_flag, follow_up_questions, product_interest from interpretation.lead_interpretations",
    )
    return {row[0]: row[1:] for row in rows}


def test_without_an_llm_every_lead_needing_interpretation_keeps_the_local_answer(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(warehouse, LEADS)
    metadata = run(warehouse, FakeIntentInterpreterResource(local_answers=LOCAL))
    rows = interpretations(warehouse)
    assert set(rows) == {"L1", "L2", "L3", "L5"}  # L4 needs no interpretation
    assert {lead_id: (row[0], row[2], row[3]) for lead_id, row in rows.items()} == {
        "L1": ("local", "pricing", 0.95),
        "L2": ("local", "general_info", 0.3),
        "L3": ("local", "support", 0.4),
        "L5": ("local", "support", 0.2),
    }
    assert rows["L3"][6:8] == (True, "legal_threat")  # the most severe of the two flags
    assert json.loads(rows["L1"][8]) == [] and json.loads(rows["L1"][9]) == []
    assert metadata["answered_by_local"] == 4 and metadata["answered_by_openai"] == 0
    assert metadata["llm_configured"] is False and metadata["model_calls"] == 4
    assert query(warehouse, "select count(*), count(distinct lead_id) from interpretation.model_calls") == [
        (4, 4)
    ]


def test_low_confidence_leads_go_to_the_llm_and_a_failing_one_becomes_unclear(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(warehouse, LEADS, min_confidence=0.5)
    fake = FakeIntentInterpreterResource(
        local_answers=LOCAL,
        llm_configured=True,
        llm_answers=[
            ScriptedAnswer(message="hmm", intent=Intent.DEMO_REQUEST, confidence=0.7),
            ScriptedAnswer(message="our lawyer will contact you", failure="timeout after 30 s"),
            ScriptedAnswer(message="slow server", raises="connection pool exploded"),
        ],
    )
    metadata = run(warehouse, fake)
    rows = interpretations(warehouse)
    assert rows["L1"][:3] == ("local", "fake-local", "pricing")  # 0.95 >= 0.5: no LLM call
    assert rows["L2"][:5] == ("openai", FAKE_LLM_MODEL, "demo_request", 0.7, True)
    assert rows["L3"][:6] == ("openai", FAKE_LLM_MODEL, "unclear", 0.0, False, "timeout after 30 s")
    assert rows["L5"][2] == "unclear" and rows["L5"][4] is False
    assert "RuntimeError: connection pool exploded" in rows["L5"][5]
    calls = query(
        warehouse,
        "select lead_id, backend, outcome from interpretation.model_calls order by lead_id, backend",
    )
    assert calls == [
        ("L1", "local", "ok"),
        ("L2", "local", "ok"),
        ("L2", "openai", "ok"),
        ("L3", "local", "ok"),
        ("L3", "openai", "timeout"),
        ("L5", "local", "ok"),
        ("L5", "openai", "error"),
    ]
    assert (metadata["llm_calls"], metadata["invalid"], metadata["answered_by_openai"]) == (3, 2, 3)
    assert metadata["prompt_tokens"] == 200 and metadata["cost_usd"] == pytest.approx(0.002)


def test_a_rerun_writes_nothing_and_a_changed_message_is_interpreted_again(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(warehouse, LEADS)
    fake = FakeIntentInterpreterResource(local_answers=LOCAL)
    run(warehouse, fake)
    again = run(warehouse, fake)
    assert again["interpreted"] == 0 and again["model_calls"] == 0
    assert query(warehouse, "select count(*) from interpretation.model_calls") == [(4,)]

    replace_leads(warehouse, [*LEADS[:1], lead("L2", "how much for 20 seats?"), *LEADS[2:]])
    third = run(warehouse, fake)
    assert third["interpreted"] == 1
    history = query(
        warehouse,
        "select intent from interpretation.lead_interpretations where lead_id = 'L2' order by interpreted_at",
    )
    assert history == [("general_info",), ("pricing",)]  # the earlier interpretation is kept


@pytest.mark.parametrize("stored", [None, 7.0])
def test_a_missing_or_unusable_threshold_falls_back_to_the_default(tmp_path, stored):
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(warehouse, LEADS, min_confidence=stored)
    fake = FakeIntentInterpreterResource(local_answers=LOCAL, llm_configured=True)
    metadata = run(warehouse, fake)
    assert metadata["intent_min_confidence"] == DEFAULT_MIN_CONFIDENCE
    # 0.3, 0.4 and 0.2 are below the fallback 0.6; 0.95 is not.
    assert metadata["llm_calls"] == 3


@pytest.mark.parametrize(
    ("setup", "expected", "warning"),
    [
        ("", DEFAULT_MIN_CONFIDENCE, "does not exist"),
        ("insert into rules.decision_thresholds values ('other', 0.2, '')", DEFAULT_MIN_CONFIDENCE, "has no"),
        ("insert into rules.decision_thresholds values ('intent_min_confidence', null, '')", 0.6, "has no"),
        ("insert into rules.decision_thresholds values ('intent_min_confidence', -1, '')", 0.6, "not within"),
        ("insert into rules.decision_thresholds values ('intent_min_confidence', 0.75, '')", 0.75, None),
    ],
)
def test_intent_threshold_is_read_from_the_rules_seed(setup, expected, warning, caplog):
    con = duckdb.connect()
    if setup:
        con.execute("create schema rules")
        con.execute(
            "create table rules.decision_thresholds (threshold varchar, value double, description varchar)"
        )
        con.execute(setup)
    with caplog.at_level(logging.WARNING):
        assert read_min_confidence(con, logging.getLogger("test")) == expected
    assert (warning in caplog.text) if warning else not caplog.text


def test_only_model_fields_reach_the_model_and_contact_details_are_redacted(
    tmp_path, llm_server, monkeypatch, trained_model_dir
):
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(
        warehouse,
        [lead("L1", "hm, ring me at +1 415 555 0134 or jane.doe@northwind.example", company="Northwind")],
        min_confidence=1.0,
    )
    resource = IntentInterpreterResource(
        model_dir=str(trained_model_dir), llm_base_url=llm_server.base_url, llm_model="scripted-model"
    )
    run(warehouse, resource)
    sent = json.dumps(llm_server.requests[0])
    assert "555" not in sent and "jane.doe" not in sent and "[phone]" in sent
    assert "rule_intent" not in sent and "L1" not in sent


def test_the_asset_against_an_openai_compatible_server_caches_and_stays_idempotent(
    tmp_path, llm_server, monkeypatch, trained_model_dir
):
    messages = ["maybe something for us, not sure", "hello, question about your thing", "we might need stuff"]
    local = LocalIntentClassifier.load_or_train(trained_model_dir)
    # The threshold 1.0 sends every lead whose local confidence is below certainty to the LLM.
    assert all(p.confidence < 1.0 for p in local.predict(messages))
    warehouse = tmp_path / "w.duckdb"
    create_warehouse(warehouse, [lead(f"L{i}", m) for i, m in enumerate(messages)], min_confidence=1.0)
    llm_server.script = [answer(intent="pricing", confidence=0.81)]
    resource = IntentInterpreterResource(
        model_dir=str(trained_model_dir),
        llm_cache_path=str(tmp_path / "llm_cache.sqlite"),
        llm_base_url=llm_server.base_url,
        llm_model="scripted-model",
        llm_options={"max_concurrency": "2"},
    )

    first = run(warehouse, resource)
    assert llm_server.request_count == 3 and llm_server.max_in_flight <= 2
    rows = interpretations(warehouse)
    assert {row[0] for row in rows.values()} == {"openai"}
    assert {row[1] for row in rows.values()} == {"scripted-model"}
    assert sorted(row[2] for row in rows.values()) == ["demo_request", "demo_request", "pricing"]
    assert all(row[4] for row in rows.values())  # valid
    assert first["llm_calls"] == 3 and first["prompt_tokens"] == 360 and first["cost_usd"] is None

    second = run(warehouse, resource)  # same data: nothing pending, no request
    assert second["interpreted"] == 0 and llm_server.request_count == 3

    # Same content under a new lead id: interpreted again, answered from the cache without a request.
    replace_leads(warehouse, [lead("L9", messages[0])])
    third = run(warehouse, resource)
    assert third["interpreted"] == 1 and third["llm_cache_hits"] == 1 and llm_server.request_count == 3
    assert query(
        warehouse, "select cached from interpretation.model_calls where lead_id = 'L9' and backend = 'openai'"
    ) == [(True,)]
