"""Producers drop files atomically; the run lists only complete files waiting in the landing directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.landing.zone import list_landed_files, write_events_atomically


def test_written_file_holds_one_json_object_per_line_and_no_temporary_file_remains(tmp_path: Path) -> None:
    path = write_events_atomically(tmp_path, [{"event_id": "e1"}, {"event_id": "é2"}], name="batch-1")
    assert path == tmp_path / "batch-1.jsonl"
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == [
        {"event_id": "e1"},
        {"event_id": "é2"},
    ]
    assert list(tmp_path.glob("*.tmp")) == []


def test_raw_lines_are_written_as_given_so_tests_can_land_malformed_input(tmp_path: Path) -> None:
    path = write_events_atomically(tmp_path, ['{"event_id": "e1"}', "{not json"], name="raw.jsonl")
    assert path.read_text(encoding="utf-8") == '{"event_id": "e1"}\n{not json\n'


def test_a_line_with_an_embedded_newline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newline"):
        write_events_atomically(tmp_path, ['{"a": 1}\n{"b": 2}'], name="bad")
    assert list_landed_files(tmp_path) == []


def test_name_cannot_escape_the_landing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain name"):
        write_events_atomically(tmp_path, [{"event_id": "e1"}], name="../outside")


def test_default_names_sort_by_arrival(tmp_path: Path) -> None:
    first = write_events_atomically(tmp_path, [{"event_id": "e1"}])
    second = write_events_atomically(tmp_path, [{"event_id": "e2"}])
    assert list_landed_files(tmp_path) == [first, second]


def test_listing_ignores_temporary_files_other_files_and_the_archive(tmp_path: Path) -> None:
    landed = write_events_atomically(tmp_path, [{"event_id": "e1"}], name="b")
    (tmp_path / "a.jsonl.tmp").write_text("{", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "archive" / "batch-1").mkdir(parents=True)
    (tmp_path / "archive" / "batch-1" / "old.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "archive.jsonl").mkdir()  # a folder, even with the suffix, is not a landed file
    assert list_landed_files(tmp_path) == [landed]


def test_missing_landing_directory_lists_nothing(tmp_path: Path) -> None:
    assert list_landed_files(tmp_path / "missing") == []
