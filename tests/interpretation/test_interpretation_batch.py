"""Pure functions of one interpretation batch: content hash, outcomes, the flag kept, routing to the LLM."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from assets.interpretation.batch import (
    call_outcome,
    content_sha256,
    interpret_batch,
    pending_lead,
    primary_policy_flag,
)
from assets.interpretation.fake import FakeIntentInterpreterResource, ScriptedAnswer
from integrations.llm.client import InterpretationResult
from integrations.llm.schema import Intent, LeadInterpretation, LeadText, PolicyFlag

FIELDS = {"message": "demo pls", "job_title": "VP Sales", "company": "Northwind", "source": "web_form"}


def test_content_hash_covers_exactly_the_model_fields():
    base = content_sha256(FIELDS)
    assert base == content_sha256({**FIELDS, "email": "a@b.example", "lead_id": "L1"})
    assert base != content_sha256({**FIELDS, "message": "demo please"})
    assert base != content_sha256({**FIELDS, "job_title": "CEO"})
    assert content_sha256({**FIELDS, "company": ""}) == content_sha256({**FIELDS, "company": None})


def test_pending_lead_needs_an_id_and_copies_only_model_fields():
    with pytest.raises(ValueError, match="lead_id"):
        pending_lead({**FIELDS, "lead_id": None})
    lead = pending_lead({**FIELDS, "lead_id": "L1", "email": "jane@northwind.example"})
    assert lead.text.prompt_fields() == FIELDS


def _result(failure: str | None) -> InterpretationResult:
    return InterpretationResult(
        interpretation=LeadInterpretation.unclear(),
        backend="openai",
        model="m",
        prompt_version="p",
        from_cache=False,
        attempts=1,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
        latency_ms=1.0,
        failure_reason=failure,
    )


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (None, "ok"),
        ("invalid answer twice: schema violation (intent: bad)", "invalid"),
        ("timeout after 30 s", "timeout"),
        ("HTTP 500 after 4 attempts", "error"),
        ("connection failed after 4 attempts: refused", "error"),
    ],
)
def test_failure_reasons_map_to_call_outcomes(failure, outcome):
    assert call_outcome(_result(failure)) == outcome


def test_the_most_severe_policy_flag_is_kept():
    interpretation = LeadInterpretation.unclear().model_copy(
        update={"policy_sensitive": True, "policy_flags": [PolicyFlag.COMPLAINT, PolicyFlag.SECURITY_REPORT]}
    )
    assert primary_policy_flag(interpretation) == "security_report"
    assert primary_policy_flag(LeadInterpretation.unclear()) is None


class _SlowBackend:
    """Counts how many calls run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def interpret(self, lead: LeadText) -> InterpretationResult:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(0.05)
        with self.lock:
            self.in_flight -= 1
        return _result(None)


def test_llm_calls_are_bounded_and_only_low_confidence_leads_reach_the_llm():
    leads = [pending_lead({"lead_id": f"L{i}", "message": f"lead {i}"}) for i in range(8)]
    local = (
        FakeIntentInterpreterResource(
            local_answers=[ScriptedAnswer(message="lead 0", intent=Intent.PRICING, confidence=0.99)],
            default_local=ScriptedAnswer(message="", confidence=0.1),
        )
        .backends()
        .local
    )
    slow = _SlowBackend()
    result = interpret_batch(
        leads,
        local=local,
        local_model="fake-local",
        llm=slow,
        llm_model="m",
        llm_priced=False,
        min_confidence=0.5,
        max_concurrency=3,
        run_id="r1",
        now=lambda: datetime(2025, 1, 1),
    )
    assert slow.max_in_flight == 3
    assert [row.backend for row in result.interpretations] == ["local"] + ["openai"] * 7
    assert len(result.calls) == 8 + 7
    assert all(call.cost_usd is None for call in result.calls if call.backend == "openai")
    assert all(call.run_id == "r1" for call in result.calls)
    with pytest.raises(ValueError, match="min_confidence"):
        interpret_batch(
            leads,
            local=local,
            local_model="x",
            llm=None,
            llm_model="",
            llm_priced=False,
            min_confidence=1.5,
            max_concurrency=1,
            run_id="r",
            now=datetime.now,
        )


class _BatchBackendWithOneBadLead:
    """Its batch call fails because of one lead; one by one, only that lead fails."""

    def __init__(self) -> None:
        self.batch_calls = 0

    def interpret_many(self, leads: list[LeadText]) -> list[InterpretationResult]:
        self.batch_calls += 1
        if any(lead.message == "boom" for lead in leads):
            raise RuntimeError("bad lead in batch")
        return [self.interpret(lead) for lead in leads]

    def interpret(self, lead: LeadText) -> InterpretationResult:
        if lead.message == "boom":
            raise RuntimeError("bad lead")
        return _result(None).model_copy(update={"backend": "local"})


def test_one_bad_lead_in_a_local_batch_costs_only_its_own_answer():
    backend = _BatchBackendWithOneBadLead()
    leads = [pending_lead({"lead_id": f"L{i}", "message": m}) for i, m in enumerate(["a", "boom", "c"])]
    result = interpret_batch(
        leads,
        local=backend,
        local_model="local-x",
        llm=None,
        llm_model="",
        llm_priced=False,
        min_confidence=0.5,
        max_concurrency=1,
        run_id="r",
        now=datetime.now,
    )
    assert backend.batch_calls == 1
    assert [row.is_valid for row in result.interpretations] == [True, False, True]
    assert "RuntimeError: bad lead" in (result.interpretations[1].error or "")
    assert [call.outcome for call in result.calls] == ["ok", "error", "ok"]
