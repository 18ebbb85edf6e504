"""`leadops backfill`: the same history always cuts into the same chunks, and a done chunk is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.cli import CliError, build_parser
from dagster_project.cli.backfill import Progress, chunks, count_lines, input_files


def _history(folder: Path, lines_per_file: list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files, number = [], 0
    for index, count in enumerate(lines_per_file):
        path = folder / f"part-{index}.jsonl"
        path.write_bytes(b"".join(f'{{"event_id": "e{number + i}"}}\n'.encode() for i in range(count)))
        number += count
        files.append(path)
    return files


def test_chunks_cut_across_files_in_order_and_keep_every_line(tmp_path: Path):
    files = _history(tmp_path / "history", [3, 4, 2])

    cut = list(chunks(input_files([tmp_path / "history"]), chunk_leads=4))

    assert [len(chunk.lines) for chunk in cut] == [4, 4, 1]
    assert b"".join(b"".join(chunk.lines) for chunk in cut) == b"".join(path.read_bytes() for path in files)
    assert count_lines(files) == 9


def test_the_same_history_gives_the_same_chunk_names(tmp_path: Path):
    _history(tmp_path / "history", [5, 5])
    first = [chunk.name for chunk in chunks(input_files([tmp_path / "history"]), 3)]
    second = [chunk.name for chunk in chunks(input_files([tmp_path / "history"]), 3)]

    assert first == second and len(set(first)) == 4


def test_a_recorded_chunk_is_done_for_the_next_run(tmp_path: Path):
    _history(tmp_path / "history", [5])
    chunk = next(chunks(input_files([tmp_path / "history"]), 5))
    Progress(tmp_path / "progress.json").record(chunk, seconds=1.5, run_id="run-1")

    reread = Progress(tmp_path / "progress.json")

    assert chunk.sha256 in reread.done
    assert reread.done[chunk.sha256]["leads"] == 5


def test_a_missing_input_is_an_error_to_fix(tmp_path: Path):
    with pytest.raises(CliError, match="no such file"):
        input_files([tmp_path / "nowhere.jsonl"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CliError, match=r"no \.jsonl files"):
        input_files([tmp_path / "empty"])


def test_backfill_and_rules_diff_are_leadops_commands():
    parser = build_parser()

    assert parser.parse_args(["backfill", "history/", "--chunk-leads", "10"]).chunk_leads == 10
    args = parser.parse_args(["rules", "diff", "--base", "main", "--fail-on-change"])
    assert args.base == "main" and args.fail_on_change
