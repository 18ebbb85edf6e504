"""Transactional ingest into the raw tables: every landed line ends in exactly one place, exactly once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import assets.ingest.ingest as ingest_module
from assets.ingest.ingest import TABLES, ingest_files
from integrations.landing.zone import list_landed_files, write_events_atomically

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def event(event_id: str, **fields: object) -> dict[str, object]:
    return {
        "event_id": event_id,
        "source": "demo_request",
        "received_at": "2024-05-01T11:30:00+02:00",
        "email": f"{event_id}@acme.com",
        **fields,
    }


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


def rows(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    result = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert result is not None
    return int(result[0])


def ingest(con: duckdb.DuckDBPyConnection, landing: Path, batch_id: str):
    return ingest_files(
        con, list_landed_files(landing), batch_id=batch_id, archive_dir=landing / "archive", now=NOW
    )


def land_mixed_file(landing: Path) -> Path:
    return write_events_atomically(
        landing,
        [
            json.dumps(event("e1", company="Acme GmbH", country="Deutschland")),
            json.dumps(event("e2")),
            '{"event_id": "e3", "source": ',  # cut off mid-line
            json.dumps(event("e4")),
            json.dumps(event("e2", message="redelivered by the form vendor")),
        ],
        name="mixed",
    )


def test_mixed_file_accepts_valid_quarantines_malformed_and_flags_a_changed_redelivery(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    land_mixed_file(landing)

    summary = ingest(con, landing, "b1")

    assert (
        summary.files,
        summary.lines,
        summary.accepted,
        summary.quarantined,
        summary.duplicates,
        summary.conflicting_redeliveries,
    ) == (1, 5, 3, 1, 0, 1)
    assert summary.quarantine_reasons == {"invalid_json": 1}
    assert rows(con, "SELECT event_id FROM raw.inbound_events ORDER BY event_id") == [
        ("e1",),
        ("e2",),
        ("e4",),
    ]
    assert rows(con, "SELECT line_number, status FROM raw.event_deliveries ORDER BY line_number") == [
        (1, "accepted"),
        (2, "accepted"),
        (3, "quarantined"),
        (4, "accepted"),
        (5, "conflicting_redelivery"),
    ]
    [(file_name, line_number, batch_id, event_id, reason, raw_text)] = rows(
        con, "SELECT file_name, line_number, batch_id, event_id, reason, raw_text FROM raw.quarantined_events"
    )
    assert (file_name, line_number, batch_id, event_id) == ("mixed.jsonl", 3, "b1", None)
    assert reason.startswith("invalid_json: ")
    assert raw_text == '{"event_id": "e3", "source": '
    [(conflict_reason,)] = rows(
        con, "SELECT reason FROM raw.event_deliveries WHERE status = 'conflicting_redelivery'"
    )
    assert re.fullmatch(
        "conflicting_redelivery: payload sha256 [0-9a-f]{64} differs from [0-9a-f]{64} of the first"
        r" delivery in mixed.jsonl line 2 \(batch b1\), which stays authoritative",
        conflict_reason,
    )
    # The first delivery wins: the redelivered message is not stored over it.
    assert rows(con, "SELECT message FROM raw.inbound_events WHERE event_id = 'e2'") == [(None,)]


def test_accepted_rows_carry_raw_normalized_and_lineage_values(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    line = json.dumps(
        event("e1", company="Acme GmbH", country="Deutschland", gclid="g-1", consent={"marketing": True})
    )
    write_events_atomically(landing, [line], name="one")

    ingest(con, landing, "b1")

    row = con.execute(
        "SELECT received_at, company, company_normalized, country, country_code, consent_marketing,"
        " extra_json, payload_json, spam_signals, file_name, line_number, batch_id, ingested_at"
        " FROM raw.inbound_events"
    ).fetchone()
    assert row == (
        datetime(2024, 5, 1, 9, 30),  # UTC, naive
        "Acme GmbH",
        "acme",
        "Deutschland",
        "DE",
        True,
        '{"gclid": "g-1"}',
        line,
        "",
        "one.jsonl",
        1,
        "b1",
        datetime(2024, 5, 2, 12, 0),
    )


def test_raw_tables_have_exactly_the_documented_columns(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    ingest(con, landing, "b1")  # nothing landed: the tables are still created
    for table, columns in TABLES.items():
        schema, name = table.split(".")
        described = rows(
            con,
            "SELECT column_name FROM information_schema.columns"
            f" WHERE table_schema = '{schema}' AND table_name = '{name}' ORDER BY ordinal_position",
        )
        assert [column for (column,) in described] == list(columns)
    assert list(TABLES["raw.event_deliveries"]) == [
        "file_name",
        "line_number",
        "batch_id",
        "event_id",
        "status",
        "reason",
        "delivered_at",
    ]
    assert list(TABLES["raw.ingested_files"]) == [
        "file_name",
        "content_sha256",
        "line_count",
        "batch_id",
        "ingested_at",
    ]


def test_reingesting_the_same_file_changes_nothing_but_archives_it(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    path = land_mixed_file(landing)
    content = path.read_bytes()
    ingest(con, landing, "b1")
    before = {table: count(con, table) for table in TABLES}

    (landing / "mixed-again.jsonl").write_bytes(content)  # the producer delivers the same file twice
    summary = ingest(con, landing, "b2")

    assert (summary.files, summary.already_ingested_files, summary.lines, summary.accepted) == (1, 1, 0, 0)
    assert {table: count(con, table) for table in TABLES} == before
    assert (landing / "archive" / "b2" / "mixed-again.jsonl").read_bytes() == content
    assert list_landed_files(landing) == []


def test_crash_mid_file_leaves_no_rows_from_it_and_the_file_in_place(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_events_atomically(landing, [json.dumps(event("e0"))], name="a-good")
    land_mixed_file(landing)
    real_insert = ingest_module._insert

    def crash_after_events_are_inserted(con, table, table_rows):
        real_insert(con, table, table_rows)
        if table == "raw.inbound_events" and any(row["file_name"] == "mixed.jsonl" for row in table_rows):
            raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_module, "_insert", crash_after_events_are_inserted)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(con, landing, "b1")

    # The file before the crash is committed and archived; the crashing one left nothing behind.
    assert rows(con, "SELECT DISTINCT file_name FROM raw.event_deliveries") == [("a-good.jsonl",)]
    assert rows(con, "SELECT event_id FROM raw.inbound_events") == [("e0",)]
    assert rows(con, "SELECT file_name FROM raw.ingested_files") == [("a-good.jsonl",)]
    assert count(con, "raw.quarantined_events") == 0
    assert [path.name for path in list_landed_files(landing)] == ["mixed.jsonl"]

    monkeypatch.setattr(ingest_module, "_insert", real_insert)
    retry = ingest(con, landing, "b2")
    assert (retry.accepted, retry.quarantined, retry.conflicting_redeliveries) == (3, 1, 1)


def test_every_landed_line_ends_in_exactly_one_place(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    write_events_atomically(
        landing,
        [json.dumps(event("e1")), "", "   ", json.dumps(event("e2", source="fax")), json.dumps(event("e3"))],
        name="f1",
    )
    write_events_atomically(
        landing,
        [json.dumps(event("e3")), "[]", json.dumps(event("e2")), json.dumps(event("e5"))],
        name="f2",
    )
    (landing / "f3.jsonl").write_bytes(
        b'{"event_id": "e6", "name": "\xff"}\n' + json.dumps(event("e1")).encode()
    )
    ingest(con, landing, "b1")
    ingest(con, landing, "b1")  # nothing left to do

    non_blank_lines = {("f1.jsonl", 1), ("f1.jsonl", 4), ("f1.jsonl", 5), ("f2.jsonl", 1), ("f2.jsonl", 2)}
    non_blank_lines |= {("f2.jsonl", 3), ("f2.jsonl", 4), ("f3.jsonl", 1), ("f3.jsonl", 2)}
    deliveries = rows(con, "SELECT file_name, line_number, status, event_id FROM raw.event_deliveries")
    assert sorted((file_name, line) for file_name, line, _, _ in deliveries) == sorted(non_blank_lines)
    by_status = {
        status: {(file_name, line) for file_name, line, line_status, _ in deliveries if line_status == status}
        for status in ("accepted", "quarantined", "duplicate_delivery")
    }
    assert by_status["accepted"] == set(rows(con, "SELECT file_name, line_number FROM raw.inbound_events"))
    assert by_status["quarantined"] == set(
        rows(con, "SELECT file_name, line_number FROM raw.quarantined_events")
    )
    assert by_status["duplicate_delivery"] == {("f2.jsonl", 1), ("f3.jsonl", 2)}
    # e2 was quarantined (bad source) first, so its corrected redelivery is accepted, not a duplicate.
    assert ("f2.jsonl", 3, "accepted", "e2") in deliveries
    assert rows(con, "SELECT sum(line_count) FROM raw.ingested_files") == [(len(non_blank_lines),)]
    assert rows(con, "SELECT reason FROM raw.quarantined_events WHERE file_name = 'f3.jsonl'")[0][
        0
    ].startswith("invalid_utf8: ")


def test_duplicate_of_an_event_from_an_earlier_batch_names_its_first_delivery(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_events_atomically(landing, [json.dumps(event("e1"))], name="monday")
    ingest(con, landing, "b-monday")
    # The same event, sent with its keys in another order: the same payload, so a plain duplicate.
    write_events_atomically(landing, [json.dumps(dict(reversed(event("e1").items())))], name="tuesday")

    summary = ingest(con, landing, "b-tuesday")

    assert (summary.accepted, summary.duplicates) == (0, 1)
    assert rows(con, "SELECT status, reason FROM raw.event_deliveries WHERE batch_id = 'b-tuesday'") == [
        ("duplicate_delivery", "event_id first delivered in monday.jsonl line 1 (batch b-monday)")
    ]


def test_contract_violation_is_quarantined_with_its_event_id_and_reason(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_events_atomically(
        landing, [json.dumps(event("e1", received_at="yesterday", utm="google"))], name="bad"
    )

    summary = ingest(con, landing, "b1")

    assert summary.quarantine_reasons == {"contract_violation": 1}
    [(event_id, reason)] = rows(con, "SELECT event_id, reason FROM raw.quarantined_events")
    assert event_id == "e1"
    assert "received_at:" in reason and "utm:" in reason
    assert rows(con, "SELECT status, event_id, reason FROM raw.event_deliveries") == [
        ("quarantined", "e1", reason)
    ]


def test_normalization_failure_quarantines_the_line_instead_of_blocking_the_file(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_normalize = ingest_module.normalize_event

    def fail_on_e2(parsed_event):
        if parsed_event.event_id == "e2":
            raise ValueError("unexpected value")
        return real_normalize(parsed_event)

    monkeypatch.setattr(ingest_module, "normalize_event", fail_on_e2)
    write_events_atomically(landing, [json.dumps(event("e1")), json.dumps(event("e2"))], name="f")

    summary = ingest(con, landing, "b1")

    assert (summary.accepted, summary.quarantined) == (1, 1)
    assert rows(con, "SELECT event_id, reason FROM raw.quarantined_events") == [
        ("e2", "normalization_error: ValueError: unexpected value")
    ]


def test_line_endings_byte_order_mark_and_unicode_separators_do_not_split_or_break_events(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    first = json.dumps(event("e1", message="line\u2028separator inside a string"), ensure_ascii=False)
    second = json.dumps(event("e2"))
    landing.mkdir()
    (landing / "windows.jsonl").write_bytes(b"\xef\xbb\xbf" + f"{first}\r\n{second}\r\n".encode())

    summary = ingest(con, landing, "b1")

    assert (summary.lines, summary.accepted) == (2, 2)
    assert rows(con, "SELECT message FROM raw.inbound_events WHERE event_id = 'e1'") == [
        ("line\u2028separator inside a string",)
    ]


def test_files_are_archived_per_batch_without_overwriting_an_archived_file(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_events_atomically(landing, [json.dumps(event("e1"))], name="leads")
    first = ingest(con, landing, "b1")
    (landing / "archive" / "b2").mkdir(parents=True)
    (landing / "archive" / "b2" / "leads.jsonl").write_text("kept\n", encoding="utf-8")
    write_events_atomically(landing, [json.dumps(event("e2"))], name="leads")

    second = ingest(con, landing, "b2")

    assert first.archived_files == [str(landing / "archive" / "b1" / "leads.jsonl")]
    assert second.archived_files == [str(landing / "archive" / "b2" / "leads.1.jsonl")]
    assert (landing / "archive" / "b2" / "leads.jsonl").read_text(encoding="utf-8") == "kept\n"


def test_two_thousand_lines_are_inserted_in_bulk(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    real_execute = duckdb.DuckDBPyConnection.execute

    class CountingConnection:
        def __init__(self, inner: duckdb.DuckDBPyConnection) -> None:
            self._inner = inner

        def execute(self, query: str, *args: object):
            statements.append(query)
            return real_execute(self._inner, query, *args)

        def __getattr__(self, name: str):
            return getattr(self._inner, name)

    write_events_atomically(landing, [event(f"e{number}") for number in range(2000)], name="big")

    summary = ingest(CountingConnection(con), landing, "b1")  # type: ignore[arg-type]

    assert summary.accepted == 2000
    inserts = [statement for statement in statements if statement.startswith("INSERT")]
    assert len(inserts) == 3  # inbound_events, event_deliveries, ingested_files: one statement each
