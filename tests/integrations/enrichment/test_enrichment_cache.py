from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from integrations.enrichment.cache import EnrichmentCache
from integrations.enrichment.fake import FakeEnrichmentProvider, firmographics
from integrations.enrichment.http_provider import HttpEnrichmentProvider
from integrations.enrichment.port import EnrichmentTransientError
from integrations.enrichment.waterfall import EnrichmentRequest, EnrichmentStatus, Waterfall
from tests.integrations.enrichment.enrichment_vendor_server import Reply, company

POSITIVE_TTL = timedelta(days=30)
NEGATIVE_TTL = timedelta(days=7)


def cache_at(path: Path, clock) -> EnrichmentCache:
    return EnrichmentCache(path, positive_ttl=POSITIVE_TTL, negative_ttl=NEGATIVE_TTL, clock=clock)


def test_a_cache_hit_skips_the_second_http_request(tmp_path: Path, vendor, vendor_token, clock) -> None:
    vendor.reply("lumenpay.de", Reply(body={"companies": [company("lumenpay.de")]}))
    http = HttpEnrichmentProvider(vendor.base_url, token=vendor_token, clock=clock)
    walk = Waterfall(
        [http], confidence_threshold=0.7, cache=cache_at(tmp_path / "cache.sqlite", clock), clock=clock
    )

    first = walk.enrich(EnrichmentRequest(domain="lumenpay.de"))
    clock.advance(timedelta(days=1))
    second = walk.enrich(EnrichmentRequest(domain="https://lumenpay.de/pricing"))

    assert len(vendor.requests_for("lumenpay.de")) == 1
    assert first.status == second.status == EnrichmentStatus.ENRICHED
    assert second.firmographics == first.firmographics
    assert [(a.outcome, a.from_cache) for a in second.attempts] == [("found", True)]


def test_not_found_is_cached_too(tmp_path: Path, vendor, vendor_token, clock) -> None:
    http = HttpEnrichmentProvider(vendor.base_url, token=vendor_token, clock=clock)
    walk = Waterfall(
        [http], confidence_threshold=0.7, cache=cache_at(tmp_path / "cache.sqlite", clock), clock=clock
    )

    statuses = [walk.enrich(EnrichmentRequest(domain="ghost.com")).status for _ in range(2)]

    assert statuses == [EnrichmentStatus.NOT_FOUND] * 2
    assert len(vendor.requests_for("ghost.com")) == 1


def test_positive_and_negative_entries_expire_on_their_own_ttls(tmp_path: Path, clock) -> None:
    cache = cache_at(tmp_path / "cache.sqlite", clock)
    cache.put("vendor", "acme.com", firmographics("acme.com"))
    cache.put("vendor", "ghost.com", None)

    clock.advance(NEGATIVE_TTL - timedelta(seconds=1))
    assert cache.get("vendor", "ghost.com") is not None
    clock.advance(timedelta(seconds=1))
    assert cache.get("vendor", "ghost.com") is None
    assert cache.get("vendor", "acme.com") is not None

    clock.advance(POSITIVE_TTL - NEGATIVE_TTL)
    assert cache.get("vendor", "acme.com") is None


def test_an_expired_entry_sends_the_waterfall_back_to_the_provider(tmp_path: Path, clock) -> None:
    provider = FakeEnrichmentProvider("vendor", {"acme.com": firmographics("acme.com")})
    walk = Waterfall(
        [provider], confidence_threshold=0.7, cache=cache_at(tmp_path / "c.sqlite", clock), clock=clock
    )

    walk.enrich(EnrichmentRequest(domain="acme.com"))
    clock.advance(POSITIVE_TTL)
    result = walk.enrich(EnrichmentRequest(domain="acme.com"))

    assert provider.calls == ["acme.com", "acme.com"]
    assert result.attempts[0].from_cache is False


def test_entries_are_per_provider(tmp_path: Path, clock) -> None:
    cache = cache_at(tmp_path / "cache.sqlite", clock)
    cache.put("reference_file", "acme.com", None)

    assert cache.get("http_vendor", "acme.com") is None
    entry = cache.get("reference_file", "acme.com")
    assert entry is not None
    assert not entry.found


def test_transient_failures_are_never_cached(tmp_path: Path, clock) -> None:
    provider = FakeEnrichmentProvider("vendor", {"acme.com": EnrichmentTransientError("HTTP 503")})
    walk = Waterfall(
        [provider], confidence_threshold=0.7, cache=cache_at(tmp_path / "c.sqlite", clock), clock=clock
    )

    walk.enrich(EnrichmentRequest(domain="acme.com"))
    walk.enrich(EnrichmentRequest(domain="acme.com"))

    assert provider.calls == ["acme.com", "acme.com"]


def test_the_cache_survives_reopening_the_file(tmp_path: Path, clock) -> None:
    path = tmp_path / "nested" / "cache.sqlite"
    cache_at(path, clock).put("vendor", "acme.com", firmographics("acme.com", employees=4200))

    entry = cache_at(path, clock).get("vendor", "acme.com")

    assert entry is not None
    assert entry.firmographics is not None
    assert entry.firmographics.employees == 4200
    assert entry.stored_at == clock.now


def test_an_unreadable_entry_is_a_miss_and_is_overwritten(tmp_path: Path, clock) -> None:
    path = tmp_path / "cache.sqlite"
    cache = cache_at(path, clock)
    cache.put("vendor", "acme.com", firmographics("acme.com"))
    with sqlite3.connect(path) as connection:
        connection.execute("update enrichment_cache set firmographics_json = '{\"domain\": 1}'")

    assert cache.get("vendor", "acme.com") is None
    cache.put("vendor", "acme.com", firmographics("acme.com"))
    assert cache.get("vendor", "acme.com") is not None


def test_purge_removes_only_expired_entries(tmp_path: Path, clock) -> None:
    cache = cache_at(tmp_path / "cache.sqlite", clock)
    cache.put("vendor", "old-found.com", firmographics("old-found.com"))
    cache.put("vendor", "old-missing.com", None)
    clock.advance(NEGATIVE_TTL)
    cache.put("vendor", "new-missing.com", None)

    assert cache.purge_expired() == 1
    assert cache.get("vendor", "old-found.com") is not None
    assert cache.get("vendor", "new-missing.com") is not None


def test_a_zero_ttl_is_refused(tmp_path: Path, clock) -> None:
    with pytest.raises(ValueError, match="positive"):
        EnrichmentCache(
            tmp_path / "c.sqlite", positive_ttl=timedelta(0), negative_ttl=NEGATIVE_TTL, clock=clock
        )
