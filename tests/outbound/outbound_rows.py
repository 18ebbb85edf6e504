"""A decision row of marts.sync_crm_leads as the outbound tests use it."""

from datetime import datetime


def routed_row(**overrides):
    row = {
        "lead_id": "lead_0001",
        "email": "ada@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "job_title": "CTO",
        "phone_e164": "+442071234567",
        "country_code": "GB",
        "account_id": None,
        "contact_id": None,
        "disposition": "route",
        "lead_status": "routed",
        "rule_id": "territory_segment",
        "reason": "EMEA smb → emea_smb",
        "team": "emea_smb",
        "owner_id": "own_1",
        "source": "demo_request",
        "task_subject": "First touch: Ada Lovelace (demo_request)",
        "task_due_at": datetime(2026, 11, 25, 12, 30),
        "note_body": "Routed by territory_segment: EMEA smb → emea_smb",
    }
    row.update(overrides)
    return row
