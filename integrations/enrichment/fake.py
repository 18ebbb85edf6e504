"""A fake enrichment provider with canned answers, for unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from integrations.enrichment.port import (
    EnrichmentError,
    Firmographics,
)

_FIXED_TIME = datetime(2025, 1, 1, tzinfo=UTC)


def firmographics(
    domain: str,
    *,
    confidence: float = 0.9,
    name: str | None = None,
    country: str = "DE",
    employees: int = 1500,
    industry: str = "fintech",
    provider: str = "fake",
    fetched_at: datetime = _FIXED_TIME,
) -> Firmographics:
    """A valid answer with defaults, so a test spells out only what it is about."""
    return Firmographics(
        domain=domain,
        name=name or domain.split(".")[0].title(),
        country=country,
        employees=employees,
        industry=industry,
        confidence=confidence,
        provider=provider,
        fetched_at=fetched_at,
    )


class FakeEnrichmentProvider:
    """Answers from `answers` (domain -> Firmographics, or an EnrichmentError to raise); unknown is None.

    `answers` may be changed between calls (a vendor that recovers); `calls` records every lookup.
    """

    def __init__(
        self, name: str = "fake", answers: Mapping[str, Firmographics | EnrichmentError] | None = None
    ) -> None:
        self.name = name
        self.answers: dict[str, Firmographics | EnrichmentError] = dict(answers or {})
        self.calls: list[str] = []

    def lookup(self, domain: str, *, company_name: str | None = None) -> Firmographics | None:
        self.calls.append(domain)
        answer = self.answers.get(domain)
        if isinstance(answer, EnrichmentError):
            raise answer
        if answer is None:
            return None
        return answer.model_copy(update={"provider": self.name})
