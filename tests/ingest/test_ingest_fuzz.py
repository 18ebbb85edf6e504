"""Generated hostile lines: whatever a producer writes, each line ends in exactly one place and the
ingest of the file succeeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.ingest.ingest import ingest_files

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)

_text = st.text(alphabet=st.characters(codec=None), max_size=40)  # surrogates, NUL, U+2028 included
_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=False, allow_infinity=False)
)
_json = st.recursive(
    st.none() | st.booleans() | _numbers | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=12,
)
_received_at = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "2024-05-01T09:30:00Z",
            "2024-02-30T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ]
    ),
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    _json,
)
_field = st.sampled_from(["email", "company", "message", "employees", "phone", "country", "utm", "extra"])
_event = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.sampled_from(["e1", "e2", " e1 "]), _text, _json),
        "source": st.one_of(st.just("web_form"), _text),
        "received_at": _received_at,
    },
    optional={
        field: st.one_of(_json, st.text(max_size=3).map(lambda text: text * 30_000)) for field in ["message"]
    }
    | {field: _json for field in ["email", "company", "employees", "phone", "country", "utm", "extra"]},
)


def _deep(depth: int) -> str:
    return (
        '{"event_id": "deep", "source": "web_form", "received_at": "2024-05-01T09:30:00Z", "extra": '
        + ('{"a": ' * depth)
        + "1"
        + "}" * depth
        + "}"
    )


_line = st.one_of(
    _event.map(lambda event: json.dumps(event, ensure_ascii=True)),
    _event.map(lambda event: json.dumps(event, ensure_ascii=False)),
    _json.map(json.dumps),
    st.integers(min_value=1, max_value=3_000).map(_deep),
    st.binary(max_size=60).map(lambda raw: raw.replace(b"\n", b" ").decode("latin-1")),
    st.sampled_from(['{"n": 1e400}', '{"n": ' + "9" * 5_000 + "}", '{"a": 1, "a": 2}', "\ud800"]),
    _field.map(
        lambda name: json.dumps(
            {"event_id": "e3", "source": "chat", "received_at": "2024-05-01T00:00:00Z", name: "\ud800"}
        )
    ),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(lines=st.lists(_line, min_size=1, max_size=6))
def test_every_generated_line_ends_in_exactly_one_place_and_the_file_is_ingested(
    tmp_path_factory, lines: list[str]
) -> None:
    home = tmp_path_factory.mktemp("fuzz")
    landing = home / "landing"
    landing.mkdir()
    content = b"".join(
        line.encode("utf-8", errors="surrogatepass").replace(b"\n", b" ") + b"\n" for line in lines
    )
    (landing / "fuzz.jsonl").write_bytes(content)
    with duckdb.connect() as con:
        summary = ingest_files(
            con, [landing / "fuzz.jsonl"], batch_id="b1", archive_dir=landing / "archive", now=NOW
        )
        non_blank = [
            number
            for number, raw in enumerate(content.split(b"\n"), start=1)
            if raw.removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r").strip() and number <= len(lines)
        ]
        delivered = con.execute("SELECT line_number, status FROM raw.event_deliveries ORDER BY 1").fetchall()
        accepted = {n for (n,) in con.execute("SELECT line_number FROM raw.inbound_events").fetchall()}
        quarantined = {n for (n,) in con.execute("SELECT line_number FROM raw.quarantined_events").fetchall()}

    assert [number for number, _ in delivered] == non_blank
    assert accepted == {number for number, status in delivered if status == "accepted"}
    assert quarantined == {number for number, status in delivered if status == "quarantined"}
    assert summary.lines == len(non_blank)
    assert not (Path(landing) / "fuzz.jsonl").exists()  # archived: the file is done
