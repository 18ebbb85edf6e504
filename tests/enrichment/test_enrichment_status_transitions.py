"""How one lookup moves a domain's row: found, low_confidence, not_found, pending_retry, unavailable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assets.enrichment.domain_firmographics import (
    CandidateDomain,
    DomainRow,
    DomainStatus,
    DomainWork,
    TablePolicy,
    WorkReason,
    domains_needing_work,
    enrich_domains,
    row_after_lookup,
)
from integrations.enrichment.fake import FakeEnrichmentProvider, firmographics
from integrations.enrichment.port import EnrichmentPermanentError, EnrichmentTransientError
from integrations.enrichment.waterfall import EnrichmentRequest, RetryPolicy, Waterfall
from tests.integrations.enrichment.enrichment_vendor_server import SettableClock

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
POLICY = TablePolicy(
    deadline=timedelta(minutes=30),
    found_ttl=timedelta(days=30),
    not_found_ttl=timedelta(days=7),
    unavailable_ttl=timedelta(hours=1),
)
RETRY = RetryPolicy(
    base_delay=timedelta(minutes=1), max_delay=timedelta(minutes=10), deadline=POLICY.deadline
)


class Desk:
    """A waterfall over fake providers on a settable clock, and the row each lookup leaves behind."""

    def __init__(self, *providers: FakeEnrichmentProvider) -> None:
        self.clock = SettableClock(START)
        self.providers = providers or (FakeEnrichmentProvider("fake"),)
        self.waterfall = Waterfall(
            self.providers, confidence_threshold=0.7, retry_policy=RETRY, clock=self.clock
        )

    def look_up(self, work: DomainWork) -> DomainRow:
        now = self.clock()
        return row_after_lookup(work, self.waterfall.enrich(work.request(POLICY)), now=now, policy=POLICY)

    def first(self, domain: str) -> DomainRow:
        return self.look_up(DomainWork(domain, None, WorkReason.NEW, None))

    def again(self, previous: DomainRow) -> DomainRow:
        """The next lookup the pipeline would make for this row once it is due."""
        [work] = domains_needing_work({}, {previous.domain: previous}, now=self.clock())
        return self.look_up(work)


def test_an_answer_at_the_threshold_is_found_and_settled_for_the_positive_ttl() -> None:
    desk = Desk(FakeEnrichmentProvider("fake", {"acme.com": firmographics("acme.com", confidence=0.7)}))

    row = desk.first("acme.com")

    assert (row.status, row.provider, row.employees, row.country_code) == ("found", "fake", 1500, "DE")
    assert (row.attempts, row.first_requested_at, row.last_attempt_at) == (1, START, START)
    assert (row.next_attempt_at, row.expires_at) == (None, START + timedelta(days=30))
    assert (row.deadline_at, row.error) == (START + timedelta(minutes=30), None)


def test_a_low_confidence_answer_keeps_its_values_for_humans_under_its_own_status() -> None:
    desk = Desk(FakeEnrichmentProvider("fake", {"weak.io": firmographics("weak.io", confidence=0.69)}))

    row = desk.first("weak.io")

    assert (row.status, row.employees, row.confidence) == ("low_confidence", 1500, 0.69)
    assert row.expires_at == START + timedelta(days=30)


def test_every_provider_answering_unknown_is_not_found_for_the_negative_ttl() -> None:
    desk = Desk(FakeEnrichmentProvider("first"), FakeEnrichmentProvider("second"))

    row = desk.first("ghost.io")

    assert (row.status, row.provider, row.employees, row.error) == ("not_found", None, None, None)
    assert row.expires_at == START + timedelta(days=7)


def test_a_transient_failure_parks_the_domain_with_doubling_backoff_until_the_provider_recovers() -> None:
    vendor = FakeEnrichmentProvider("vendor", {"acme.com": EnrichmentTransientError("vendor: HTTP 503")})
    desk = Desk(vendor)

    first = desk.first("acme.com")
    desk.clock.advance(timedelta(minutes=1))
    second = desk.again(first)
    desk.clock.advance(timedelta(minutes=2))
    vendor.answers["acme.com"] = firmographics("acme.com", employees=42)
    recovered = desk.again(second)

    assert (first.status, first.attempts, first.error) == ("pending_retry", 1, "vendor: HTTP 503")
    assert (first.next_attempt_at, first.expires_at) == (START + timedelta(minutes=1), None)
    assert (second.status, second.attempts) == ("pending_retry", 2)
    assert second.next_attempt_at == START + timedelta(minutes=1 + 2)
    assert (recovered.status, recovered.attempts, recovered.employees) == ("found", 3, 42)
    # One episode: the deadline and the first request stay where the first lookup put them.
    assert {row.deadline_at for row in (first, second, recovered)} == {START + timedelta(minutes=30)}
    assert {row.first_requested_at for row in (first, second, recovered)} == {START}


def test_a_domain_still_failing_at_the_deadline_is_given_up_as_unavailable() -> None:
    desk = Desk(FakeEnrichmentProvider("vendor", {"down.io": EnrichmentTransientError("vendor: timeout")}))

    row = desk.first("down.io")
    asked_at = [row.last_attempt_at]
    while row.status == "pending_retry":
        desk.clock.now = row.next_attempt_at
        row = desk.again(row)
        asked_at.append(row.last_attempt_at)

    assert [int((moment - START) / timedelta(minutes=1)) for moment in asked_at] == [0, 1, 3, 7, 15, 25, 30]
    assert (row.status, row.attempts, row.error) == ("unavailable", 7, "vendor: timeout")
    assert (row.next_attempt_at, row.expires_at) == (None, START + timedelta(minutes=30, hours=1))


def test_a_permanent_provider_failure_is_unavailable_at_once_not_not_found() -> None:
    desk = Desk(
        FakeEnrichmentProvider("vendor", {"acme.com": EnrichmentPermanentError("vendor: HTTP 401 bad token")})
    )

    row = desk.first("acme.com")

    assert (row.status, row.error) == ("unavailable", "vendor: HTTP 401 bad token")
    assert row.expires_at == START + timedelta(hours=1)


def test_a_below_threshold_answer_waits_while_another_provider_failed_transiently() -> None:
    desk = Desk(
        FakeEnrichmentProvider("file", {"acme.com": firmographics("acme.com", confidence=0.4)}),
        FakeEnrichmentProvider("vendor", {"acme.com": EnrichmentTransientError("vendor: HTTP 502")}),
    )

    row = desk.first("acme.com")

    assert (row.status, row.provider, row.confidence) == ("pending_retry", "file", 0.4)


def test_an_expired_row_is_looked_up_again_in_a_new_episode_keeping_its_first_request() -> None:
    file = FakeEnrichmentProvider("file", {"acme.com": firmographics("acme.com", employees=100)})
    desk = Desk(file)
    settled = desk.first("acme.com")
    desk.clock.advance(timedelta(days=29))
    assert domains_needing_work({}, {"acme.com": settled}, now=desk.clock()) == []

    desk.clock.advance(timedelta(days=1))
    file.answers["acme.com"] = firmographics("acme.com", employees=250)
    [work] = domains_needing_work(
        {"acme.com": _candidate("acme.com")}, {"acme.com": settled}, now=desk.clock()
    )
    refreshed = desk.look_up(work)

    assert work.reason is WorkReason.REFRESH
    assert (refreshed.status, refreshed.employees, refreshed.attempts) == ("found", 250, 1)
    assert refreshed.first_requested_at == START
    assert refreshed.deadline_at == START + timedelta(days=30, minutes=30)


def test_a_lookup_that_raises_parks_the_domain_instead_of_failing_the_batch() -> None:
    def broken(request: EnrichmentRequest):
        raise RuntimeError(f"reference file vanished while looking up {request.domain}")

    batch = enrich_domains(
        [DomainWork("acme.com", None, WorkReason.NEW, None)],
        broken,
        policy=POLICY,
        retry_policy=RETRY,
        budget=timedelta(seconds=60),
        clock=lambda: START,
    )

    [row] = batch.rows
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending_retry",
        1,
        START + timedelta(minutes=1),
    )
    assert row.error == "enrichment: RuntimeError: reference file vanished while looking up acme.com"
    assert batch.failures and batch.provider_calls == 0


def test_domains_left_when_the_run_budget_is_spent_wait_visibly_and_are_due_at_once() -> None:
    desk = Desk(FakeEnrichmentProvider("fake", {"a.io": firmographics("a.io")}))
    elapsed = iter([0.0, 0.0, 61.0, 61.0])
    known = _pending("b.io")

    batch = enrich_domains(
        [
            DomainWork("a.io", None, WorkReason.NEW, None),
            DomainWork("b.io", None, WorkReason.RETRY, known),
            DomainWork("c.io", None, WorkReason.NEW, None),
        ],
        desk.waterfall.enrich,
        policy=POLICY,
        retry_policy=RETRY,
        budget=timedelta(seconds=60),
        clock=desk.clock,
        monotonic=lambda: next(elapsed),
    )

    assert (batch.looked_up, batch.deferred, batch.provider_calls) == (1, 2, 1)
    assert [(row.domain, row.status, row.attempts) for row in batch.rows] == [
        ("a.io", "found", 1),
        ("c.io", "pending_retry", 0),  # b.io keeps its row as it was: still due, next run takes it
    ]
    deferred = batch.rows[1]
    assert (deferred.next_attempt_at, deferred.last_attempt_at) == (START, None)
    assert deferred.error is not None and "budget" in deferred.error


def test_a_retry_continues_the_stored_deadline_even_if_the_setting_changed() -> None:
    stored = _pending("acme.com", deadline_at=START + timedelta(minutes=10))

    request = DomainWork("acme.com", None, WorkReason.RETRY, stored).request(POLICY)

    assert request.first_attempted_at is not None
    assert request.first_attempted_at + POLICY.deadline == START + timedelta(minutes=10)
    assert request.prior_runs == stored.attempts


@pytest.mark.parametrize("status", ["found", "low_confidence", "not_found", "unavailable"])
def test_settled_rows_are_not_retried_before_they_expire(status: str) -> None:
    settled = DomainRow(
        domain="acme.com",
        status=DomainStatus(status),
        attempts=1,
        first_requested_at=START,
        deadline_at=START,  # long past: only pending_retry rows are retried by their deadline
        expires_at=START + timedelta(hours=1),
    )

    assert domains_needing_work({}, {"acme.com": settled}, now=START + timedelta(minutes=59)) == []


def _candidate(domain: str) -> CandidateDomain:
    return CandidateDomain(domain, None, START)


def _pending(domain: str, **overrides: object) -> DomainRow:
    values: dict[str, object] = {
        "domain": domain,
        "status": DomainStatus.PENDING_RETRY,
        "attempts": 2,
        "first_requested_at": START - timedelta(minutes=5),
        "last_attempt_at": START - timedelta(minutes=1),
        "next_attempt_at": START,
        "deadline_at": START + timedelta(minutes=25),
        **overrides,
    }
    return DomainRow(**values)
