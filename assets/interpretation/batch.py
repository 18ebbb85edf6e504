"""One batch of lead interpretations, without Dagster or DuckDB: which backend answers each lead, and the
rows that record the answers and every model call.

The local classifier answers every lead. A lead whose local confidence is below the intent threshold goes
to the LLM when one is configured; its answer (or its failure, as `unclear`) then replaces the local one.
Without an LLM the local answer stands and the dbt rules escalate a low-confidence lead as "unclear intent".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from integrations.llm.client import InterpretationResult
from integrations.llm.schema import LeadInterpretation, LeadText, PolicyFlag

# Used when `rules.decision_thresholds` has no usable `intent_min_confidence` row.
DEFAULT_MIN_CONFIDENCE = 0.6
# The fields a model may see; the content hash covers exactly these, so a change to any of them (and to
# nothing else) asks for a new interpretation.
MODEL_FIELDS = ("message", "job_title", "company", "source")

CallOutcome = Literal["ok", "invalid", "error", "timeout"]


@runtime_checkable
class Interprets(Protocol):
    """A backend: the local interpreter, the LLM interpreter, or a fake."""

    def interpret(self, lead: LeadText) -> InterpretationResult: ...


@runtime_checkable
class InterpretsMany(Interprets, Protocol):
    """A backend that answers a whole batch in one call (the local classifier: ~50x faster)."""

    def interpret_many(self, leads: Sequence[LeadText]) -> list[InterpretationResult]: ...


@dataclass(frozen=True)
class PendingLead:
    lead_id: str
    content_sha256: str
    text: LeadText


@dataclass(frozen=True)
class LeadInterpretationRow:
    """One row of `interpretation.lead_interpretations`."""

    lead_id: str
    content_sha256: str
    backend: str
    model: str
    prompt_version: str
    intent: str
    intent_confidence: float
    product_interest: str
    urgency: str
    summary: str
    follow_up_questions: str
    policy_sensitive: bool
    policy_flag: str | None
    is_valid: bool
    error: str | None
    interpreted_at: datetime


@dataclass(frozen=True)
class ModelCallRow:
    """One row of `interpretation.model_calls`: one request for one lead to one backend."""

    run_id: str
    lead_id: str
    backend: str
    model: str
    cached: bool
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_ms: float
    outcome: CallOutcome
    called_at: datetime


@dataclass(frozen=True)
class BatchResult:
    interpretations: list[LeadInterpretationRow]
    calls: list[ModelCallRow]


def content_sha256(fields: dict[str, str | None]) -> str:
    """sha256 over the model-visible fields as given (before redaction), in a fixed order; a missing field
    and an empty one hash alike, as both reach the model as "absent"."""
    material = {name: (fields.get(name) or None) for name in MODEL_FIELDS}
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def pending_lead(row: dict[str, str | None]) -> PendingLead:
    """A lead row (lead_id plus the model fields) as the batch takes it. Only the model fields are copied
    into `LeadText`, which also redacts contact details typed into them."""
    lead_id = row.get("lead_id")
    if not lead_id:
        raise ValueError(f"a lead row needs a lead_id, got {row!r}")
    fields = {name: row.get(name) for name in MODEL_FIELDS}
    return PendingLead(lead_id=lead_id, content_sha256=content_sha256(fields), text=LeadText(**fields))


def call_outcome(result: InterpretationResult) -> CallOutcome:
    reason = result.failure_reason
    if reason is None:
        return "ok"
    if reason.startswith("invalid answer"):
        return "invalid"
    if reason.startswith("timeout"):
        return "timeout"
    return "error"


def primary_policy_flag(interpretation: LeadInterpretation) -> str | None:
    """The one flag the table holds when a message raises several: the first in the taxonomy's order
    (PolicyFlag: legal threat first, press inquiry last), most severe first."""
    for flag in PolicyFlag:
        if flag in interpretation.policy_flags:
            return flag.value
    return None


def _failed(lead: LeadText, backend: str, model: str, reason: str) -> InterpretationResult:
    """A backend that raised instead of answering: the lead is `unclear`, the batch goes on."""
    return InterpretationResult(
        interpretation=LeadInterpretation.unclear(),
        backend="openai" if backend == "openai" else "local",
        model=model,
        prompt_version="",
        from_cache=False,
        attempts=0,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
        latency_ms=0.0,
        failure_reason=reason,
    )


def _safe_interpret(backend: Interprets, name: str, model: str) -> Callable[[LeadText], InterpretationResult]:
    def interpret(lead: LeadText) -> InterpretationResult:
        try:
            return backend.interpret(lead)
        except Exception as error:  # one bad lead must not fail the batch
            return _failed(lead, name, model, f"{name} backend raised {type(error).__name__}: {error}")

    return interpret


def _interpret_locally(local: Interprets, model: str, leads: list[LeadText]) -> list[InterpretationResult]:
    """In one call when the backend can; one by one when it cannot, or when the batch call failed, so a
    single bad lead costs only its own answer."""
    if isinstance(local, InterpretsMany) and leads:
        try:
            results = local.interpret_many(leads)
            if len(results) == len(leads):
                return results
        except Exception:  # the per-lead path below isolates the lead that broke the batch
            pass
    interpret = _safe_interpret(local, "local", model)
    return [interpret(lead) for lead in leads]


def interpret_batch(
    leads: Sequence[PendingLead],
    *,
    local: Interprets,
    local_model: str,
    llm: Interprets | None,
    llm_model: str,
    llm_priced: bool,
    min_confidence: float,
    max_concurrency: int,
    run_id: str,
    now: Callable[[], datetime],
) -> BatchResult:
    """Interpret `leads`: local first, the LLM (at most `max_concurrency` at once) for those below
    `min_confidence`. `llm_priced` False records the LLM's cost as unknown (NULL) rather than 0."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be within [0, 1], got {min_confidence}")
    local_results = _interpret_locally(local, local_model, [lead.text for lead in leads])
    local_called_at = now()
    calls = [
        _call_row(run_id, lead, result, priced=True, called_at=local_called_at)
        for lead, result in zip(leads, local_results, strict=True)
    ]

    final = list(local_results)
    if llm is not None:
        escalated = [
            index
            for index, result in enumerate(local_results)
            if result.interpretation.confidence < min_confidence
        ]
        interpret_llm = _safe_interpret(llm, "openai", llm_model)
        with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
            llm_results = list(pool.map(interpret_llm, [leads[index].text for index in escalated]))
        llm_called_at = now()
        for index, result in zip(escalated, llm_results, strict=True):
            final[index] = result
            calls.append(_call_row(run_id, leads[index], result, priced=llm_priced, called_at=llm_called_at))

    interpreted_at = now()
    rows = [
        _interpretation_row(lead, result, interpreted_at) for lead, result in zip(leads, final, strict=True)
    ]
    return BatchResult(interpretations=rows, calls=calls)


def _call_row(
    run_id: str, lead: PendingLead, result: InterpretationResult, *, priced: bool, called_at: datetime
) -> ModelCallRow:
    return ModelCallRow(
        run_id=run_id,
        lead_id=lead.lead_id,
        backend=result.backend,
        model=result.model,
        cached=result.from_cache,
        attempts=result.attempts,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost_usd=result.cost_usd if priced else None,
        latency_ms=result.latency_ms,
        outcome=call_outcome(result),
        called_at=called_at,
    )


def _interpretation_row(
    lead: PendingLead, result: InterpretationResult, interpreted_at: datetime
) -> LeadInterpretationRow:
    interpretation = result.interpretation
    return LeadInterpretationRow(
        lead_id=lead.lead_id,
        content_sha256=lead.content_sha256,
        backend=result.backend,
        model=result.model,
        prompt_version=result.prompt_version,
        intent=interpretation.intent.value,
        intent_confidence=interpretation.confidence,
        product_interest=json.dumps([p.value for p in interpretation.product_interest]),
        urgency=interpretation.urgency.value,
        summary=interpretation.summary,
        follow_up_questions=json.dumps(list(interpretation.follow_up_questions), ensure_ascii=False),
        policy_sensitive=interpretation.policy_sensitive,
        policy_flag=primary_policy_flag(interpretation),
        is_valid=result.failure_reason is None,
        error=result.failure_reason,
        interpreted_at=interpreted_at,
    )
