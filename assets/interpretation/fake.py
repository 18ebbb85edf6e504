"""A fake interpreter resource for tests: scripted answers, no model training and no server."""

from __future__ import annotations

from dagster import Config
from pydantic import Field

from assets.interpretation.resource import InterpreterBackends, InterpreterResource, LLMBackend
from integrations.llm.client import Backend, InterpretationResult
from integrations.llm.schema import Intent, LeadInterpretation, LeadText, PolicyFlag, Urgency

FAKE_LOCAL_MODEL = "fake-local"
FAKE_LLM_MODEL = "fake-llm"


class ScriptedAnswer(Config):
    """The answer for a lead whose message is exactly `message`."""

    message: str
    intent: Intent = Intent.GENERAL_INFO
    confidence: float = Field(default=0.9, ge=0, le=1)
    policy_flags: list[PolicyFlag] = Field(default_factory=list)
    product_interest: list[str] = Field(default_factory=list, description="Catalogue product ids.")
    failure: str | None = Field(
        default=None, description="Answer `unclear` with this failure reason (e.g. 'timeout after 30 s')."
    )
    raises: str | None = Field(default=None, description="Raise RuntimeError(raises) instead of answering.")


class _ScriptedBackend:
    def __init__(self, backend: Backend, model: str, answers: list[ScriptedAnswer], default: ScriptedAnswer):
        self.backend: Backend = backend
        self.model = model
        self.answers = {answer.message: answer for answer in answers}
        self.default = default

    def interpret(self, lead: LeadText) -> InterpretationResult:
        answer = self.answers.get(lead.message or "", self.default)
        if answer.raises is not None:
            raise RuntimeError(answer.raises)
        if answer.failure is not None:
            interpretation = LeadInterpretation.unclear()
        else:
            interpretation = LeadInterpretation(
                intent=answer.intent,
                product_interest=answer.product_interest,
                urgency=Urgency.LOW,
                summary=f"{self.backend} says {answer.intent.value}",
                follow_up_questions=[],
                policy_sensitive=bool(answer.policy_flags),
                policy_flags=answer.policy_flags,
                confidence=answer.confidence,
            )
        remote = self.backend == "openai"
        return InterpretationResult(
            interpretation=interpretation,
            backend=self.backend,
            model=self.model,
            prompt_version="fake.v1",
            from_cache=False,
            attempts=1 if remote else 0,
            prompt_tokens=100 if remote else 0,
            completion_tokens=20 if remote else 0,
            cost_usd=0.001 if remote else 0.0,
            latency_ms=1.0,
            failure_reason=answer.failure,
        )


class FakeIntentInterpreterResource(InterpreterResource):
    """Local answers from `local_answers` (else `default_local`); an LLM only when `llm_configured`."""

    local_answers: list[ScriptedAnswer] = Field(default_factory=list)
    default_local: ScriptedAnswer = ScriptedAnswer(message="", intent=Intent.GENERAL_INFO, confidence=0.9)
    llm_configured: bool = False
    llm_answers: list[ScriptedAnswer] = Field(default_factory=list)
    default_llm: ScriptedAnswer = ScriptedAnswer(message="", intent=Intent.DEMO_REQUEST, confidence=0.8)
    llm_max_concurrency: int = 2

    def backends(self) -> InterpreterBackends:
        llm = None
        if self.llm_configured:
            llm = LLMBackend(
                interpreter=_ScriptedBackend("openai", FAKE_LLM_MODEL, self.llm_answers, self.default_llm),
                model=FAKE_LLM_MODEL,
                max_concurrency=self.llm_max_concurrency,
                priced=True,
            )
        return InterpreterBackends(
            local=_ScriptedBackend("local", FAKE_LOCAL_MODEL, self.local_answers, self.default_local),
            local_model=FAKE_LOCAL_MODEL,
            llm=llm,
        )
