"""Adapter for a JSON firmographics vendor API.

Contract with the vendor: `GET {base_url}/companies?domain=<registrable domain>` with
`Authorization: Bearer <token>` answers 200 with `{"companies": [{"domain", "name", "country",
"employees", "industry", "confidence"}, ...]}` (unknown keys ignored), or 404 / an empty list when it does
not know the domain.

Failures are sorted for the waterfall: timeouts, lost connections, 429 and 5xx are transient (park the
lead and ask again later); any other 4xx and payloads that do not fit the contract are permanent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from common.domains import registrable_domain
from integrations.enrichment.port import (
    Clock,
    EnrichmentPermanentError,
    EnrichmentTransientError,
    Firmographics,
    utc_now,
)

logger = logging.getLogger(__name__)

# Enough of an error body to diagnose a vendor failure in a log line without copying whole pages.
_BODY_EXCERPT_CHARS = 200


class HttpProviderConfigError(ValueError):
    """The provider cannot be built as configured (for example the token variable is unset)."""


class _VendorCompany(BaseModel):
    model_config = ConfigDict(extra="ignore")

    domain: str
    name: str
    country: str
    employees: int
    industry: str
    confidence: float


class _VendorResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    companies: list[_VendorCompany]


class _Throttle:
    """Spaces requests at least 1/max_per_second apart, across threads sharing the provider."""

    def __init__(
        self,
        max_per_second: float,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if max_per_second <= 0:
            raise HttpProviderConfigError(f"max_requests_per_second must be > 0, got {max_per_second}")
        self._interval = 1.0 / max_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: float | None = None

    def wait(self) -> None:
        with self._lock:
            now = self._monotonic()
            slot = now if self._next_slot is None else max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class HttpEnrichmentProvider:
    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        name: str = "http_vendor",
        timeout_seconds: float = 5.0,
        max_requests_per_second: float = 5.0,
        max_retry_after_seconds: float = 30.0,
        max_rate_limit_waits: int = 2,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """
        max_retry_after_seconds: a 429 whose Retry-After is at most this long is waited out inside the
            call (up to max_rate_limit_waits times); a longer one is raised as transient with the hint, so
            one throttled lead does not hold the whole run.
        """
        if not base_url.strip():
            raise HttpProviderConfigError("base_url is empty")
        token = token.strip()
        if not token:
            raise HttpProviderConfigError("the vendor token is empty (set LEADOPS_ENRICHMENT_TOKEN)")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout_seconds = timeout_seconds
        self._max_retry_after_seconds = max_retry_after_seconds
        self._max_rate_limit_waits = max_rate_limit_waits
        self._clock = clock
        self._sleep = sleep
        self._throttle = _Throttle(max_requests_per_second, monotonic=monotonic, sleep=sleep)
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_seconds),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HttpEnrichmentProvider(name={self.name!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def lookup(self, domain: str, *, company_name: str | None = None) -> Firmographics | None:
        wanted = registrable_domain(domain)
        if wanted is None:
            return None
        waits = 0
        while True:
            response = self._get(wanted)
            if response.status_code != 429:
                return self._interpret(response, wanted)
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"), now=self._clock())
            if (
                retry_after is not None
                and retry_after <= self._max_retry_after_seconds
                and waits < self._max_rate_limit_waits
            ):
                waits += 1
                logger.info("%s: rate limited, waiting %.1f s as Retry-After asks", self.name, retry_after)
                self._sleep(retry_after)
                continue
            raise EnrichmentTransientError(
                f"{self.name}: rate limited (HTTP 429) looking up {wanted}"
                + (f", Retry-After {retry_after:.0f} s" if retry_after is not None else ""),
                retry_after_seconds=retry_after,
            )

    def _get(self, domain: str) -> httpx.Response:
        self._throttle.wait()
        try:
            return self._client.get("/companies", params={"domain": domain})
        except httpx.TimeoutException as error:
            raise EnrichmentTransientError(
                f"{self.name}: no answer within {self._timeout_seconds} s looking up {domain} "
                f"({type(error).__name__})"
            ) from error
        except httpx.TransportError as error:
            raise EnrichmentTransientError(
                f"{self.name}: connection failed looking up {domain} ({type(error).__name__}: {error})"
            ) from error

    def _interpret(self, response: httpx.Response, domain: str) -> Firmographics | None:
        status = response.status_code
        if status >= 500:
            raise EnrichmentTransientError(
                f"{self.name}: HTTP {status} looking up {domain}: {_excerpt(response)}",
                retry_after_seconds=_retry_after_seconds(
                    response.headers.get("Retry-After"), now=self._clock()
                ),
            )
        if status in (404, 204):
            return None
        if status != 200:
            raise EnrichmentPermanentError(
                f"{self.name}: HTTP {status} looking up {domain}: {_excerpt(response)}"
            )
        try:
            payload = _VendorResponse.model_validate_json(response.content)
        except ValidationError as error:
            raise EnrichmentPermanentError(
                f"{self.name}: payload for {domain} does not fit the contract: {_summarize(error)}"
            ) from error
        # The vendor may answer with its nearest match; a different company's size must not be taken.
        matches = [company for company in payload.companies if registrable_domain(company.domain) == domain]
        if not matches:
            if payload.companies:
                logger.info("%s: answered for other domains than %s; treated as not found", self.name, domain)
            return None
        best = max(matches, key=lambda company: company.confidence)
        try:
            return Firmographics(
                domain=domain,
                name=best.name,
                country=best.country,
                employees=best.employees,
                industry=best.industry,
                confidence=best.confidence,
                provider=self.name,
                fetched_at=self._clock(),
            )
        except ValidationError as error:
            raise EnrichmentPermanentError(
                f"{self.name}: payload for {domain} does not fit the contract: {_summarize(error)}"
            ) from error


def _retry_after_seconds(header: str | None, *, now: datetime) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:_BODY_EXCERPT_CHARS] or "(empty body)"


def _summarize(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
        for issue in error.errors()
    )
