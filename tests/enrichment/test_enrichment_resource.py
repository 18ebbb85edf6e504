from __future__ import annotations

from pathlib import Path

import pytest
from dagster import asset, materialize

from assets.enrichment.fake import FakeCompany, FakeEnrichmentResource
from assets.enrichment.resource import EnrichmentResource
from integrations.enrichment.waterfall import EnrichmentResult, EnrichmentStatus
from tests.integrations.enrichment.enrichment_vendor_server import Reply, company

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "firmographics.csv"


def test_the_default_resource_enriches_from_the_reference_file_in_input_order() -> None:
    resource = EnrichmentResource(reference_file_path=str(DEMO_FILE), confidence_threshold=0.7)

    results = resource.enrich(
        [
            ("www.lumenpay.de", "LumenPay"),
            ("ghost-company.com", None),
            ("fjordfinans.no", "Fjord"),
            (None, "X"),
        ]
    )

    assert [result.status for result in results] == ["enriched", "not_found", "low_confidence", "not_found"]
    assert results[0].usable_firmographics is not None
    assert (results[0].usable_firmographics.country, results[0].usable_firmographics.employees) == (
        "DE",
        2400,
    )
    assert results[2].usable_firmographics is None


def test_reference_file_first_then_the_vendor_with_a_cache(tmp_path: Path, vendor, vendor_token) -> None:
    vendor.reply("newco.io", Reply(body={"companies": [company("newco.io", employees=77, confidence=0.85)]}))
    resource = EnrichmentResource(
        provider_order=["reference_file", "http_vendor"],
        reference_file_path=str(DEMO_FILE),
        http_base_url=vendor.base_url,
        http_token=vendor_token,
        cache_path=str(tmp_path / "enrichment.sqlite"),
    )

    first = resource.enrich([("lumenpay.de", None), ("newco.io", None)])
    again = resource.enrich([("newco.io", None)])

    assert [(r.status, r.firmographics and r.firmographics.provider) for r in first] == [
        ("enriched", "reference_file"),
        ("enriched", "http_vendor"),
    ]
    assert [r.domain for r in vendor.requests] == ["newco.io"]
    assert again[0].attempts[-1].from_cache is True


def test_unknown_provider_names_and_missing_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="clearbit"):
        EnrichmentResource(provider_order=["clearbit"]).enrich([("acme.com", None)])
    with pytest.raises(ValueError, match="reference_file_path"):
        EnrichmentResource().enrich([("acme.com", None)])
    with pytest.raises(ValueError, match="http_base_url"):
        EnrichmentResource(provider_order=["http_vendor"]).enrich([("acme.com", None)])


def test_a_parked_lead_is_retried_through_the_resource_with_its_history() -> None:
    during_outage = FakeEnrichmentResource(unavailable_domains=["acme.com"])
    recovered = FakeEnrichmentResource(companies=[FakeCompany(domain="acme.com", name="Acme")])

    [parked] = during_outage.enrich([("acme.com", "Acme")])
    [retried] = recovered.enrich([parked.retry_request()])

    assert parked.status is EnrichmentStatus.RETRY_LATER
    assert parked.attempts[0].error == "fake: HTTP 503 looking up acme.com"
    assert retried.status is EnrichmentStatus.ENRICHED
    assert (retried.run_number, retried.first_attempted_at) == (2, parked.first_attempted_at)


def test_the_resource_works_inside_a_dagster_run() -> None:
    seen: list[EnrichmentResult] = []

    @asset
    def enriched_leads(enrichment: EnrichmentResource) -> None:
        seen.extend(enrichment.enrich([("acme.com", "Acme"), ("weak.com", None)]))

    fake = FakeEnrichmentResource(
        companies=[
            FakeCompany(domain="acme.com", name="Acme", confidence=0.95),
            FakeCompany(domain="weak.com", name="Weak", confidence=0.2),
        ]
    )
    outcome = materialize([enriched_leads], resources={"enrichment": fake})

    assert outcome.success
    assert [result.status for result in seen] == ["enriched", "low_confidence"]
