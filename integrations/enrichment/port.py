"""The enrichment port: what every firmographics provider answers and how it fails.

Providers are adapters (an embedded reference file, a vendor's HTTP API, a fake for tests); the waterfall
only sees this contract. A provider answers `None` when it does not know the company, and raises one of
two errors when it could not answer: transient (worth asking again later) or permanent (asking again
gives the same failure).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import pycountry
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from common.domains import registrable_domain

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# The providers an installation can put in its waterfall, by the name settings and results use.
REFERENCE_FILE = "reference_file"
HTTP_VENDOR = "http_vendor"
KNOWN_PROVIDERS = (REFERENCE_FILE, HTTP_VENDOR)


class Firmographics(BaseModel):
    """One provider's answer about one company."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str = Field(min_length=1, description="Registrable domain, lower-case (acme.co.uk).")
    name: str = Field(min_length=1)
    country: str = Field(description="ISO 3166-1 alpha-2, upper-case.")
    employees: int = Field(ge=0)
    industry: str = Field(min_length=1)
    confidence: float = Field(ge=0.0, le=1.0, description="The provider's own confidence in the match.")
    provider: str = Field(min_length=1)
    fetched_at: AwareDatetime

    @field_validator("domain")
    @classmethod
    def _domain_is_registrable(cls, value: str) -> str:
        domain = registrable_domain(value)
        if domain is None:
            raise ValueError(f"{value!r} has no registrable domain")
        return domain

    @field_validator("name", "industry")
    @classmethod
    def _text_is_trimmed(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("country")
    @classmethod
    def _country_is_alpha2(cls, value: str) -> str:
        code = value.strip().upper()
        # pycountry.get() is lenient about the key; insist on exactly two letters so "GBR" or "UK" fail
        # here instead of silently missing every territory rule keyed on alpha-2.
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return code

    @field_validator("fetched_at")
    @classmethod
    def _fetched_at_in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class EnrichmentError(Exception):
    """A provider could not answer (as opposed to answering "not found")."""


class EnrichmentTransientError(EnrichmentError):
    """Timeout, rate limit (429), server error (5xx) or lost connection: ask again later.

    `retry_after_seconds` is the provider's own hint (a 429 `Retry-After`), when it gave one.
    """

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class EnrichmentPermanentError(EnrichmentError):
    """A 4xx other than 429, or a payload that does not fit the contract: asking again will not help."""


@runtime_checkable
class EnrichmentProvider(Protocol):
    name: str

    def lookup(self, domain: str, *, company_name: str | None = None) -> Firmographics | None:
        """Firmographics for the company on `domain`, or None when the provider does not know it.

        Raises EnrichmentTransientError or EnrichmentPermanentError when it could not answer.
        """
        ...
