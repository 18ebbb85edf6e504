"""Ask providers in order until one answers with enough confidence.

Outcomes, one per lead:

- `enriched`: a provider answered at or above the confidence threshold; the only status whose
  firmographics may be used for segmenting (`EnrichmentResult.usable_firmographics`).
- `low_confidence`: every answer was below the threshold; the best one is attached for a human to see.
- `not_found`: no provider knows the domain (or it has no registrable domain at all).
- `retry_later`: no usable answer and at least one provider failed transiently; park the lead and ask
  again at `next_retry_at` (exponential backoff) with `EnrichmentResult.retry_request()`.
- `deadline_passed`: still failing transiently after the retry deadline; stop asking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.domains import registrable_domain
from integrations.enrichment.cache import EnrichmentCache
from integrations.enrichment.port import (
    Clock,
    EnrichmentPermanentError,
    EnrichmentProvider,
    EnrichmentTransientError,
    Firmographics,
    utc_now,
)

logger = logging.getLogger(__name__)


class EnrichmentStatus(StrEnum):
    ENRICHED = "enriched"
    LOW_CONFIDENCE = "low_confidence"
    NOT_FOUND = "not_found"
    RETRY_LATER = "retry_later"
    DEADLINE_PASSED = "deadline_passed"


class EnrichmentRequest(BaseModel):
    """One company to enrich. A retry carries when the first run tried and how many runs came before."""

    model_config = ConfigDict(frozen=True)

    domain: str | None
    company_name: str | None = None
    first_attempted_at: AwareDatetime | None = None
    prior_runs: int = Field(default=0, ge=0)


class ProviderAttempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: str
    outcome: Literal["found", "not_found", "transient_error", "permanent_error"]
    from_cache: bool = False
    confidence: float | None = None
    error: str | None = None
    retry_after_seconds: float | None = None


class EnrichmentResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain: str | None = Field(description="The registrable domain looked up; None when there was none.")
    company_name: str | None
    status: EnrichmentStatus
    firmographics: Firmographics | None = Field(
        description="The chosen answer. Below the threshold unless status is enriched: "
        "use `usable_firmographics` for anything that segments or routes."
    )
    attempts: list[ProviderAttempt]
    first_attempted_at: AwareDatetime
    run_number: int = Field(ge=1)
    next_retry_at: AwareDatetime | None = None

    @property
    def usable_firmographics(self) -> Firmographics | None:
        return self.firmographics if self.status is EnrichmentStatus.ENRICHED else None

    def retry_request(self) -> EnrichmentRequest:
        """The request to send again at `next_retry_at`, carrying the retry history."""
        if self.status is not EnrichmentStatus.RETRY_LATER:
            raise ValueError(f"only a retry_later result is retried; this one is {self.status.value}")
        return EnrichmentRequest(
            domain=self.domain,
            company_name=self.company_name,
            first_attempted_at=self.first_attempted_at,
            prior_runs=self.run_number,
        )


class RetryPolicy(BaseModel):
    """Backoff for parked leads: base * 2^(run - 1), capped, and never past the deadline."""

    model_config = ConfigDict(frozen=True)

    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=6)
    deadline: timedelta = timedelta(hours=48)

    def next_retry_at(
        self, *, now: datetime, run_number: int, first_attempted_at: datetime, retry_after_seconds: float
    ) -> datetime | None:
        """When to ask again, or None when the deadline has passed."""
        deadline_at = first_attempted_at + self.deadline
        if now >= deadline_at:
            return None
        # Capping the exponent first keeps 2**n finite for a lead retried for weeks by a loose deadline.
        doublings = min(run_number - 1, 32)
        delay = min(self.base_delay * (2**doublings), self.max_delay)
        # The vendor's Retry-After wins over a shorter backoff; clamped so a silly hint cannot overflow.
        delay = max(delay, timedelta(seconds=min(retry_after_seconds, self.deadline.total_seconds())))
        # One last try exactly at the deadline rather than none, so a short outage near it still heals.
        return min(now + delay, deadline_at)


class Waterfall:
    def __init__(
        self,
        providers: Sequence[EnrichmentProvider],
        *,
        confidence_threshold: float,
        cache: EnrichmentCache | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if not providers:
            raise ValueError("the waterfall needs at least one provider")
        names = [provider.name for provider in providers]
        if len(set(names)) != len(names):
            # The cache and the attempt log are keyed by provider name.
            raise ValueError(f"provider names must be unique, got {names}")
        if not 0.0 <= confidence_threshold <= 1.0:
            raise ValueError(f"confidence_threshold must be within 0..1, got {confidence_threshold}")
        self.providers = list(providers)
        self.confidence_threshold = confidence_threshold
        self.cache = cache
        self.retry_policy = retry_policy or RetryPolicy()
        self._clock = clock

    def enrich(self, request: EnrichmentRequest) -> EnrichmentResult:
        now = self._clock()
        first_attempted_at = request.first_attempted_at or now
        run_number = request.prior_runs + 1
        domain = registrable_domain(request.domain)
        if domain is None:
            return EnrichmentResult(
                domain=None,
                company_name=request.company_name,
                status=EnrichmentStatus.NOT_FOUND,
                firmographics=None,
                attempts=[],
                first_attempted_at=first_attempted_at,
                run_number=run_number,
            )

        attempts: list[ProviderAttempt] = []
        below_threshold: list[Firmographics] = []
        for provider in self.providers:
            attempt, answer = self._ask(provider, domain, request.company_name)
            attempts.append(attempt)
            if answer is None:
                continue
            if answer.confidence >= self.confidence_threshold:
                return EnrichmentResult(
                    domain=domain,
                    company_name=request.company_name,
                    status=EnrichmentStatus.ENRICHED,
                    firmographics=answer,
                    attempts=attempts,
                    first_attempted_at=first_attempted_at,
                    run_number=run_number,
                )
            below_threshold.append(answer)

        # max() keeps the first of equals, so a tie goes to the provider earlier in the configured order.
        best = max(below_threshold, key=lambda answer: answer.confidence, default=None)
        transient = [attempt for attempt in attempts if attempt.outcome == "transient_error"]
        next_retry_at: datetime | None = None
        if transient:
            # A provider that could not answer might have answered well: retry rather than settle.
            next_retry_at = self.retry_policy.next_retry_at(
                now=now,
                run_number=run_number,
                first_attempted_at=first_attempted_at,
                retry_after_seconds=max(attempt.retry_after_seconds or 0.0 for attempt in transient),
            )
            status = EnrichmentStatus.RETRY_LATER if next_retry_at else EnrichmentStatus.DEADLINE_PASSED
        elif best is not None:
            status = EnrichmentStatus.LOW_CONFIDENCE
        else:
            status = EnrichmentStatus.NOT_FOUND
        return EnrichmentResult(
            domain=domain,
            company_name=request.company_name,
            status=status,
            firmographics=best,
            attempts=attempts,
            first_attempted_at=first_attempted_at,
            run_number=run_number,
            next_retry_at=next_retry_at,
        )

    def _ask(
        self, provider: EnrichmentProvider, domain: str, company_name: str | None
    ) -> tuple[ProviderAttempt, Firmographics | None]:
        if self.cache is not None:
            entry = self.cache.get(provider.name, domain)
            if entry is not None:
                return _attempt(provider.name, entry.firmographics, from_cache=True), entry.firmographics
        try:
            answer = provider.lookup(domain, company_name=company_name)
        except EnrichmentTransientError as error:
            logger.info("enrichment %s for %s failed transiently: %s", provider.name, domain, error)
            return ProviderAttempt(
                provider=provider.name,
                outcome="transient_error",
                error=str(error),
                retry_after_seconds=error.retry_after_seconds,
            ), None
        except EnrichmentPermanentError as error:
            logger.warning("enrichment %s for %s failed: %s", provider.name, domain, error)
            return ProviderAttempt(provider=provider.name, outcome="permanent_error", error=str(error)), None
        if self.cache is not None:
            self.cache.put(provider.name, domain, answer)
        return _attempt(provider.name, answer, from_cache=False), answer


def _attempt(provider: str, answer: Firmographics | None, *, from_cache: bool) -> ProviderAttempt:
    if answer is None:
        return ProviderAttempt(provider=provider, outcome="not_found", from_cache=from_cache)
    return ProviderAttempt(
        provider=provider, outcome="found", from_cache=from_cache, confidence=answer.confidence
    )
