"""`POST /v1/events` over HTTP: what is accepted, landed and refused, and with which status and reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dagster_project.intake.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from integrations.landing.zone import list_landed_files
from tests.intake.intake_helpers import SECRET, client_for, event, post_signed, three_good_one_bad


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


def landed_lines(landing: Path) -> list[str]:
    [path] = list_landed_files(landing)
    return path.read_text(encoding="utf-8").splitlines()


def test_signed_batch_accepts_three_rejects_one_and_lands_all_four(landing: Path) -> None:
    batch = three_good_one_bad()

    answer = post_signed(client_for(landing), batch)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == ["evt-1", "evt-2", "evt-3"]
    [rejection] = body["rejected"]
    assert (rejection["index"], rejection["event_id"]) == (2, "evt-bad")
    assert rejection["reason"].startswith("contract_violation: source: 'fax' is not one of")
    lines = landed_lines(landing)
    assert body["landed_file"] == list_landed_files(landing)[0].name
    assert [json.loads(line) for line in lines] == batch  # line = index + 1, rejected item included
    assert not list(landing.glob("*.tmp"))


def test_one_event_as_an_object_is_one_landed_line(landing: Path) -> None:
    answer = post_signed(client_for(landing), event("evt-solo"))

    assert answer.status_code == 202
    assert answer.json()["accepted"] == ["evt-solo"]
    assert [json.loads(line) for line in landed_lines(landing)] == [event("evt-solo")]


def test_pretty_printed_batch_lands_one_line_per_item_with_the_producers_own_text(landing: Path) -> None:
    body = (
        b'[\n  {"event_id": "evt-1", "source": "chat",\n   "received_at": "2026-11-25T09:30:00Z",'
        b' "employees": 1.50e2},\r\n  {"event_id": "evt-2", "event_id": "evt-2b"}\n]\n'
    )

    answer = client_for(landing).post("/v1/events", content=body, headers=signed_headers(SECRET, body))

    assert answer.status_code == 202
    assert answer.json()["accepted"] == ["evt-1"]
    # The duplicate key would be lost by a JSON round trip; landing the raw text keeps it for quarantine.
    assert answer.json()["rejected"][0]["reason"] == "invalid_json: duplicate key 'event_id'"
    assert landed_lines(landing) == [
        '{"event_id": "evt-1", "source": "chat",    "received_at": "2026-11-25T09:30:00Z",'
        ' "employees": 1.50e2}',
        '{"event_id": "evt-2", "event_id": "evt-2b"}',
    ]


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, f"missing {TIMESTAMP_HEADER}"),
        ({TIMESTAMP_HEADER: "now"}, "must be unix seconds"),
        ({TIMESTAMP_HEADER: "{now}"}, f"missing {SIGNATURE_HEADER}"),
        ({TIMESTAMP_HEADER: "{now}", SIGNATURE_HEADER: "sha256=abc"}, "must look like v1=<64 hex digits>"),
    ],
    ids=["unsigned", "timestamp-not-a-number", "no-signature", "malformed-signature"],
)
def test_unsigned_or_malformed_signature_is_401(landing: Path, headers: dict[str, str], error: str) -> None:
    now = str(int(time.time()))
    headers = {name: value.format(now=now) for name, value in headers.items()}

    answer = client_for(landing).post(
        "/v1/events", json=event("evt-1"), headers={"Content-Type": "application/json", **headers}
    )

    assert answer.status_code == 401
    assert error in answer.json()["error"]
    assert list_landed_files(landing) == []


def test_stale_timestamp_is_401(landing: Path) -> None:
    answer = post_signed(client_for(landing), event("evt-1"), now=time.time() - 301)

    assert answer.status_code == 401
    assert "old; requests must be signed within 300 s" in answer.json()["error"]


def test_bad_signature_is_401(landing: Path) -> None:
    body = json.dumps(event("evt-1")).encode()
    headers = signed_headers("another-secret-0123456789", body)

    answer = client_for(landing).post("/v1/events", content=body, headers=headers)

    assert answer.status_code == 401
    assert "does not match" in answer.json()["error"]


def test_body_changed_after_signing_is_401(landing: Path) -> None:
    body = json.dumps(event("evt-1")).encode()
    headers = signed_headers(SECRET, body)

    answer = client_for(landing).post("/v1/events", content=body.replace(b"evt-1", b"evt-9"), headers=headers)

    assert answer.status_code == 401


def test_old_and_new_secret_signatures_side_by_side_are_accepted(landing: Path) -> None:
    body = json.dumps(event("evt-1")).encode()
    headers = signed_headers(SECRET, body)
    other = signed_headers("old-secret-0123456789abcdef", body)[SIGNATURE_HEADER]
    headers[SIGNATURE_HEADER] = f"{other}, {headers[SIGNATURE_HEADER]}"

    assert client_for(landing).post("/v1/events", content=body, headers=headers).status_code == 202


def test_two_mib_body_is_413_by_its_declared_length(landing: Path) -> None:
    body = b'["' + b"x" * (2 * 1024 * 1024) + b'"]'

    answer = client_for(landing).post("/v1/events", content=body, headers=signed_headers(SECRET, body))

    assert answer.status_code == 413
    assert "over the limit of 1048576 bytes" in answer.json()["error"]


def test_two_mib_chunked_body_without_a_length_is_413_while_streaming(landing: Path) -> None:
    chunk = b" " * (64 * 1024)
    body_chunks = [chunk] * 32
    headers = signed_headers(SECRET, b"".join(body_chunks))

    answer = client_for(landing).post("/v1/events", content=iter(body_chunks), headers=headers)

    assert answer.status_code == 413
    assert answer.json()["error"] == "body is over the limit of 1048576 bytes"


def test_more_than_500_events_is_413(landing: Path) -> None:
    answer = post_signed(client_for(landing), [event(f"evt-{n}") for n in range(501)])

    assert answer.status_code == 413
    assert answer.json()["error"] == "batch of 501 events is over the limit of 500 per request"


def test_text_plain_is_415(landing: Path) -> None:
    body = json.dumps(event("evt-1")).encode()
    headers = signed_headers(SECRET, body) | {"Content-Type": "text/plain"}

    answer = client_for(landing).post("/v1/events", content=body, headers=headers)

    assert answer.status_code == 415
    assert answer.json()["error"] == "Content-Type must be application/json, got 'text/plain'"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"email=jane@acme.com&source=web_form", "body is not JSON: Expecting value"),
        (b'{"event_id": "evt-1"', "body is not JSON"),
        (b"\xff\xfe{}", "body is not UTF-8 text"),
        (b'"evt-1"', "body must be one event (a JSON object) or an array of events, got a string"),
        (b"[]", "empty batch"),
    ],
    ids=["form-encoded", "truncated", "not-utf8", "json-string", "empty-array"],
)
def test_body_that_is_not_an_event_or_a_batch_is_400(landing: Path, body: bytes, error: str) -> None:
    answer = client_for(landing).post("/v1/events", content=body, headers=signed_headers(SECRET, body))

    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)
    assert list_landed_files(landing) == []


def test_rate_limit_is_429_with_retry_after(landing: Path) -> None:
    client = client_for(landing, rate_per_second=0.1, burst=2)

    answers = [post_signed(client, event(f"evt-{n}")) for n in range(3)]

    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert answers[2].headers["Retry-After"] == "10"
    assert "rate limit of 0.1 requests/s (burst 2) per client exceeded" in answers[2].json()["error"]


def test_metrics_count_responses_by_status_and_events(landing: Path) -> None:
    client = client_for(landing)
    post_signed(client, three_good_one_bad())
    client.post("/v1/events", json=event("evt-9"))  # unsigned
    client.post("/v1/events", content=b"x", headers={"Content-Type": "text/plain"})

    metrics = client.get("/metrics").json()

    assert metrics["responses_by_status"] == {"202": 1, "401": 1, "415": 1}
    assert metrics["rejected_requests_by_status"] == {"401": 1, "415": 1}
    assert (metrics["events_accepted"], metrics["events_rejected"], metrics["landed_files"]) == (3, 1, 1)


def test_unknown_path_answers_json_error(landing: Path) -> None:
    answer = client_for(landing).get("/v2/events")

    assert answer.status_code == 404
    assert answer.json() == {"error": "Not Found"}


def test_healthz_and_openapi_document_the_contract(landing: Path) -> None:
    client = client_for(landing)

    assert client.get("/healthz").json() == {"status": "ok"}
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/v1/events"]["post"]
    assert {parameter["name"] for parameter in post["parameters"]} == {TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert set(post["responses"]) == {"202", "400", "401", "413", "415", "429", "503"}
    assert "event_id" in schema["components"]["schemas"]["InboundEvent"]["properties"]
    assert client.get("/docs").status_code == 200


def test_healthz_is_503_when_the_landing_folder_is_missing(tmp_path: Path) -> None:
    answer = client_for(tmp_path / "missing").get("/healthz")

    assert answer.status_code == 503
    assert "is missing or not writable" in answer.json()["error"]
