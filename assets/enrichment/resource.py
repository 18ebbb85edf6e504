"""The Dagster resource the enrichment stage calls: `enrich([(domain, company_name), ...])`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from integrations.enrichment.cache import EnrichmentCache
from integrations.enrichment.http_provider import HttpEnrichmentProvider
from integrations.enrichment.port import HTTP_VENDOR, KNOWN_PROVIDERS, REFERENCE_FILE, EnrichmentProvider
from integrations.enrichment.reference_file import ReferenceFileProvider
from integrations.enrichment.waterfall import (
    EnrichmentRequest,
    EnrichmentResult,
    RetryPolicy,
    Waterfall,
)


class EnrichmentResource(ConfigurableResource):
    """Firmographics for inbound leads through a provider waterfall, with a TTL cache."""

    provider_order: list[str] = Field(
        default=[REFERENCE_FILE],
        description=f"Providers asked in this order; each one of {', '.join(KNOWN_PROVIDERS)}.",
    )
    reference_file_path: str | None = Field(
        default=None,
        description="Firmographics reference CSV (domain,name,country,employees,industry,confidence).",
    )
    http_base_url: str | None = Field(
        default=None, description="Vendor API base; GET {base}/companies?domain="
    )
    http_token: str | None = Field(
        default=None,
        description='The vendor token (pass as EnvVar("LEADOPS_ENRICHMENT_TOKEN"), never a value).',
    )
    http_timeout_seconds: float = 5.0
    http_max_requests_per_second: float = 5.0
    http_max_retry_after_seconds: float = Field(
        default=30.0, description="A 429 Retry-After up to this long is waited out; longer parks the lead."
    )
    confidence_threshold: float = Field(
        default=0.7, description="Answers below this are low_confidence and never used for segmenting."
    )
    cache_path: str | None = Field(default=None, description="SQLite cache file; unset turns caching off.")
    positive_ttl_hours: float = 24 * 30
    negative_ttl_hours: float = 24 * 7
    retry_base_delay_seconds: float = 60.0
    # With these defaults a failing domain is asked at 0, 1, 3, 7, 15, 25 and 30 minutes, then given up on:
    # a lead should not wait longer than its first-touch SLA for firmographics.
    retry_max_delay_seconds: float = 600.0
    retry_deadline_hours: float = Field(
        default=0.5, description="After this long since the first try, a failing lead is deadline_passed."
    )
    unavailable_ttl_hours: float = Field(
        default=1.0,
        description="How long a domain given up on (unavailable) stays so before a fresh lookup is tried.",
    )
    max_lookup_seconds_per_run: float = Field(
        default=60.0,
        description="Lookup time per run; domains left over wait as pending_retry for the next run.",
    )

    _waterfall: Waterfall | None = PrivateAttr(default=None)

    def build_providers(self) -> list[EnrichmentProvider]:
        unknown = [name for name in self.provider_order if name not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(f"unknown enrichment provider(s) {unknown}; known: {', '.join(KNOWN_PROVIDERS)}")
        providers: list[EnrichmentProvider] = []
        for name in self.provider_order:
            if name == REFERENCE_FILE:
                if not self.reference_file_path:
                    raise ValueError("provider reference_file needs reference_file_path")
                providers.append(ReferenceFileProvider(self.reference_file_path, name=REFERENCE_FILE))
            else:
                if not self.http_base_url:
                    raise ValueError("provider http_vendor needs http_base_url")
                providers.append(
                    HttpEnrichmentProvider(
                        self.http_base_url,
                        token=self.http_token or "",
                        name=HTTP_VENDOR,
                        timeout_seconds=self.http_timeout_seconds,
                        max_requests_per_second=self.http_max_requests_per_second,
                        max_retry_after_seconds=self.http_max_retry_after_seconds,
                    )
                )
        return providers

    def _get_waterfall(self) -> Waterfall:
        # Built once per resource instance: the reference file is parsed once and the HTTP client keeps
        # its connections across the leads of a run.
        if self._waterfall is None:
            cache = (
                EnrichmentCache(
                    self.cache_path,
                    positive_ttl=timedelta(hours=self.positive_ttl_hours),
                    negative_ttl=timedelta(hours=self.negative_ttl_hours),
                )
                if self.cache_path
                else None
            )
            self._waterfall = Waterfall(
                self.build_providers(),
                confidence_threshold=self.confidence_threshold,
                cache=cache,
                retry_policy=self.retry_policy(),
            )
        return self._waterfall

    def retry_policy(self) -> RetryPolicy:
        """The backoff and deadline the waterfall applies, for callers that park a lead themselves."""
        return RetryPolicy(
            base_delay=timedelta(seconds=self.retry_base_delay_seconds),
            max_delay=timedelta(seconds=self.retry_max_delay_seconds),
            deadline=timedelta(hours=self.retry_deadline_hours),
        )

    def enrich(
        self, domains_with_names: Sequence[tuple[str | None, str | None] | EnrichmentRequest]
    ) -> list[EnrichmentResult]:
        """One result per input, in input order.

        Pass `(domain, company_name)` for a first try, or a parked result's `retry_request()` so the
        backoff and the deadline count from the first try.
        """
        waterfall = self._get_waterfall()
        return [
            waterfall.enrich(
                item
                if isinstance(item, EnrichmentRequest)
                else EnrichmentRequest(domain=item[0], company_name=item[1])
            )
            for item in domains_with_names
        ]

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._waterfall is not None:
            for provider in self._waterfall.providers:
                if isinstance(provider, HttpEnrichmentProvider):
                    provider.close()
            self._waterfall = None
