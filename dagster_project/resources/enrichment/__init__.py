"""Firmographic enrichment: a provider port, its adapters, the waterfall over them, a TTL cache, and the
Dagster resource the pipeline calls."""

from dagster_project.resources.enrichment.cache import CacheEntry, EnrichmentCache
from dagster_project.resources.enrichment.http_provider import HttpEnrichmentProvider, HttpProviderConfigError
from dagster_project.resources.enrichment.port import (
    EnrichmentError,
    EnrichmentPermanentError,
    EnrichmentProvider,
    EnrichmentTransientError,
    Firmographics,
    registrable_domain,
)
from dagster_project.resources.enrichment.reference_file import (
    ReferenceFileError,
    ReferenceFileProvider,
    RowProblem,
)
from dagster_project.resources.enrichment.resource import EnrichmentResource
from dagster_project.resources.enrichment.waterfall import (
    EnrichmentRequest,
    EnrichmentResult,
    EnrichmentStatus,
    ProviderAttempt,
    RetryPolicy,
    Waterfall,
)

__all__ = [
    "CacheEntry",
    "EnrichmentCache",
    "EnrichmentError",
    "EnrichmentPermanentError",
    "EnrichmentProvider",
    "EnrichmentRequest",
    "EnrichmentResource",
    "EnrichmentResult",
    "EnrichmentStatus",
    "EnrichmentTransientError",
    "Firmographics",
    "HttpEnrichmentProvider",
    "HttpProviderConfigError",
    "ProviderAttempt",
    "ReferenceFileError",
    "ReferenceFileProvider",
    "RetryPolicy",
    "RowProblem",
    "Waterfall",
    "registrable_domain",
]
