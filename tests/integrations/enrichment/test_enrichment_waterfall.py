from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.enrichment.fake import FakeEnrichmentProvider, firmographics
from integrations.enrichment.port import EnrichmentPermanentError, EnrichmentTransientError
from integrations.enrichment.waterfall import (
    EnrichmentRequest,
    EnrichmentStatus,
    RetryPolicy,
    Waterfall,
)

POLICY = RetryPolicy(
    base_delay=timedelta(minutes=1), max_delay=timedelta(hours=1), deadline=timedelta(hours=4)
)


def waterfall(*providers: FakeEnrichmentProvider, clock, threshold: float = 0.7) -> Waterfall:
    return Waterfall(providers, confidence_threshold=threshold, retry_policy=POLICY, clock=clock)


def test_providers_are_asked_in_order_and_the_first_confident_answer_stops_the_walk(clock) -> None:
    first = FakeEnrichmentProvider("first", {"acme.com": firmographics("acme.com", confidence=0.9)})
    second = FakeEnrichmentProvider("second", {"acme.com": firmographics("acme.com", confidence=0.99)})

    result = waterfall(first, second, clock=clock).enrich(EnrichmentRequest(domain="www.acme.com"))

    assert result.status is EnrichmentStatus.ENRICHED
    assert result.firmographics is not None
    assert result.firmographics.provider == "first"
    assert result.usable_firmographics == result.firmographics
    assert second.calls == []
    assert [(a.provider, a.outcome) for a in result.attempts] == [("first", "found")]


def test_an_answer_exactly_at_the_threshold_is_enough(clock) -> None:
    only = FakeEnrichmentProvider("only", {"acme.com": firmographics("acme.com", confidence=0.7)})

    assert waterfall(only, clock=clock).enrich(EnrichmentRequest(domain="acme.com")).status == "enriched"


def test_a_weak_answer_falls_through_to_the_next_provider(clock) -> None:
    weak = FakeEnrichmentProvider("weak", {"acme.com": firmographics("acme.com", confidence=0.4)})
    strong = FakeEnrichmentProvider("strong", {"acme.com": firmographics("acme.com", confidence=0.8)})

    result = waterfall(weak, strong, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.status is EnrichmentStatus.ENRICHED
    assert result.firmographics is not None
    assert result.firmographics.provider == "strong"
    assert [(a.provider, a.outcome, a.confidence) for a in result.attempts] == [
        ("weak", "found", 0.4),
        ("strong", "found", 0.8),
    ]


def test_low_confidence_is_never_returned_as_enriched_nor_usable(clock) -> None:
    weaker = FakeEnrichmentProvider("weaker", {"acme.com": firmographics("acme.com", confidence=0.3)})
    weak = FakeEnrichmentProvider("weak", {"acme.com": firmographics("acme.com", confidence=0.6)})

    result = waterfall(weaker, weak, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.status is EnrichmentStatus.LOW_CONFIDENCE
    assert result.firmographics is not None
    assert (result.firmographics.provider, result.firmographics.confidence) == ("weak", 0.6)
    assert result.usable_firmographics is None
    assert result.next_retry_at is None


def test_nobody_knowing_the_domain_is_not_found(clock) -> None:
    a, b = FakeEnrichmentProvider("a"), FakeEnrichmentProvider("b")

    result = waterfall(a, b, clock=clock).enrich(EnrichmentRequest(domain="ghost.com", company_name="Ghost"))

    assert result.status is EnrichmentStatus.NOT_FOUND
    assert (result.firmographics, result.company_name) == (None, "Ghost")
    assert [a.outcome for a in result.attempts] == ["not_found", "not_found"]


@pytest.mark.parametrize("domain", [None, "", "localhost", "not a domain"])
def test_a_missing_or_unregistrable_domain_is_not_found_without_asking_anyone(clock, domain) -> None:
    provider = FakeEnrichmentProvider("a")

    result = waterfall(provider, clock=clock).enrich(EnrichmentRequest(domain=domain))

    assert (result.status, result.domain, result.attempts) == (EnrichmentStatus.NOT_FOUND, None, [])
    assert provider.calls == []


def test_a_permanent_failure_is_recorded_and_the_walk_goes_on(clock) -> None:
    broken = FakeEnrichmentProvider("broken", {"acme.com": EnrichmentPermanentError("HTTP 401")})
    good = FakeEnrichmentProvider("good", {"acme.com": firmographics("acme.com")})

    result = waterfall(broken, good, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.status is EnrichmentStatus.ENRICHED
    assert (result.attempts[0].outcome, result.attempts[0].error) == ("permanent_error", "HTTP 401")


def test_a_confident_answer_wins_even_when_an_earlier_provider_failed_transiently(clock) -> None:
    down = FakeEnrichmentProvider("down", {"acme.com": EnrichmentTransientError("HTTP 503")})
    good = FakeEnrichmentProvider("good", {"acme.com": firmographics("acme.com")})

    result = waterfall(down, good, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.status is EnrichmentStatus.ENRICHED
    assert result.next_retry_at is None
    assert result.attempts[0].outcome == "transient_error"


def test_a_transient_failure_without_a_confident_answer_parks_the_lead_with_backoff(clock) -> None:
    weak = FakeEnrichmentProvider("weak", {"acme.com": firmographics("acme.com", confidence=0.5)})
    down = FakeEnrichmentProvider("down", {"acme.com": EnrichmentTransientError("HTTP 503")})

    result = waterfall(weak, down, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.status is EnrichmentStatus.RETRY_LATER
    assert result.usable_firmographics is None
    assert result.next_retry_at == clock.now + timedelta(minutes=1)
    assert (result.first_attempted_at, result.run_number) == (clock.now, 1)
    assert [(a.provider, a.outcome, a.error) for a in result.attempts] == [
        ("weak", "found", None),
        ("down", "transient_error", "HTTP 503"),
    ]


def test_each_retry_doubles_the_wait_up_to_the_cap_then_the_deadline_ends_it(clock) -> None:
    down = FakeEnrichmentProvider("down", {"acme.com": EnrichmentTransientError("timeout")})
    walk = waterfall(down, clock=clock)
    started = clock.now

    result = walk.enrich(EnrichmentRequest(domain="acme.com"))
    waits = []
    while result.status is EnrichmentStatus.RETRY_LATER:
        assert result.next_retry_at is not None
        waits.append(result.next_retry_at - clock.now)
        clock.now = result.next_retry_at
        result = walk.enrich(result.retry_request())

    minute = timedelta(minutes=1)
    # 1, 2, 4, 8, 16, 32 min, then the 1 h cap; the deadline (4 h after the first try) caps the last wait.
    assert waits[:7] == [minute, 2 * minute, 4 * minute, 8 * minute, 16 * minute, 32 * minute, 60 * minute]
    assert started + sum(waits, timedelta()) == started + timedelta(hours=4)
    assert result.status is EnrichmentStatus.DEADLINE_PASSED
    assert result.next_retry_at is None
    assert result.first_attempted_at == started
    assert result.run_number == len(waits) + 1
    with pytest.raises(ValueError, match="deadline_passed"):
        result.retry_request()


def test_a_retry_that_succeeds_is_enriched(clock) -> None:
    vendor = FakeEnrichmentProvider("vendor", {"acme.com": EnrichmentTransientError("HTTP 502")})
    walk = waterfall(vendor, clock=clock)
    parked = walk.enrich(EnrichmentRequest(domain="acme.com"))

    vendor.answers["acme.com"] = firmographics("acme.com")
    clock.advance(timedelta(minutes=1))
    result = walk.enrich(parked.retry_request())

    assert result.status is EnrichmentStatus.ENRICHED
    assert result.run_number == 2


def test_the_vendors_retry_after_wins_over_a_shorter_backoff(clock) -> None:
    busy = FakeEnrichmentProvider(
        "busy", {"acme.com": EnrichmentTransientError("429", retry_after_seconds=900)}
    )

    result = waterfall(busy, clock=clock).enrich(EnrichmentRequest(domain="acme.com"))

    assert result.next_retry_at == clock.now + timedelta(minutes=15)


def test_waterfall_refuses_duplicate_provider_names_and_a_threshold_outside_0_1(clock) -> None:
    with pytest.raises(ValueError, match="unique"):
        waterfall(FakeEnrichmentProvider("a"), FakeEnrichmentProvider("a"), clock=clock)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        waterfall(FakeEnrichmentProvider("a"), clock=clock, threshold=70)
