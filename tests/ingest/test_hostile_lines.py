"""Nothing a line contains can stop the ingest: each hostile line is quarantined with its reason, file,
line and raw text, and every file after it is still processed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import assets.ingest.ingest as ingest_module
from assets.ingest.ingest import ingest_files, storable
from integrations.landing.zone import list_landed_files, write_events_atomically

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def event(event_id: str, **fields: object) -> dict[str, object]:
    return {"event_id": event_id, "source": "web_form", "received_at": "2024-05-01T09:30:00Z", **fields}


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


def ingest(con: duckdb.DuckDBPyConnection, landing: Path, batch_id: str = "b1"):
    return ingest_files(
        con, list_landed_files(landing), batch_id=batch_id, archive_dir=landing / "archive", now=NOW
    )


def quarantine(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str, str]]:
    rows = con.execute(
        "SELECT line_number, file_name, reason, raw_text FROM raw.quarantined_events"
    ).fetchall()
    return {line: (file_name, reason, raw_text) for line, file_name, reason, raw_text in rows}


def test_the_issue_file_is_decided_quickly_and_the_next_file_is_still_processed(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    surrogate = json.dumps(event("e-surrogate", company="\ud800"))  # written as the escape \ud800
    year_9999 = json.dumps(event("e-9999", received_at="9999-12-31T23:59:59-14:00"))
    huge = json.dumps(event("e-huge", message="x" * 5_000_000))
    write_events_atomically(landing, [json.dumps(event("e-ok")), surrogate, year_9999, huge], name="a-poison")
    write_events_atomically(landing, [json.dumps(event("e-next"))], name="b-after")

    started = time.perf_counter()
    summary = ingest(con, landing)
    elapsed = time.perf_counter() - started

    assert elapsed < 5
    assert (summary.accepted, summary.quarantined) == (2, 3)
    assert con.execute("SELECT event_id FROM raw.inbound_events ORDER BY 1").fetchall() == [
        ("e-next",),
        ("e-ok",),
    ]
    quarantined = quarantine(con)
    assert sorted(quarantined) == [2, 3, 4]
    assert quarantined[2][1].startswith("invalid_json: company holds a lone UTF-16 surrogate")
    assert quarantined[3][1].startswith("contract_violation: received_at: '9999-12-31T23:59:59-14:00'")
    assert quarantined[4][1].startswith("line_too_long: 5,000,")
    assert quarantined[2][2] == surrogate and quarantined[4][2] == huge  # raw text kept whole
    assert list_landed_files(landing) == []


def test_a_lone_surrogate_in_a_key_is_quarantined_with_its_event_id(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_events_atomically(landing, [json.dumps(event("e1", **{"\udfff": "x"}))], name="f")

    ingest(con, landing)

    [(event_id, reason)] = con.execute("SELECT event_id, reason FROM raw.quarantined_events").fetchall()
    assert event_id == "e1" and "key '\\udfff' holds a lone UTF-16 surrogate" in reason


def test_raw_bytes_of_an_encoded_surrogate_are_quarantined_as_invalid_utf8_and_kept_escaped(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    (landing / "f.jsonl").write_bytes(b'{"event_id": "e1", "company": "\xed\xa0\x80"}\n')

    ingest(con, landing)

    assert quarantine(con)[1][1:] == (
        quarantine(con)[1][1],
        '{"event_id": "e1", "company": "\\xed\\xa0\\x80"}',
    )
    assert quarantine(con)[1][1].startswith("invalid_utf8: ")


def test_an_exception_anywhere_in_a_line_becomes_a_quarantine_row_not_a_failed_file(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_parse = ingest_module.parse_event_line

    def parser_bug(text: str):
        if "e2" in text:
            raise KeyError("unexpected")
        return real_parse(text)

    real_columns = ingest_module._raw_columns

    def conversion_bug(parsed, payload):
        if parsed.event_id == "e3":
            raise OverflowError("date value out of range")
        return real_columns(parsed, payload)

    monkeypatch.setattr(ingest_module, "parse_event_line", parser_bug)
    monkeypatch.setattr(ingest_module, "_raw_columns", conversion_bug)
    write_events_atomically(landing, [json.dumps(event(f"e{n}")) for n in (1, 2, 3, 4)], name="f")

    summary = ingest(con, landing)

    assert (summary.accepted, summary.quarantined) == (2, 2)
    reasons = {line: reason for line, (_, reason, _) in quarantine(con).items()}
    assert reasons == {
        2: "internal_error: KeyError: 'unexpected'",
        3: "internal_error: OverflowError: date value out of range",
    }
    statuses = con.execute("SELECT line_number, status FROM raw.event_deliveries ORDER BY 1").fetchall()
    assert statuses == [(1, "accepted"), (2, "quarantined"), (3, "quarantined"), (4, "accepted")]


def test_a_row_the_table_cannot_hold_is_quarantined_as_unstorable(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_normalize = ingest_module.normalize_event

    def out_of_range(parsed):
        columns = real_normalize(parsed)
        if parsed.event_id == "e2":
            columns["employees_reported_min"] = 2**40  # no INTEGER holds it
        return columns

    monkeypatch.setattr(ingest_module, "normalize_event", out_of_range)
    write_events_atomically(landing, [json.dumps(event("e1")), json.dumps(event("e2"))], name="f")

    summary = ingest(con, landing)

    assert (summary.accepted, summary.quarantined) == (1, 1)
    assert quarantine(con)[2][1].startswith("unstorable: ")


def test_storable_escapes_lone_surrogates_and_keeps_everything_else() -> None:
    assert storable("a\ud800b") == "a\\ud800b"
    assert storable("é \U0001f600 \u2028") == "é \U0001f600 \u2028"


def test_a_changed_redelivery_is_recorded_with_both_hashes_and_the_first_payload_stays(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_events_atomically(landing, [json.dumps(event("e1", company="Acme"))], name="a")
    write_events_atomically(landing, [json.dumps(event("e1", company="Evil Corp"))], name="b")

    summary = ingest(con, landing)

    assert (summary.accepted, summary.conflicting_redeliveries, summary.duplicates) == (1, 1, 0)
    assert con.execute("SELECT company FROM raw.inbound_events").fetchall() == [("Acme",)]
    [(status, reason)] = con.execute(
        "SELECT status, reason FROM raw.event_deliveries WHERE file_name = 'b.jsonl'"
    ).fetchall()
    assert status == "conflicting_redelivery"
    assert reason.count("sha256") == 1 and "a.jsonl line 1" in reason and "stays authoritative" in reason


def test_a_warehouse_from_before_conflicting_redeliveries_accepts_them_after_migration(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.event_deliveries (file_name VARCHAR NOT NULL, line_number INTEGER NOT NULL,"
        " batch_id VARCHAR NOT NULL, event_id VARCHAR, status VARCHAR NOT NULL, reason VARCHAR,"
        " delivered_at TIMESTAMP NOT NULL,"
        " CHECK (status IN ('accepted', 'duplicate_delivery', 'quarantined')))"
    )
    con.execute(
        "INSERT INTO raw.event_deliveries VALUES ('old.jsonl', 1, 'b0', 'e0', 'accepted', NULL, now())"
    )
    write_events_atomically(
        landing, [json.dumps(event("e1")), json.dumps(event("e1", company="X"))], name="f"
    )

    ingest(con, landing)

    assert con.execute(
        "SELECT status FROM raw.event_deliveries ORDER BY file_name, line_number"
    ).fetchall() == [
        ("accepted",),  # f.jsonl line 1
        ("conflicting_redelivery",),  # f.jsonl line 2
        ("accepted",),  # old.jsonl, kept through the table's rebuild
    ]


def test_a_file_with_an_unfinished_last_line_waits_then_its_tail_is_quarantined(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    path = landing / "slow.jsonl"
    path.write_bytes(json.dumps(event("e1")).encode() + b'\n{"event_id": "e2", "sou')
    written = NOW.timestamp() - 60
    os.utime(path, (written, written))

    held = ingest(con, landing)

    assert held.held_files.keys() == {"slow.jsonl"} and held.lines == 0 and path.exists()

    old = NOW.timestamp() - 600
    os.utime(path, (old, old))
    done = ingest(con, landing, "b2")

    assert (done.accepted, done.quarantined, done.held_files) == (1, 1, {})
    assert quarantine(con)[2][1].startswith("partial_last_line: ")


def test_a_producer_that_finishes_its_line_gets_every_event_accepted(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    path = landing / "slow.jsonl"
    path.write_bytes(json.dumps(event("e1")).encode() + b'\n{"event_id": "e2", "sou')
    os.utime(path, (NOW.timestamp(), NOW.timestamp()))
    ingest(con, landing)
    path.write_bytes(json.dumps(event("e1")).encode() + b"\n" + json.dumps(event("e2")).encode() + b"\n")
    os.utime(path, (NOW.timestamp(), NOW.timestamp()))

    summary = ingest(con, landing, "b2")

    assert (summary.accepted, summary.quarantined) == (2, 0)
