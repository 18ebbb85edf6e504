"""Bounded LLM interpretation of lead text through any OpenAI-compatible chat completions server.

The model sees only `LeadText` (no names, e-mail, phone or IP), inside a delimited data block, and can only
answer the strict JSON Schema of `LeadInterpretation`. Whatever it answers is validated; an invalid answer is
retried once, then the lead is `unclear` with confidence 0 and the reason. 429 and 5xx are retried with
Retry-After honoured up to a cap; a timeout is a failure. Valid answers are cached in SQLite by
sha256(fields + prompt version + prompt text + schema + model), so a re-run sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from integrations.llm.schema import CATALOGUE, LeadInterpretation, LeadText, schema_sha256, strict_json_schema

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
DEFAULT_PROMPT = "interpret_lead.v1"
SCHEMA_NAME = "lead_interpretation"
# One retry for an invalid answer: a second wrong answer to the same prompt rarely turns into a third
# right one, and each retry costs a full call.
ANSWER_ATTEMPTS = 2

Backend = Literal["openai", "local"]


class LLMSettings(BaseModel):
    """Where the model is and how hard to try. Any OpenAI-compatible server works (base_url)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    # Local servers ignore the key, but the client refuses to start without one.
    api_key: SecretStr = SecretStr("not-needed")
    prompt: str = DEFAULT_PROMPT
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    # Requests per model call when the server answers 429/5xx or the connection drops.
    max_http_attempts: int = Field(default=4, ge=1, le=10)
    max_retry_wait_seconds: float = Field(default=30.0, ge=0)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    max_output_tokens: int = Field(default=600, ge=64)
    price_per_1k_prompt_tokens: float = Field(default=0.0, ge=0)
    price_per_1k_completion_tokens: float = Field(default=0.0, ge=0)
    cache_path: Path | None = None


class InterpretationResult(BaseModel):
    """One lead's interpretation and what it cost to get it."""

    model_config = ConfigDict(frozen=True)

    interpretation: LeadInterpretation
    backend: Backend
    model: str
    prompt_version: str
    from_cache: bool
    attempts: int = Field(ge=0, description="HTTP requests sent for this lead (0 from cache or local).")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0)
    latency_ms: float = Field(ge=0)
    failure_reason: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunUsage(BaseModel):
    """Totals over every interpretation of one run."""

    model_config = ConfigDict(frozen=True)

    leads: int = 0
    cache_hits: int = 0
    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0

    def add(self, result: InterpretationResult) -> RunUsage:
        return RunUsage(
            leads=self.leads + 1,
            cache_hits=self.cache_hits + int(result.from_cache),
            requests=self.requests + result.attempts,
            failures=self.failures + int(result.failure_reason is not None),
            prompt_tokens=self.prompt_tokens + result.prompt_tokens,
            completion_tokens=self.completion_tokens + result.completion_tokens,
            cost_usd=self.cost_usd + result.cost_usd,
            latency_ms=self.latency_ms + result.latency_ms,
        )


class InterpretationRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    results: list[InterpretationResult]
    usage: RunUsage


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: string.Template
    user: string.Template
    sha256: str

    @classmethod
    def load(cls, name: str, directory: Path = PROMPTS_DIR) -> PromptTemplate:
        path = directory / f"{name}.md"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"prompt template {path} cannot be read: {error}") from error
        _, has_system, rest = text.partition("\n## system\n")
        system, has_user, user = rest.partition("\n## user\n")
        if not has_system or not has_user:
            raise ValueError(f"prompt template {path} needs a '## system' and a '## user' section")
        if "$lead_data" not in user or "$lead_data" in system:
            raise ValueError(f"prompt template {path}: $lead_data must appear in the user section only")
        return cls(
            version=name,
            system=string.Template(system.strip()),
            user=string.Template(user.strip()),
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )

    def render(self, lead: LeadText) -> list[dict[str, str]]:
        products = "\n".join(f"  - {p.id}: {p.description}" for p in CATALOGUE.products)
        # `<` and `>` escaped as JSON unicode escapes: the data block cannot contain `</lead_data>`, so no
        # lead text can end the block early and pose as instructions after it.
        lead_data = (
            json.dumps(lead.prompt_fields(), ensure_ascii=False, indent=2)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
        )
        # Template.substitute replaces in one pass: a `$` typed by the visitor is never expanded.
        return [
            {"role": "system", "content": self.system.substitute(products=products)},
            {"role": "user", "content": self.user.substitute(lead_data=lead_data)},
        ]


class InterpretationCache:
    """Valid interpretations by cache key, in one small SQLite file. Failures are never cached, so a
    transient outage does not pin a lead to `unclear`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(
                "create table if not exists interpretations ("
                " cache_key text primary key, model text not null, prompt_version text not null,"
                " interpretation_json text not null, created_at text not null default current_timestamp)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    def get(self, key: str) -> LeadInterpretation | None:
        with self._connect() as con:
            row = con.execute(
                "select interpretation_json from interpretations where cache_key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        try:
            return LeadInterpretation.model_validate_json(row[0])
        except ValidationError:
            # Written under an older schema: ask the model again rather than serve a stale shape.
            return None

    def put(self, key: str, interpretation: LeadInterpretation, model: str, prompt_version: str) -> None:
        with self._connect() as con:
            con.execute(
                "insert or replace into interpretations"
                " (cache_key, model, prompt_version, interpretation_json) values (?, ?, ?, ?)",
                (key, model, prompt_version, interpretation.model_dump_json()),
            )


@dataclass
class _CallOutcome:
    content: str | None = None
    failure: str | None = None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _retry_after_seconds(error: openai.APIStatusError) -> float | None:
    headers = error.response.headers
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


class LeadInterpreter:
    """Interprets leads with an LLM. Thread-safe; `interpret_many` runs up to `max_concurrency` at once
    and the same bound holds for concurrent `interpret` calls from the caller's own threads."""

    def __init__(self, settings: LLMSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.prompt = PromptTemplate.load(settings.prompt)
        self.cache = InterpretationCache(settings.cache_path) if settings.cache_path else None
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        # max_retries=0: this class retries itself, so it can cap Retry-After and count attempts.
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            timeout=settings.timeout_seconds,
            max_retries=0,
        )
        self._response_format = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "schema": strict_json_schema(), "strict": True},
        }

    def cache_key(self, lead: LeadText) -> str:
        material = {
            "fields": lead.prompt_fields(),
            "prompt_version": self.prompt.version,
            "prompt_sha256": self.prompt.sha256,
            "schema_sha256": schema_sha256(),
            "model": self.settings.model,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def interpret(self, lead: LeadText) -> InterpretationResult:
        started = time.monotonic()
        key = self.cache_key(lead)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                return self._result(cached, started, from_cache=True, calls=[])

        messages = self.prompt.render(lead)
        calls: list[_CallOutcome] = []
        failure = "no answer"
        for _ in range(ANSWER_ATTEMPTS):
            outcome = self._call(messages)
            calls.append(outcome)
            if outcome.failure is not None:
                # Transport failures were already retried inside _call; asking again would double them.
                return self._result(None, started, calls=calls, failure=outcome.failure)
            interpretation, failure = _parse_answer(outcome.content)
            if interpretation is not None:
                if self.cache is not None:
                    self.cache.put(key, interpretation, self.settings.model, self.prompt.version)
                return self._result(interpretation, started, calls=calls)
        return self._result(None, started, calls=calls, failure=f"invalid answer twice: {failure}")

    def interpret_many(self, leads: Sequence[LeadText]) -> InterpretationRun:
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            results = list(pool.map(self.interpret, leads))
        usage = RunUsage()
        for result in results:
            usage = usage.add(result)
        return InterpretationRun(results=results, usage=usage)

    def _call(self, messages: list[dict[str, str]]) -> _CallOutcome:
        outcome = _CallOutcome()
        for attempt in range(1, self.settings.max_http_attempts + 1):
            wait: float | None = None
            outcome.requests += 1
            try:
                with self._slots:
                    completion = self._client.chat.completions.create(
                        model=self.settings.model,
                        messages=messages,  # type: ignore[arg-type]
                        response_format=self._response_format,  # type: ignore[arg-type]
                        temperature=0,
                        max_completion_tokens=self.settings.max_output_tokens,
                    )
            except openai.APITimeoutError:
                outcome.failure = f"timeout after {self.settings.timeout_seconds:g} s"
                return outcome
            except openai.APIStatusError as error:
                if error.status_code != 429 and error.status_code < 500:
                    outcome.failure = f"HTTP {error.status_code} from the model server"
                    return outcome
                outcome.failure = f"HTTP {error.status_code} after {attempt} attempts"
                wait = _retry_after_seconds(error)
            except openai.APIConnectionError as error:
                outcome.failure = f"connection failed after {attempt} attempts: {error}"
            else:
                usage = completion.usage
                if usage is not None:
                    outcome.prompt_tokens += usage.prompt_tokens or 0
                    outcome.completion_tokens += usage.completion_tokens or 0
                outcome.failure = None
                choice = completion.choices[0] if completion.choices else None
                outcome.content = choice.message.content if choice is not None else None
                return outcome
            if attempt < self.settings.max_http_attempts:
                if wait is None:
                    # Exponential backoff with jitter so parallel workers don't retry in lockstep.
                    wait = self.settings.backoff_base_seconds * 2 ** (attempt - 1) * (1 + random.random())
                self._sleep(min(max(wait, 0.0), self.settings.max_retry_wait_seconds))
        return outcome

    def _result(
        self,
        interpretation: LeadInterpretation | None,
        started: float,
        *,
        calls: list[_CallOutcome],
        from_cache: bool = False,
        failure: str | None = None,
    ) -> InterpretationResult:
        prompt_tokens = sum(c.prompt_tokens for c in calls)
        completion_tokens = sum(c.completion_tokens for c in calls)
        cost = (
            prompt_tokens * self.settings.price_per_1k_prompt_tokens
            + completion_tokens * self.settings.price_per_1k_completion_tokens
        ) / 1000
        return InterpretationResult(
            interpretation=interpretation or LeadInterpretation.unclear(),
            backend="openai",
            model=self.settings.model,
            prompt_version=self.prompt.version,
            from_cache=from_cache,
            attempts=sum(c.requests for c in calls),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            latency_ms=(time.monotonic() - started) * 1000,
            failure_reason=failure,
        )


def _parse_answer(content: str | None) -> tuple[LeadInterpretation | None, str]:
    if not content:
        return None, "empty answer"
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        return None, f"malformed JSON ({error.msg} at char {error.pos})"
    try:
        return LeadInterpretation.model_validate(data), ""
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()[:3]
        )
        return None, f"schema violation ({problems})"
