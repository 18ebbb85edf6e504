from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest
from openai_compatible_server import Reply, answer

from integrations.llm.schema import Intent, LeadText

LEAD = LeadText(
    message="Can we get a demo of routing next week? 12 SDRs.", company="Northwind", source="web_form"
)


def test_well_formed_answer_is_validated_and_returned(llm_server, make_interpreter):
    interpreter, _ = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.failure_reason is None
    assert result.interpretation.intent is Intent.DEMO_REQUEST
    assert result.interpretation.confidence == pytest.approx(0.92)
    assert (result.from_cache, result.attempts, llm_server.request_count) == (False, 1, 1)
    assert result.latency_ms > 0


def test_request_uses_strict_json_schema_structured_output(llm_server, make_interpreter):
    interpreter, _ = make_interpreter()
    interpreter.interpret(LEAD)
    response_format = llm_server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    assert llm_server.requests[0]["model"] == "scripted-model"


def test_malformed_json_is_retried_once_then_accepted(llm_server, make_interpreter):
    llm_server.script = [Reply(content='{"intent": "demo_request", '), answer(intent="pricing")]
    interpreter, _ = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.interpretation.intent is Intent.PRICING
    assert result.attempts == 2 and llm_server.request_count == 2


def test_two_invalid_answers_give_unclear_with_zero_confidence_and_a_reason(llm_server, make_interpreter):
    llm_server.script = [Reply(content="not json at all"), answer(confidence=1.7)]
    interpreter, _ = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.interpretation.intent is Intent.UNCLEAR
    assert result.interpretation.confidence == 0.0
    assert result.failure_reason is not None and "schema violation" in result.failure_reason
    assert "confidence" in result.failure_reason
    # Exactly one retry: a third request would mean the bound is gone.
    assert llm_server.request_count == 2


@pytest.mark.parametrize(
    "violation",
    [
        {"intent": "enterprise"},
        {"summary": "x" * 281},
        {"urgency": "critical"},
        {"product_interest": ["a_product_we_do_not_sell"]},
        {"policy_sensitive": False, "policy_flags": ["legal_threat"]},
        {"follow_up_questions": ["q1", "q2", "q3", "q4"]},
    ],
)
def test_every_schema_bound_is_enforced_on_the_answer(llm_server, make_interpreter, violation):
    llm_server.default = answer(**violation)
    interpreter, _ = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.interpretation.intent is Intent.UNCLEAR
    assert result.failure_reason.startswith("invalid answer twice: schema violation")


def test_invalid_answers_are_not_cached(llm_server, make_interpreter):
    llm_server.script = [Reply(content="{"), Reply(content="{")]
    interpreter, _ = make_interpreter()
    assert interpreter.interpret(LEAD).interpretation.intent is Intent.UNCLEAR
    assert interpreter.interpret(LEAD).interpretation.intent is Intent.DEMO_REQUEST
    assert llm_server.request_count == 3


def test_cache_prevents_a_second_request_across_interpreters(llm_server, make_interpreter):
    first, _ = make_interpreter()
    assert first.interpret(LEAD).from_cache is False
    second, _ = make_interpreter()  # a new run: same cache file, new client
    cached = second.interpret(LEAD)
    assert cached.from_cache is True
    assert (cached.attempts, cached.prompt_tokens, cached.cost_usd) == (0, 0, 0.0)
    assert cached.interpretation.intent is Intent.DEMO_REQUEST
    assert llm_server.request_count == 1


def test_cache_key_changes_with_fields_model_and_prompt(make_interpreter):
    interpreter, _ = make_interpreter()
    key = interpreter.cache_key(LEAD)
    assert key == interpreter.cache_key(LeadText(**LEAD.model_dump()))
    assert key != interpreter.cache_key(LEAD.model_copy(update={"message": "pricing please"}))
    other_model, _ = make_interpreter(model="another-model")
    assert other_model.cache_key(LEAD) != key
    other_prompt = dataclasses.replace(interpreter.prompt, version="interpret_lead.v2")
    interpreter.prompt = other_prompt
    assert interpreter.cache_key(LEAD) != key


def test_rate_limit_honours_retry_after_then_succeeds(llm_server, make_interpreter):
    llm_server.script = [Reply(status=429, headers={"Retry-After": "3"}), answer()]
    interpreter, sleeps = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.interpretation.intent is Intent.DEMO_REQUEST
    assert sleeps == [3.0]
    assert result.attempts == 2


def test_retry_after_is_capped(llm_server, make_interpreter):
    llm_server.script = [Reply(status=429, headers={"Retry-After": "3600"}), answer()]
    interpreter, sleeps = make_interpreter(max_retry_wait_seconds=5)
    interpreter.interpret(LEAD)
    assert sleeps == [5.0]


def test_retry_after_is_really_waited(llm_server, make_interpreter):
    llm_server.script = [Reply(status=429, headers={"Retry-After": "1"}), answer()]
    interpreter, _ = make_interpreter(real_sleep=True)
    interpreter.interpret(LEAD)
    gap = llm_server.request_times[1] - llm_server.request_times[0]
    assert 0.9 <= gap < 3


def test_server_errors_are_retried_a_bounded_number_of_times(llm_server, make_interpreter):
    llm_server.default = Reply(status=500)
    interpreter, sleeps = make_interpreter(max_http_attempts=3)
    result = interpreter.interpret(LEAD)
    assert result.interpretation.intent is Intent.UNCLEAR
    assert result.failure_reason == "HTTP 500 after 3 attempts"
    assert llm_server.request_count == 3 and result.attempts == 3
    assert len(sleeps) == 2  # between attempts, none after the last


def test_a_500_then_success_recovers(llm_server, make_interpreter):
    llm_server.script = [Reply(status=503), answer(intent="support")]
    interpreter, _ = make_interpreter()
    assert interpreter.interpret(LEAD).interpretation.intent is Intent.SUPPORT


def test_client_errors_are_not_retried(llm_server, make_interpreter):
    llm_server.default = Reply(status=400)
    interpreter, _ = make_interpreter()
    result = interpreter.interpret(LEAD)
    assert result.failure_reason == "HTTP 400 from the model server"
    assert llm_server.request_count == 1


def test_slow_response_beyond_timeout_is_a_failure(llm_server, make_interpreter):
    llm_server.default = Reply(content=json.dumps({}), delay_seconds=1.5)
    interpreter, _ = make_interpreter(timeout_seconds=0.3)
    started = time.monotonic()
    result = interpreter.interpret(LEAD)
    assert time.monotonic() - started < 1.4
    assert result.interpretation.intent is Intent.UNCLEAR
    assert result.interpretation.confidence == 0.0
    assert result.failure_reason.startswith("timeout")
    assert result.attempts == 1


def test_tokens_and_cost_are_recorded_per_call_and_per_run(llm_server, make_interpreter):
    llm_server.script = [Reply(content="{", prompt_tokens=100, completion_tokens=10), answer()]
    interpreter, _ = make_interpreter(price_per_1k_prompt_tokens=0.5, price_per_1k_completion_tokens=2.0)
    first = interpreter.interpret(LEAD)
    # Both requests are billed: the invalid answer cost tokens too.
    assert (first.prompt_tokens, first.completion_tokens, first.total_tokens) == (220, 50, 270)
    assert first.cost_usd == pytest.approx((220 * 0.5 + 50 * 2.0) / 1000)
    run = interpreter.interpret_many([LEAD, LeadText(message="pricing for 10 seats?")])
    assert run.usage.leads == 2 and run.usage.cache_hits == 1 and run.usage.requests == 1
    assert run.usage.prompt_tokens == 120 and run.usage.completion_tokens == 40
    assert run.usage.cost_usd == pytest.approx((120 * 0.5 + 40 * 2.0) / 1000)


def test_concurrency_never_exceeds_the_bound(llm_server, make_interpreter):
    llm_server.default = Reply(content=answer().content, delay_seconds=0.2)
    interpreter, _ = make_interpreter(max_concurrency=2)
    leads = [LeadText(message=f"demo for team {i}") for i in range(6)]
    run = interpreter.interpret_many(leads)
    assert llm_server.max_in_flight == 2
    assert run.usage.requests == 6


def test_concurrency_bound_holds_for_callers_own_threads(llm_server, make_interpreter):
    llm_server.default = Reply(content=answer().content, delay_seconds=0.2)
    interpreter, _ = make_interpreter(max_concurrency=1)
    threads = [
        threading.Thread(target=interpreter.interpret, args=(LeadText(message=f"lead {i}"),))
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert llm_server.max_in_flight == 1 and llm_server.request_count == 3
