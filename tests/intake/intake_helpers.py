"""Events and signed requests shared by the intake tests."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from dagster_project.intake.app import IntakeConfig, create_app
from dagster_project.intake.signing import signed_headers

SECRET = "test-secret-0123456789abcdef"


def event(event_id: str, **fields: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "source": "demo_request",
        "received_at": "2026-11-25T09:30:00Z",
        "email": f"{event_id}@acme-example.com",
        "first_name": "Dana",
        "last_name": event_id.capitalize(),
        "company": "Acme",
        **fields,
    }


def three_good_one_bad() -> list[dict[str, object]]:
    return [event("evt-1"), event("evt-2"), event("evt-bad", source="fax"), event("evt-3")]


def client_for(landing: Path, **config: object) -> TestClient:
    return TestClient(create_app(IntakeConfig(secret=SECRET, landing_dir=landing, **config)))  # type: ignore[arg-type]


def post_signed(client: TestClient, payload: object, *, now: float | None = None, **headers: str):
    body = json.dumps(payload).encode()
    return client.post("/v1/events", content=body, headers=signed_headers(SECRET, body, now) | headers)
