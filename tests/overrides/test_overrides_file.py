"""The overrides file: appends are whole lines under a lock, hand edits keep working, nothing is lost."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

import pytest

from integrations.overrides_file.contract import (
    HEADER_LINE,
    InvalidOverride,
    parse_overrides,
    validate_override,
)
from integrations.overrides_file.store import append_override, overrides_path, read_snapshot


def override(number: int, **changes: str):
    values = {
        "override_id": f"ovr_{number:012x}",
        "created_at": "2026-03-01T09:30:00Z",
        "actor": "ann",
        "scope": "lead",
        "target_id": f"lead_{number}",
        "action": "disqualify",
        "value": "",
        "reason": "competitor, says so",
        **changes,
    }
    return validate_override(values, now=datetime(2026, 3, 2))


def test_the_file_lives_in_the_data_home(tmp_path):
    assert overrides_path(tmp_path) == tmp_path / "overrides" / "overrides.csv"


def test_the_first_append_writes_the_header(tmp_path):
    path = overrides_path(tmp_path)
    append_override(path, override(1))
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER_LINE and lines[1].startswith("ovr_000000000001,2026-03-01T09:30:00Z,ann,")


def test_append_after_a_hand_edit_without_final_newline_starts_a_new_line(tmp_path):
    path = overrides_path(tmp_path)
    append_override(path, override(1))
    path.write_text(path.read_text().rstrip("\n"))
    append_override(path, override(2))
    assert [o.override_id for _, o in parse_overrides(path.read_text()).accepted] == [
        "ovr_000000000001",
        "ovr_000000000002",
    ]


def test_an_append_that_the_run_would_reject_writes_nothing(tmp_path):
    path = overrides_path(tmp_path)
    append_override(path, override(1))
    before = path.read_bytes()
    with pytest.raises(InvalidOverride, match="already used"):
        append_override(path, override(1))
    assert path.read_bytes() == before


def test_appending_keeps_earlier_broken_lines_untouched(tmp_path):
    path = overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(HEADER_LINE + "\nnot,an,override\n")
    append_override(path, override(1))
    parsed = parse_overrides(path.read_text())
    assert len(parsed.accepted) == 1 and parsed.rejected[0].raw_text == "not,an,override"


def _append_many(home: str, start: int) -> None:
    path = overrides_path(__import__("pathlib").Path(home))
    for number in range(start, start + 25):
        append_override(path, override(number, reason="x" * 500))


def test_concurrent_appenders_never_interleave_or_lose_a_line(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), start)) for start in (0, 100, 200)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert all(worker.exitcode == 0 for worker in workers)
    parsed = parse_overrides(overrides_path(tmp_path).read_text())
    assert parsed.rejected == []
    assert len(parsed.accepted) == 75


def test_a_missing_file_and_an_empty_file_hash_alike(tmp_path):
    path = overrides_path(tmp_path)
    missing = read_snapshot(path)
    assert not missing.exists and missing.text() is None
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert read_snapshot(path).content_sha256 == missing.content_sha256
