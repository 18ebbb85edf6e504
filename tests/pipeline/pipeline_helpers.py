"""Builders for inbound events used by the pipeline tests."""

from __future__ import annotations

import hashlib

# Distinct, realistic names per event id: generated look-alikes ("Test Evt-Rr-1", "Test Evt-Rr-2") are, to
# the identity model, rightly the same person with a typo.
_FIRST = [
    "Ana",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Freya",
    "Goran",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lucia",
]
_LAST = [
    "Abara",
    "Bergstrom",
    "Castillo",
    "Duchamp",
    "Eriksen",
    "Fujimoto",
    "Gallagher",
    "Horvath",
    "Ivanova",
    "Jaramillo",
    "Kowalski",
    "Lindgren",
    "Mbeki",
    "Novak",
    "Okonkwo",
    "Petrov",
    "Quintero",
    "Rasmussen",
]


def person_name(event_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(event_id.encode()).digest()
    return _FIRST[digest[0] % len(_FIRST)], f"{_LAST[digest[1] % len(_LAST)]}-{digest[2]:02x}{digest[3]:02x}"


def event(event_id: str, **fields) -> dict:
    """A valid v1 inbound event; keyword arguments override or add fields."""
    first_name, last_name = person_name(event_id)
    base = {
        "event_id": event_id,
        "source": "web_form",
        "received_at": "2026-11-25T09:00:00Z",
        "email": f"{event_id}@gmail.com",
        "first_name": first_name,
        "last_name": last_name,
        "country": "US",
        "employees": "11-50",
        "message": "We would like to see a demo of the product for our team.",
    }
    base.update(fields)
    return base
