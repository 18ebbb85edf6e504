"""Which company domains the enrichment stage looks up, and in what order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assets.enrichment.domain_firmographics import (
    CandidateDomain,
    DomainRow,
    DomainSighting,
    DomainStatus,
    WorkReason,
    company_domains,
    domains_needing_work,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def sighting(
    domain: str,
    *,
    origin: str = "email",
    company: str | None = None,
    free: bool = False,
    disposable: bool = False,
    first: datetime = NOW - timedelta(hours=2),
    last: datetime | None = None,
) -> DomainSighting:
    return DomainSighting(origin, domain, free, disposable, company, first, last or first)


def row(domain: str, status: DomainStatus, **overrides: object) -> DomainRow:
    values: dict[str, object] = {
        "domain": domain,
        "status": status,
        "attempts": 1,
        "first_requested_at": NOW - timedelta(days=1),
        "deadline_at": NOW + timedelta(minutes=30),
        **overrides,
    }
    return DomainRow(**values)


def candidates(*domains: str) -> dict[str, CandidateDomain]:
    return {domain: CandidateDomain(domain, None, NOW - timedelta(hours=1)) for domain in domains}


def test_free_and_disposable_mail_domains_are_never_looked_up_but_a_website_on_the_same_lead_is() -> None:
    found = company_domains(
        [
            sighting("gmail.com", free=True),
            sighting("mailinator.com", disposable=True),
            sighting("acme.io", origin="website"),
        ],
        crm_domains=[],
    )

    assert list(found) == ["acme.io"]


def test_a_mail_subdomain_becomes_the_registrable_company_domain() -> None:
    found = company_domains(
        [sighting("mail.Shop.Acme.co.uk"), sighting("acme.co.uk", origin="website")], crm_domains=[]
    )

    assert list(found) == ["acme.co.uk"]


def test_domains_the_crm_already_knows_are_skipped_including_aliases_in_any_case() -> None:
    found = company_domains(
        [sighting("acme.com"), sighting("acme-alias.de"), sighting("newco.io")],
        crm_domains=["ACME.com", " acme-alias.de "],
    )

    assert list(found) == ["newco.io"]


def test_the_latest_company_name_is_the_hint_and_the_first_sighting_the_age() -> None:
    early = NOW - timedelta(days=2)
    late = NOW - timedelta(hours=1)
    found = company_domains(
        [
            sighting("newco.io", company="NewCo Inc", first=early, last=early),
            sighting("newco.io", origin="website", company="NewCo", first=late, last=late),
            sighting("www.newco.io", origin="website", company=None, first=late, last=NOW),
        ],
        crm_domains=[],
    )

    assert found["newco.io"] == CandidateDomain("newco.io", "NewCo", early)


def test_rows_without_a_registrable_domain_are_ignored() -> None:
    assert company_domains([sighting("localhost"), sighting("com")], crm_domains=[]) == {}


def test_only_domains_that_need_work_are_selected() -> None:
    stored = {
        "fresh.io": row("fresh.io", DomainStatus.FOUND, expires_at=NOW + timedelta(days=1)),
        "expired.io": row("expired.io", DomainStatus.NOT_FOUND, expires_at=NOW - timedelta(seconds=1)),
        "waiting.io": row(
            "waiting.io",
            DomainStatus.PENDING_RETRY,
            next_attempt_at=NOW + timedelta(minutes=5),
            deadline_at=NOW + timedelta(minutes=20),
        ),
        "due.io": row(
            "due.io",
            DomainStatus.PENDING_RETRY,
            next_attempt_at=NOW - timedelta(minutes=1),
            deadline_at=NOW + timedelta(minutes=20),
        ),
        "gave-up.io": row("gave-up.io", DomainStatus.UNAVAILABLE, expires_at=NOW + timedelta(minutes=30)),
    }

    work = domains_needing_work(candidates(*stored, "new.io"), stored, now=NOW)

    assert [(item.domain, item.reason) for item in work] == [
        ("due.io", WorkReason.RETRY),
        ("new.io", WorkReason.NEW),
        ("expired.io", WorkReason.REFRESH),
    ]


def test_a_pending_domain_whose_deadline_passed_is_worked_even_before_its_next_attempt() -> None:
    stored = {
        "late.io": row(
            "late.io",
            DomainStatus.PENDING_RETRY,
            next_attempt_at=NOW + timedelta(minutes=5),
            deadline_at=NOW - timedelta(seconds=1),
        )
    }

    work = domains_needing_work(candidates("late.io"), stored, now=NOW)

    assert [(item.domain, item.reason) for item in work] == [("late.io", WorkReason.RETRY)]


def test_a_due_retry_is_worked_even_after_its_domain_stopped_being_a_candidate() -> None:
    # Say the CRM learnt the firm meanwhile: left alone the row would stay due and the sensor would
    # keep requesting runs for it.
    stored = {
        "now-in-crm.io": row(
            "now-in-crm.io", DomainStatus.PENDING_RETRY, next_attempt_at=NOW, company_name="Old Name"
        )
    }

    [work] = domains_needing_work({}, stored, now=NOW)

    assert (work.domain, work.reason, work.company_name) == ("now-in-crm.io", WorkReason.RETRY, "Old Name")


def test_retries_go_first_ordered_by_how_long_they_have_been_due() -> None:
    stored = {
        name: row(name, DomainStatus.PENDING_RETRY, next_attempt_at=NOW - timedelta(minutes=minutes))
        for name, minutes in (("b.io", 1), ("a.io", 9), ("c.io", 5))
    }

    work = domains_needing_work({}, stored, now=NOW)

    assert [item.domain for item in work] == ["a.io", "c.io", "b.io"]
