"""Fakes for unit tests: a provider with canned answers, and the resource running on one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from dagster import Config
from pydantic import Field

from dagster_project.resources.enrichment.port import (
    EnrichmentError,
    EnrichmentProvider,
    EnrichmentTransientError,
    Firmographics,
    registrable_domain,
    utc_now,
)
from dagster_project.resources.enrichment.resource import EnrichmentResource

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


class FakeCompany(Config):
    domain: str
    name: str
    country: str = "DE"
    employees: int = 1500
    industry: str = "fintech"
    confidence: float = 0.9


class FakeEnrichmentResource(EnrichmentResource):
    """The real resource (waterfall, threshold, cache, retry policy) over one fake provider named "fake".

    Canned answers are config, not Python objects, because Dagster rebuilds a resource from its config
    inside a run (private attributes do not survive that).
    """

    companies: list[FakeCompany] = Field(default=[], description="What the fake provider knows.")
    unavailable_domains: list[str] = Field(
        default=[],
        description="Domains the fake provider fails on transiently, as a vendor's HTTP 503 would.",
    )

    def build_providers(self) -> list[EnrichmentProvider]:
        fetched_at = utc_now()
        answers: dict[str, Firmographics | EnrichmentError] = {
            registrable_domain(domain) or domain: EnrichmentTransientError(
                f"fake: HTTP 503 looking up {domain}"
            )
            for domain in self.unavailable_domains
        }
        for company in self.companies:
            answer = Firmographics(**company.model_dump(), provider="fake", fetched_at=fetched_at)
            answers.setdefault(answer.domain, answer)
        return [FakeEnrichmentProvider("fake", answers)]
