"""Small builders shared by the CRM tests (a plain module: conftest files are not importable by name)."""

from __future__ import annotations

from integrations.crm.models import AdminRecord, CrmRecord, Owner
from integrations.crm.port import CrmPermanentError, CrmPort


def load(crm: CrmPort, *records: AdminRecord) -> list[CrmRecord]:
    """Import records that must be accepted; a refusal fails the test with the CRM's reason."""
    outcomes = crm.import_records(records)
    refused = [outcome for outcome in outcomes if isinstance(outcome, CrmPermanentError)]
    assert not refused, refused
    return [outcome for outcome in outcomes if isinstance(outcome, CrmRecord)]


def owner(owner_id: str, *, active: bool = True) -> Owner:
    return Owner(
        owner_id=owner_id,
        name=f"Rep {owner_id}",
        email=f"{owner_id.lower()}@vendor.io",
        team="emea_smb",
        region="EMEA",
        active=active,
        capacity=10 if active else 0,
    )
