"""One registrable domain and one e-mail key everywhere: ingest, the CRM snapshot and enrichment agree."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from assets.crm.assets import account_domains_frame
from assets.ingest.contract import InboundEvent
from assets.ingest.normalize import normalize_event
from common.domains import email_key, registrable_domain
from integrations.enrichment.reference_file import ReferenceFileProvider


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.co.uk/pricing", "acme.co.uk"),
        ("jane@de.acme.com", "acme.com"),
        # Private suffixes: one shop or one Pages site is one company, never the platform.
        ("acme.myshopify.com", "acme.myshopify.com"),
        ("https://bolt.myshopify.com/cart", "bolt.myshopify.com"),
        ("octo.github.io", "octo.github.io"),
        ("localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_registrable_domain_keeps_private_suffixes_apart(raw: str | None, expected: str | None) -> None:
    assert registrable_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe+news@Acme.com", "jane.doe@acme.com"),
        ("j.o.e@googlemail.com", "joe@gmail.com"),
        ("+only@acme.com", "+only@acme.com"),
        ("no-at-sign", None),
        (None, None),
    ],
)
def test_email_key_folds_one_persons_variants(raw: str | None, expected: str | None) -> None:
    assert email_key(raw) == expected


def test_ingest_the_crm_snapshot_and_enrichment_give_the_same_domain(tmp_path: Path) -> None:
    website = "https://shop.acme.myshopify.com/x"
    event = InboundEvent.model_validate(
        {
            "event_id": "e1",
            "source": "web_form",
            "received_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            "email": "ana@acme.myshopify.com",
            "website": website,
        }
    )
    at_ingest = normalize_event(event)["website_domain"]
    accounts = pd.DataFrame([{"account_id": "acc_1", "domain": website, "alias_domains": ""}])
    in_crm = account_domains_frame(accounts)["domain"].tolist()
    reference = tmp_path / "firmographics.csv"
    reference.write_text(
        "domain,name,country,employees,industry,confidence\nacme.myshopify.com,Acme,DE,40,retail,0.9\n"
    )
    found = ReferenceFileProvider(reference).lookup(website)

    assert at_ingest == "acme.myshopify.com"
    assert in_crm == [at_ingest]
    assert found is not None and found.domain == at_ingest
