"""The interpreter resource the interpretation asset calls: the local classifier always, an LLM when one
is configured through the environment.

Environment (read by `LLMSettings.from_env`, all optional; no LLM when the first two are unset):
`LEADOPS_LLM_BASE_URL` and `LEADOPS_LLM_MODEL` (any OpenAI-compatible server; set both or neither),
`LEADOPS_LLM_API_KEY` (or `OPENAI_API_KEY`), `LEADOPS_LLM_PROMPT` (prompt file name, default
`interpret_lead.v1`), `LEADOPS_LLM_TIMEOUT_SECONDS`, `LEADOPS_LLM_MAX_CONCURRENCY` (default 4),
`LEADOPS_LLM_PRICE_PER_1K_PROMPT_TOKENS`, `LEADOPS_LLM_PRICE_PER_1K_COMPLETION_TOKENS` (cost is recorded as
unknown while both prices are unset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from assets.intent.batch import Interprets
from assets.intent.llm import LeadInterpreter, LLMSettings
from assets.intent.local_classifier import LocalIntentClassifier, LocalInterpreter


@dataclass(frozen=True)
class LLMBackend:
    interpreter: Interprets
    model: str
    max_concurrency: int
    # False when no token price is configured: the cost of a call is then unknown, not zero.
    priced: bool


@dataclass(frozen=True)
class InterpreterBackends:
    local: Interprets
    local_model: str
    llm: LLMBackend | None


class InterpreterResource(ConfigurableResource):
    """What the interpretation asset needs from a resource: the backends for one run."""

    def backends(self) -> InterpreterBackends:
        raise NotImplementedError


class IntentInterpreterResource(InterpreterResource):
    """Builds the backends for one run: the local classifier (trained at first use, then loaded from
    `model_dir`) and, when `LEADOPS_LLM_*` is set, the LLM interpreter with its answer cache."""

    model_dir: str = Field(description="Folder of the trained local model file (absolute path).")
    llm_cache_path: str | None = Field(
        default=None, description="SQLite file caching valid LLM answers; unset turns caching off."
    )
    use_llm: bool = Field(
        default=True, description="False keeps every lead on the local classifier even when an LLM is set."
    )

    def backends(self) -> InterpreterBackends:
        classifier = LocalIntentClassifier.load_or_train(Path(self.model_dir))
        local = LocalInterpreter(classifier)
        settings = (
            LLMSettings.from_env(cache_path=Path(self.llm_cache_path) if self.llm_cache_path else None)
            if self.use_llm
            else None
        )
        llm = None
        if settings is not None:
            llm = LLMBackend(
                interpreter=LeadInterpreter(settings),
                model=settings.model,
                max_concurrency=settings.max_concurrency,
                priced=bool(settings.price_per_1k_prompt_tokens or settings.price_per_1k_completion_tokens),
            )
        return InterpreterBackends(local=local, local_model=local.model_name, llm=llm)
