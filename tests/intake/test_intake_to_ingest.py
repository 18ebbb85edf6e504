"""What the intake lands, ingest takes: accepted items become raw events, rejected ones are quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from assets.ingest.ingest import ingest_files
from integrations.landing.zone import list_landed_files
from tests.intake.intake_helpers import client_for, post_signed, three_good_one_bad


def test_landed_batch_is_ingested_with_three_accepted_and_one_quarantined_for_the_same_reason(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    answer = post_signed(client_for(landing), three_good_one_bad()).json()

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        summary = ingest_files(
            con,
            list_landed_files(landing),
            batch_id="b1",
            archive_dir=landing / "archive",
            now=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        )
        accepted = con.execute("SELECT event_id FROM raw.inbound_events ORDER BY line_number").fetchall()
        quarantined = con.execute(
            "SELECT file_name, line_number, event_id, reason FROM raw.quarantined_events"
        ).fetchall()

    assert (summary.lines, summary.accepted, summary.quarantined) == (4, 3, 1)
    assert [event_id for (event_id,) in accepted] == answer["accepted"]
    [rejection] = answer["rejected"]
    # The producer's answer and the warehouse agree: same item, same event_id, same reason.
    assert quarantined == [
        (answer["landed_file"], rejection["index"] + 1, rejection["event_id"], rejection["reason"])
    ]
