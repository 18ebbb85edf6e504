"""The interpreter resource the interpretation asset calls: the local classifier always, an LLM when the
settings name one (`LEADOPS_LLM_*`, read by `dagster_project.settings`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from assets.interpretation.batch import Interprets
from assets.interpretation.local_classifier import LocalIntentClassifier, LocalInterpreter
from integrations.llm.client import LeadInterpreter, LLMSettings


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


class InterpreterResource(ConfigurableResource, ABC):
    """What the interpretation asset needs from a resource: the backends for one run."""

    @abstractmethod
    def backends(self) -> InterpreterBackends: ...


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
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible server; unset: no LLM.")
    llm_model: str | None = Field(default=None, description="Model name on that server.")
    llm_api_key: str | None = Field(default=None, description="API key (pass as an EnvVar, never a value).")
    llm_options: dict[str, str] = Field(
        default={}, description="Further `LLMSettings` fields (prompt, timeout_seconds, prices, ...)."
    )

    def llm_settings(self) -> LLMSettings | None:
        if not (self.use_llm and self.llm_base_url and self.llm_model):
            return None
        return LLMSettings(
            base_url=self.llm_base_url,
            model=self.llm_model,
            cache_path=Path(self.llm_cache_path) if self.llm_cache_path else None,
            **({"api_key": self.llm_api_key} if self.llm_api_key else {}),
            **self.llm_options,
        )

    def backends(self) -> InterpreterBackends:
        classifier = LocalIntentClassifier.load_or_train(Path(self.model_dir))
        local = LocalInterpreter(classifier)
        settings = self.llm_settings()
        llm = None
        if settings is not None:
            llm = LLMBackend(
                interpreter=LeadInterpreter(settings),
                model=settings.model,
                max_concurrency=settings.max_concurrency,
                priced=bool(settings.price_per_1k_prompt_tokens or settings.price_per_1k_completion_tokens),
            )
        return InterpreterBackends(local=local, local_model=local.model_name, llm=llm)
