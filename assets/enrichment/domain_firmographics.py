"""`enrichment.domain_firmographics`: what the providers said about each company domain of inbound leads.

One row per registrable domain, upserted by the enrichment asset. `status` is the contract the routing
rules read:

- `found`: a provider answered at or above the confidence threshold. The only status whose firmographic
  columns the rules may use for the segment.
- `low_confidence`: the best answer is below the threshold; its values are kept for humans.
- `not_found`: every provider answered "unknown"; firmographic columns NULL.
- `pending_retry`: a provider failed transiently (timeout, 429, 5xx) before the deadline. The lead
  waits; the domain is asked again at `next_attempt_at` (exponential backoff).
- `unavailable`: still failing at `deadline_at`, or a provider failed permanently (4xx, a payload off
  contract, a broken setup): given up, the rules proceed or escalate ("segment unknown").

`pending_retry` and `unavailable` rows keep the best below-threshold answer of the episode, if any, for
humans, like `low_confidence` ones; `provider` names whose answer a row holds, `error` every failure text.

Timestamps are naive UTC (as everywhere in the warehouse). `attempts` counts the lookup runs of the current
episode: a first lookup, or a fresh one after `expires_at`, starts an episode (attempts 1, `deadline_at` =
its start + the deadline); retries of a `pending_retry` row continue it. `first_requested_at` is the first
time the domain was ever requested and is never overwritten. `expires_at` is when a settled row is looked
up again (`found`/`low_confidence`: the positive cache TTL; `not_found`: the negative one; `unavailable`:
the unavailable TTL); NULL while `pending_retry`.

Which domains: company domains of accepted events (`email_domain` unless free or disposable mail, and
`website_domain`) reduced to the registrable domain, minus the domains of CRM accounts (the CRM already
knows those firms).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import duckdb
import pyarrow as pa

from assets.enrichment.resource import EnrichmentResource
from common.domains import registrable_domain
from integrations.enrichment.port import Clock, utc_now
from integrations.enrichment.waterfall import (
    EnrichmentRequest,
    EnrichmentResult,
    EnrichmentStatus,
    ProviderAttempt,
    RetryPolicy,
)

logger = logging.getLogger(__name__)

TABLE = "enrichment.domain_firmographics"
# Names the failure of a lookup that raised instead of answering, where no provider can be blamed.
LOOKUP_FAILURE_SOURCE = "enrichment"


class DomainStatus(StrEnum):
    FOUND = "found"
    LOW_CONFIDENCE = "low_confidence"
    NOT_FOUND = "not_found"
    PENDING_RETRY = "pending_retry"
    UNAVAILABLE = "unavailable"


_STATUS_LIST = ", ".join(f"'{status.value}'" for status in DomainStatus)

ENRICHMENT_DDL = f"""
create schema if not exists enrichment;
create table if not exists {TABLE} (
    domain varchar primary key,
    status varchar not null check (status in ({_STATUS_LIST})),
    provider varchar,
    company_name varchar,
    country_code varchar,
    employees integer,
    industry varchar,
    confidence double,
    attempts integer not null,
    first_requested_at timestamp not null,
    last_attempt_at timestamp,
    next_attempt_at timestamp,
    deadline_at timestamp not null,
    expires_at timestamp,
    error varchar
);
"""

_ARROW_SCHEMA = pa.schema(
    [
        ("domain", pa.string()),
        ("status", pa.string()),
        ("provider", pa.string()),
        ("company_name", pa.string()),
        ("country_code", pa.string()),
        ("employees", pa.int32()),
        ("industry", pa.string()),
        ("confidence", pa.float64()),
        ("attempts", pa.int32()),
        ("first_requested_at", pa.timestamp("us")),
        ("last_attempt_at", pa.timestamp("us")),
        ("next_attempt_at", pa.timestamp("us")),
        ("deadline_at", pa.timestamp("us")),
        ("expires_at", pa.timestamp("us")),
        ("error", pa.string()),
    ]
)
COLUMNS = tuple(_ARROW_SCHEMA.names)
_TIMESTAMP_COLUMNS = ("first_requested_at", "last_attempt_at", "next_attempt_at", "deadline_at", "expires_at")


@dataclass(frozen=True)
class DomainRow:
    """One row of the table; datetimes are aware UTC in Python, naive UTC in DuckDB."""

    domain: str
    status: DomainStatus
    attempts: int
    first_requested_at: datetime
    deadline_at: datetime
    provider: str | None = None
    company_name: str | None = None
    country_code: str | None = None
    employees: int | None = None
    industry: str | None = None
    confidence: float | None = None
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    expires_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class TablePolicy:
    """How long rows stay settled and how long a failing domain is retried."""

    deadline: timedelta
    found_ttl: timedelta
    not_found_ttl: timedelta
    unavailable_ttl: timedelta

    @classmethod
    def of(cls, resource: EnrichmentResource) -> TablePolicy:
        # The waterfall's cache TTLs: asking again sooner would only hit the cache.
        return cls(
            deadline=timedelta(hours=resource.retry_deadline_hours),
            found_ttl=timedelta(hours=resource.positive_ttl_hours),
            not_found_ttl=timedelta(hours=resource.negative_ttl_hours),
            unavailable_ttl=timedelta(hours=resource.unavailable_ttl_hours),
        )


# ---- which domains -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainSighting:
    """Accepted events grouped by one raw domain value and where it came from (email or website)."""

    origin: str  # "email" | "website"
    domain: str
    is_free_email: bool
    is_disposable_email: bool
    company_name: str | None
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class CandidateDomain:
    domain: str
    company_name: str | None
    first_seen_at: datetime


class WorkReason(StrEnum):
    NEW = "new"  # never requested
    RETRY = "retry"  # pending_retry and due (next attempt or deadline reached)
    REFRESH = "refresh"  # settled row past expires_at


@dataclass(frozen=True)
class DomainWork:
    domain: str
    company_name: str | None
    reason: WorkReason
    prior: DomainRow | None

    def request(self, policy: TablePolicy) -> EnrichmentRequest:
        """A retry carries its episode start and run count, so backoff and deadline continue."""
        if self.reason is WorkReason.RETRY and self.prior is not None:
            return EnrichmentRequest(
                domain=self.domain,
                company_name=self.company_name,
                # Derived from the stored deadline, so a changed deadline setting never moves a lead's.
                first_attempted_at=self.prior.deadline_at - policy.deadline,
                prior_runs=self.prior.attempts,
            )
        return EnrichmentRequest(domain=self.domain, company_name=self.company_name)


def company_domains(
    sightings: Iterable[DomainSighting], crm_domains: Iterable[str]
) -> dict[str, CandidateDomain]:
    """Registrable company domains of the events, without free/disposable mail and CRM-known firms."""
    known_to_crm = {domain for domain in (registrable_domain(value) for value in crm_domains) if domain}
    merged: dict[str, tuple[CandidateDomain, datetime]] = {}
    for sighting in sightings:
        if sighting.origin == "email" and (sighting.is_free_email or sighting.is_disposable_email):
            continue
        domain = registrable_domain(sighting.domain)
        if domain is None or domain in known_to_crm:
            continue
        previous = merged.get(domain)
        if previous is None:
            merged[domain] = (
                CandidateDomain(domain, sighting.company_name, sighting.first_seen_at),
                sighting.last_seen_at,
            )
            continue
        candidate, last_named_at = previous
        # The company name is only a hint for providers; the most recent one a lead typed wins.
        newer_name = sighting.company_name is not None and (
            candidate.company_name is None or sighting.last_seen_at > last_named_at
        )
        merged[domain] = (
            CandidateDomain(
                domain,
                sighting.company_name if newer_name else candidate.company_name,
                min(candidate.first_seen_at, sighting.first_seen_at),
            ),
            sighting.last_seen_at if newer_name else last_named_at,
        )
    return {domain: candidate for domain, (candidate, _) in merged.items()}


def is_due_for_retry(row: DomainRow, now: datetime) -> bool:
    if row.status is not DomainStatus.PENDING_RETRY:
        return False
    return row.deadline_at <= now or row.next_attempt_at is None or row.next_attempt_at <= now


def domains_needing_work(
    candidates: Mapping[str, CandidateDomain], stored: Mapping[str, DomainRow], *, now: datetime
) -> list[DomainWork]:
    """Due retries first (their leads have waited longest), then new domains, then expired rows.

    A due retry is worked even when its domain is no longer a candidate (say the CRM learnt the firm
    meanwhile): it would otherwise stay due forever and keep the retry sensor requesting runs.
    """
    retries: list[tuple[datetime, DomainWork]] = []
    new: list[tuple[datetime, DomainWork]] = []
    refreshes: list[tuple[datetime, DomainWork]] = []
    for row in stored.values():
        if is_due_for_retry(row, now):
            candidate = candidates.get(row.domain)
            name = candidate.company_name if candidate and candidate.company_name else row.company_name
            due_at = min(row.next_attempt_at or row.deadline_at, row.deadline_at)
            retries.append((due_at, DomainWork(row.domain, name, WorkReason.RETRY, row)))
    for domain, candidate in candidates.items():
        row = stored.get(domain)
        if row is None:
            new.append(
                (candidate.first_seen_at, DomainWork(domain, candidate.company_name, WorkReason.NEW, None))
            )
        elif (
            row.status is not DomainStatus.PENDING_RETRY
            and row.expires_at is not None
            and row.expires_at <= now
        ):
            refreshes.append(
                (row.expires_at, DomainWork(domain, candidate.company_name, WorkReason.REFRESH, row))
            )
    return [
        work for group in (retries, new, refreshes) for _, work in sorted(group, key=_by_time_then_domain)
    ]


def _by_time_then_domain(item: tuple[datetime, DomainWork]) -> tuple[datetime, str]:
    return item[0], item[1].domain


# ---- status transitions --------------------------------------------------------------------------------


def row_after_lookup(
    work: DomainWork, result: EnrichmentResult, *, now: datetime, policy: TablePolicy
) -> DomainRow:
    """The row a waterfall result leads to; see the module docstring for the status rules."""
    status, expires_at = _settle(result, now=now, policy=policy)
    answer = result.firmographics
    return DomainRow(
        domain=work.domain,
        status=status,
        provider=answer.provider if answer else None,
        company_name=answer.name if answer else None,
        country_code=answer.country if answer else None,
        employees=answer.employees if answer else None,
        industry=answer.industry if answer else None,
        confidence=answer.confidence if answer else None,
        attempts=result.run_number,
        first_requested_at=work.prior.first_requested_at if work.prior else now,
        last_attempt_at=now,
        next_attempt_at=result.next_retry_at if status is DomainStatus.PENDING_RETRY else None,
        deadline_at=result.first_attempted_at + policy.deadline,
        expires_at=expires_at,
        error=_error_text(result.attempts),
    )


def _settle(
    result: EnrichmentResult, *, now: datetime, policy: TablePolicy
) -> tuple[DomainStatus, datetime | None]:
    match result.status:
        case EnrichmentStatus.ENRICHED:
            return DomainStatus.FOUND, now + policy.found_ttl
        case EnrichmentStatus.LOW_CONFIDENCE:
            return DomainStatus.LOW_CONFIDENCE, now + policy.found_ttl
        case EnrichmentStatus.RETRY_LATER:
            return DomainStatus.PENDING_RETRY, None
        case EnrichmentStatus.DEADLINE_PASSED:
            return DomainStatus.UNAVAILABLE, now + policy.unavailable_ttl
        case EnrichmentStatus.NOT_FOUND:
            # The waterfall calls it not found when nobody failed transiently; a provider that failed
            # permanently did not say "unknown", so the domain is not known to be unknown.
            if any(attempt.outcome == "permanent_error" for attempt in result.attempts):
                return DomainStatus.UNAVAILABLE, now + policy.unavailable_ttl
            return DomainStatus.NOT_FOUND, now + policy.not_found_ttl
    raise ValueError(f"unhandled enrichment status {result.status!r}")


def result_of_failure(
    work: DomainWork, error: Exception, *, now: datetime, policy: TablePolicy, retry_policy: RetryPolicy
) -> EnrichmentResult:
    """A lookup that raised instead of answering (a broken provider setup, an adapter bug) as a transient
    failure of that one domain: parked and retried up to the deadline like a timeout, never failing the run.
    """
    request = work.request(policy)
    first_attempted_at = request.first_attempted_at or now
    run_number = request.prior_runs + 1
    next_retry_at = retry_policy.next_retry_at(
        now=now, run_number=run_number, first_attempted_at=first_attempted_at, retry_after_seconds=0.0
    )
    return EnrichmentResult(
        domain=work.domain,
        company_name=work.company_name,
        status=EnrichmentStatus.RETRY_LATER if next_retry_at else EnrichmentStatus.DEADLINE_PASSED,
        firmographics=None,
        attempts=[
            ProviderAttempt(
                provider=LOOKUP_FAILURE_SOURCE,
                outcome="transient_error",
                error=f"{type(error).__name__}: {error}",
            )
        ],
        first_attempted_at=first_attempted_at,
        run_number=run_number,
        next_retry_at=next_retry_at,
    )


def deferred_row(work: DomainWork, *, now: datetime, policy: TablePolicy, reason: str) -> DomainRow | None:
    """A new domain the run had no time left for waits visibly, due at once; a known one stays as it is."""
    if work.prior is not None:
        return None
    return DomainRow(
        domain=work.domain,
        status=DomainStatus.PENDING_RETRY,
        attempts=0,
        first_requested_at=now,
        next_attempt_at=now,
        deadline_at=now + policy.deadline,
        error=reason,
    )


def _error_text(attempts: Sequence[ProviderAttempt]) -> str | None:
    errors = []
    for attempt in attempts:
        if attempt.error is None:
            continue
        # Adapters usually name themselves in the message already ("http_vendor: HTTP 503 ...").
        prefix = "" if attempt.error.startswith(f"{attempt.provider}:") else f"{attempt.provider}: "
        errors.append(prefix + attempt.error)
    return "; ".join(errors) or None


# ---- one batch -----------------------------------------------------------------------------------------


@dataclass
class EnrichmentBatch:
    rows: list[DomainRow] = field(default_factory=list)
    provider_calls: int = 0
    cache_hits: int = 0
    looked_up: int = 0
    deferred: int = 0
    failures: list[str] = field(default_factory=list)


def enrich_domains(
    work: Sequence[DomainWork],
    lookup: Callable[[EnrichmentRequest], EnrichmentResult],
    *,
    policy: TablePolicy,
    retry_policy: RetryPolicy,
    budget: timedelta,
    clock: Clock = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> EnrichmentBatch:
    """Look the domains up in order until the time budget is spent; never raises for a single domain.

    The budget keeps a vendor outage from holding the run: with a 5 s timeout, 200 unknown domains would
    otherwise cost 1,000 s before any lead is routed. What is left waits for the next run.
    """
    batch = EnrichmentBatch()
    started = monotonic()
    for item in work:
        now = clock()
        if monotonic() - started >= budget.total_seconds():
            batch.deferred += 1
            row = deferred_row(
                item,
                now=now,
                policy=policy,
                reason=f"deferred: the run's lookup budget of {budget.total_seconds():g} s was spent",
            )
            if row is not None:
                batch.rows.append(row)
            continue
        try:
            result = lookup(item.request(policy))
        except Exception as error:  # a provider failure never fails the batch (see result_of_failure)
            logger.exception("enrichment of %s raised", item.domain)
            batch.failures.append(f"{item.domain}: {type(error).__name__}: {error}")
            result = result_of_failure(item, error, now=now, policy=policy, retry_policy=retry_policy)
        batch.looked_up += 1
        batch.cache_hits += sum(attempt.from_cache for attempt in result.attempts)
        batch.provider_calls += sum(
            not attempt.from_cache for attempt in result.attempts if attempt.provider != LOOKUP_FAILURE_SOURCE
        )
        batch.rows.append(row_after_lookup(item, result, now=now, policy=policy))
    return batch


# ---- warehouse I/O -------------------------------------------------------------------------------------

_SIGHTINGS_SQL = """
select 'email' as origin, email_domain as domain,
    coalesce(is_free_email, false) as is_free_email,
    coalesce(is_disposable_email, false) as is_disposable_email,
    max_by(company, received_at) filter (where company is not null) as company_name,
    min(received_at) as first_seen_at,
    max(received_at) as last_seen_at
from raw.inbound_events
where email_domain is not null
group by all
union all
select 'website', website_domain, false, false,
    max_by(company, received_at) filter (where company is not null),
    min(received_at), max(received_at)
from raw.inbound_events
where website_domain is not null
group by all
"""


def read_sightings(con: duckdb.DuckDBPyConnection) -> list[DomainSighting]:
    # Grouped in SQL so a run reads one row per distinct domain, not one per event.
    return [
        DomainSighting(
            origin=origin,
            domain=domain,
            is_free_email=bool(free),
            is_disposable_email=bool(disposable),
            company_name=company,
            first_seen_at=_aware(first_seen),
            last_seen_at=_aware(last_seen),
        )
        for origin, domain, free, disposable, company, first_seen, last_seen in con.execute(
            _SIGHTINGS_SQL
        ).fetchall()
    ]


def read_crm_domains(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        domain
        for (domain,) in con.execute("select distinct domain from crm.account_domains").fetchall()
        if domain
    ]


def read_rows(con: duckdb.DuckDBPyConnection) -> dict[str, DomainRow]:
    cursor = con.execute(f"select {', '.join(COLUMNS)} from {TABLE}")
    rows: dict[str, DomainRow] = {}
    for values in cursor.fetchall():
        record: dict[str, Any] = dict(zip(COLUMNS, values, strict=True))
        for column in _TIMESTAMP_COLUMNS:
            record[column] = _aware(record[column])
        record["status"] = DomainStatus(record["status"])
        rows[record["domain"]] = DomainRow(**record)
    return rows


def upsert_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[DomainRow]) -> None:
    """Insert or replace by domain; `first_requested_at` of an existing row is never overwritten."""
    if not rows:
        return
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for row in rows:
        for name in COLUMNS:
            value = getattr(row, name)
            if name in _TIMESTAMP_COLUMNS:
                value = _naive_utc(value)
            elif name == "status":
                value = value.value
            columns[name].append(value)
    batch = pa.table(columns, schema=_ARROW_SCHEMA)
    updated = [name for name in COLUMNS if name not in ("domain", "first_requested_at")]
    assignments = ", ".join(f"{name} = excluded.{name}" for name in updated)
    con.register("enrichment_batch", batch)
    try:
        con.execute(
            f"insert into {TABLE} by name select * from enrichment_batch"
            f" on conflict (domain) do update set {assignments}"
        )
    finally:
        con.unregister("enrichment_batch")


def status_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = dict(con.execute(f"select status, count(*) from {TABLE} group by status").fetchall())
    return {status.value: int(counts.get(status.value, 0)) for status in DomainStatus}


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _naive_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None
