"""The enrichment resource over a fake provider, for asset tests: canned answers are config."""

from __future__ import annotations

from dagster import Config
from pydantic import Field

from assets.enrichment.resource import EnrichmentResource
from common.domains import registrable_domain
from integrations.enrichment.fake import FakeEnrichmentProvider
from integrations.enrichment.port import (
    EnrichmentError,
    EnrichmentProvider,
    EnrichmentTransientError,
    Firmographics,
    utc_now,
)


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
