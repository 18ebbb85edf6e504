"""Builders for inbound events used by the pipeline tests."""

from __future__ import annotations


def event(event_id: str, **fields) -> dict:
    """A valid v1 inbound event; keyword arguments override or add fields."""
    base = {
        "event_id": event_id,
        "source": "web_form",
        "received_at": "2026-11-25T09:00:00Z",
        "email": f"{event_id}@gmail.com",
        "first_name": "Test",
        "last_name": event_id.title(),
        "country": "US",
        "employees": "11-50",
        "message": "We would like to see a demo of the product for our team.",
    }
    base.update(fields)
    return base
