"""Producers drop files atomically; the run lists only complete files waiting in the landing directory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from integrations.landing.zone import (
    land_bytes_atomically,
    list_landed_files,
    read_landed_file,
    scan_landing_zone,
    unfinished_last_line,
    write_events_atomically,
)


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


def test_symlinks_are_never_followed_but_reported(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"password": "hunter2"}\n', encoding="utf-8")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "leads.jsonl").symlink_to(outside)

    scan = scan_landing_zone(landing)

    assert scan.files == []
    assert [(leftover.name, leftover.kind) for leftover in scan.leftovers] == [("leads.jsonl", "symlink")]


def test_reading_refuses_a_symlink_swapped_in_after_the_scan(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text("{}\n", encoding="utf-8")
    (tmp_path / "late.jsonl").symlink_to(outside)
    with pytest.raises(OSError):
        read_landed_file(tmp_path / "late.jsonl")


def test_unknown_files_folders_and_stale_temporary_files_are_reported(tmp_path: Path) -> None:
    write_events_atomically(tmp_path, [{"event_id": "e1"}], name="ok")
    (tmp_path / "leads.json").write_text("{}", encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "archive").mkdir()
    (tmp_path / "fresh.jsonl.tmp").write_text("{", encoding="utf-8")
    stale = tmp_path / "old.jsonl.tmp"
    stale.write_text("{", encoding="utf-8")
    two_hours_ago = time.time() - 7_200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    scan = scan_landing_zone(tmp_path)

    assert [path.name for path in scan.files] == ["ok.jsonl"]
    assert [(leftover.name, leftover.kind) for leftover in scan.leftovers] == [
        ("leads.json", "unknown_file"),
        ("nested", "folder"),
        ("old.jsonl.tmp", "stale_temporary_file"),
    ]


def test_landing_bytes_keeps_them_exactly_and_completes_the_last_line(tmp_path: Path) -> None:
    content = '{"m": "a\u2028b"}\n'.encode() + b'{"bad": "\xff"}'
    path = land_bytes_atomically(tmp_path, content, name="copy")
    assert path.read_bytes() == content + b"\n"
    assert list(tmp_path.glob("*.tmp")) == []


@pytest.mark.parametrize(
    ("content", "unfinished"),
    [
        (b'{"a": 1}\n{"b": ', True),
        (b'{"a": 1}\n{"b": 2}', False),  # complete JSON without a trailing newline
        (b'{"a": 1}\n', False),
        (b'{"a": "\xc3', True),  # a character cut in half
        (b"", False),
    ],
)
def test_an_unfinished_last_line_is_one_without_newline_that_does_not_parse(
    content: bytes, unfinished: bool
) -> None:
    assert (unfinished_last_line(content) is not None) is unfinished
