"""The enrichment asset on a temporary DuckDB file: which domains, which rows, and the retry path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import materialize
from dagster_duckdb import DuckDBResource
from enrichment_test_warehouse import create_warehouse, event, make_due, rows

from assets.enrichment.assets import DOMAIN_FIRMOGRAPHICS_KEY, domain_firmographics
from assets.enrichment.domain_firmographics import TABLE
from assets.enrichment.fake import FakeCompany, FakeEnrichmentResource
from assets.enrichment.resource import EnrichmentResource
from tests.integrations.enrichment.enrichment_vendor_server import (
    TOKEN,
    Reply,
    VendorServer,
    company,
)

EVENTS = [
    event("e1", email_domain="lumen.de", company="Lumen"),
    event("e2", email_domain="gmail.com", free=True, website_domain="weakco.io"),
    event("e3", email_domain="mailinator.com", disposable=True),
    event("e4", email_domain="crm-customer.com"),
    event("e5", email_domain="mail.ghost.io"),
    event("e6", website_domain="down.io"),
]
COMPANIES = [
    FakeCompany(domain="lumen.de", name="Lumen GmbH", employees=2400, confidence=0.95),
    FakeCompany(domain="weakco.io", name="WeakCo", employees=80, confidence=0.3),
    FakeCompany(domain="crm-customer.com", name="Customer", confidence=0.99),
]


def run(path: Path, enrichment: EnrichmentResource):
    outcome = materialize(
        [domain_firmographics],
        resources={"warehouse": DuckDBResource(database=str(path)), "enrichment": enrichment},
    )
    assert outcome.success
    [materialization] = outcome.asset_materializations_for_node(domain_firmographics.op.name)
    assert materialization.asset_key == DOMAIN_FIRMOGRAPHICS_KEY
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, EVENTS, crm_domains=(("acc_1", "CRM-Customer.com"),))
    return path


def test_company_domains_of_new_leads_get_one_row_each_with_their_status(warehouse: Path) -> None:
    fake = FakeEnrichmentResource(companies=COMPANIES, unavailable_domains=["down.io"])

    metadata = run(warehouse, fake)

    found = rows(warehouse)
    assert {domain: row.status for domain, row in found.items()} == {
        "lumen.de": "found",
        "weakco.io": "low_confidence",
        "ghost.io": "not_found",
        "down.io": "pending_retry",
    }
    assert (found["lumen.de"].employees, found["lumen.de"].company_name) == (2400, "Lumen GmbH")
    assert found["down.io"].error == "fake: HTTP 503 looking up down.io"
    assert found["down.io"].next_attempt_at is not None
    assert metadata["provider_calls"] == 4
    assert (metadata["run_found"], metadata["run_pending_retry"], metadata["total_not_found"]) == (1, 1, 1)


def test_a_second_run_asks_nothing_until_a_parked_domain_is_due_then_settles_it(warehouse: Path) -> None:
    run(warehouse, FakeEnrichmentResource(companies=COMPANIES, unavailable_domains=["down.io"]))
    before = rows(warehouse)
    recovered = FakeEnrichmentResource(companies=[*COMPANIES, FakeCompany(domain="down.io", name="Down")])

    idle = run(warehouse, recovered)
    make_due(warehouse, "down.io")
    retried = run(warehouse, recovered)

    after = rows(warehouse)
    assert (idle["domains_needing_work"], idle["provider_calls"]) == (0, 0)
    assert (retried["domains_needing_work"], retried["run_found"]) == (1, 1)
    assert (after["down.io"].status, after["down.io"].attempts, after["down.io"].error) == ("found", 2, None)
    assert after["down.io"].first_requested_at == before["down.io"].first_requested_at
    assert after["down.io"].deadline_at == before["down.io"].deadline_at
    assert after["lumen.de"] == before["lumen.de"]


def test_a_parked_domain_past_its_deadline_becomes_unavailable(warehouse: Path) -> None:
    still_down = FakeEnrichmentResource(companies=COMPANIES, unavailable_domains=["down.io"])
    run(warehouse, still_down)
    past = _utc_naive_now() - timedelta(seconds=1)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update {TABLE} set deadline_at = ? where domain = 'down.io'", [past])

    metadata = run(warehouse, still_down)

    down = rows(warehouse)["down.io"]
    assert (down.status, down.next_attempt_at, down.attempts) == ("unavailable", None, 2)
    assert down.expires_at is not None
    assert metadata["run_unavailable"] == 1


def test_cached_answers_are_counted_as_cache_hits_not_provider_calls(warehouse: Path, tmp_path: Path) -> None:
    cached = FakeEnrichmentResource(companies=COMPANIES, cache_path=str(tmp_path / "cache.sqlite"))
    first = run(warehouse, cached)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update {TABLE} set expires_at = ?", [_utc_naive_now() - timedelta(minutes=1)])

    refresh = run(warehouse, cached)

    assert (first["provider_calls"], first["cache_hits"]) == (4, 0)
    assert (refresh["domains_needing_work"], refresh["provider_calls"], refresh["cache_hits"]) == (4, 0, 4)


def test_an_empty_warehouse_still_gets_the_table_dbt_reads(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    create_warehouse(path, [])

    metadata = run(path, FakeEnrichmentResource())

    assert rows(path) == {}
    assert metadata["domains_needing_work"] == 0


def test_a_broken_provider_setup_parks_leads_instead_of_failing_the_run(
    warehouse: Path, tmp_path: Path
) -> None:
    missing_file = EnrichmentResource(reference_file_path=str(tmp_path / "no-such-firmographics.csv"))

    metadata = run(warehouse, missing_file)

    parked = rows(warehouse)
    assert {row.status for row in parked.values()} == {"pending_retry"}
    assert "no-such-firmographics.csv" in (parked["lumen.de"].error or "")
    assert metadata["lookups_raised"] == len(parked) == 4


def test_a_vendor_5xx_and_a_timeout_wait_as_pending_retry_and_succeed_on_a_later_run(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with VendorServer() as vendor:
        vendor.reply(
            "lumen.de",
            Reply(status=503, body={"error": "maintenance"}),
            Reply(body={"companies": [company("lumen.de", employees=2400, confidence=0.95)]}),
        )
        vendor.reply(
            "down.io",
            Reply(body={"companies": [company("down.io", employees=12)]}, delay_seconds=1.0),
            Reply(body={"companies": [company("down.io", employees=12)]}),
        )
        http = EnrichmentResource(
            provider_order=["http_vendor"],
            http_base_url=vendor.base_url,
            http_token=TOKEN,
            http_timeout_seconds=0.3,
            http_max_requests_per_second=100.0,
        )

        run(warehouse, http)
        parked = rows(warehouse)
        make_due(warehouse, "lumen.de")
        make_due(warehouse, "down.io")
        run(warehouse, http)
        settled = rows(warehouse)

    assert (parked["lumen.de"].status, parked["down.io"].status) == ("pending_retry", "pending_retry")
    assert "HTTP 503" in (parked["lumen.de"].error or "")
    assert "no answer within 0.3 s" in (parked["down.io"].error or "")
    assert (settled["lumen.de"].status, settled["lumen.de"].provider, settled["lumen.de"].employees) == (
        "found",
        "http_vendor",
        2400,
    )
    assert (settled["down.io"].status, settled["down.io"].attempts) == ("found", 2)
    # Domains the vendor does not know were asked once and settled as not_found.
    assert settled["ghost.io"].status == "not_found"
    assert len(vendor.requests_for("ghost.io")) == 1


def _utc_naive_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
