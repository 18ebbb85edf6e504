"""`leadops backfill <files or folder>`: a large history through the whole pipeline, without the LLM.

The history is cut into chunks of `--chunk-leads` lines, in file-name then line order, so the same input
always gives the same chunks. Each chunk is landed as one file and processed by one `process_leads` run
(the run lock, the dead-run reclaim and the tags of `leadops run`); when the run succeeds the chunk's
content hash is recorded in $LEADOPS_HOME/backfill/progress.json. A rerun skips every recorded chunk, so an
interrupted backfill resumes at the first chunk that did not finish. A chunk interrupted half-way is run
again whole: the ingest keeps one delivery per event id, so repeating it adds nothing.

The model interpretation of messages is switched off (the intent rules and the local classifier decide):
a history of a million leads is not sent to an LLM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dagster_project.settings import Settings

DEFAULT_CHUNK_LEADS = 50_000
PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class Chunk:
    index: int
    lines: list[bytes]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for line in self.lines:
            digest.update(line)
        return digest.hexdigest()

    @property
    def name(self) -> str:
        return f"backfill-{self.index:05d}-{self.sha256[:12]}.jsonl"


def input_files(paths: Sequence[Path]) -> list[Path]:
    """The JSON Lines files named, or found (sorted) in the folders named."""
    from dagster_project.cli import CliError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(child for child in path.rglob("*.jsonl") if child.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"no such file or folder: {path}")
    if not files:
        raise CliError("no .jsonl files to backfill")
    return files


def chunks(files: Iterable[Path], chunk_leads: int) -> Iterator[Chunk]:
    """Consecutive chunks of at most `chunk_leads` lines; a line's bytes are kept exactly (see land_files)."""
    buffer: list[bytes] = []
    index = 0
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                buffer.append(line if line.endswith(b"\n") else line + b"\n")
                if len(buffer) == chunk_leads:
                    yield Chunk(index, buffer)
                    index, buffer = index + 1, []
    if buffer:
        yield Chunk(index, buffer)


def count_lines(files: Iterable[Path]) -> int:
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


class Progress:
    """Which chunks are done, kept in one JSON file replaced atomically after each chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict] = json.loads(path.read_text())["done"] if path.exists() else {}

    def record(self, chunk: Chunk, seconds: float, run_id: str) -> None:
        self.done[chunk.sha256] = {
            "file": chunk.name,
            "leads": len(chunk.lines),
            "seconds": round(seconds, 1),
            "run_id": run_id,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"done": self.done}, indent=1))
        os.replace(temporary, self.path)


def backfill(
    settings: Settings, paths: Sequence[Path], chunk_leads: int, *, show_progress: bool = True
) -> dict:
    from dagster import DagsterInstance
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    from dagster_project.cli import CliError, load_definitions, wait_for_warehouse
    from dagster_project.run_lock import RunLockTimeout, describe_this_process, hold_run_lock, run_lock_path
    from integrations.landing.zone import land_bytes_atomically
    from sensors.runs import HOST_TAG, PID_TAG, reclaim_dead_runs

    files = input_files(paths)
    total = count_lines(files)
    settings = replace(settings, llm=None)
    settings.prepare_home()
    load_definitions(settings)
    from dagster_project.definitions import build_definitions

    job = build_definitions(settings).resolve_job_def("process_leads")
    progress = Progress(settings.home / "backfill" / PROGRESS_FILE)
    summary = {
        "leads": total,
        "chunks": 0,
        "skipped_chunks": 0,
        "run_seconds": [],
        "step_seconds": {},
        "failed": None,
    }
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), "leadops/trigger": "backfill"}
    columns = (
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("leads"),
        TimeRemainingColumn(),
    )
    with DagsterInstance.get() as instance, Bar(*columns, disable=not show_progress) as bar:
        task = bar.add_task("backfill", total=total)
        for dead in reclaim_dead_runs(instance):
            print(f"leadops: {dead.reason}", file=sys.stderr)
        for chunk in chunks(files, chunk_leads):
            summary["chunks"] += 1
            if chunk.sha256 in progress.done:
                summary["skipped_chunks"] += 1
                bar.advance(task, len(chunk.lines))
                continue
            land_bytes_atomically(settings.landing_dir, b"".join(chunk.lines), name=chunk.name)
            began = time.perf_counter()
            try:
                with hold_run_lock(run_lock_path(settings.home), describe_this_process("`leadops backfill`")):
                    wait_for_warehouse(settings.warehouse_path)
                    result = job.execute_in_process(
                        run_config={
                            "ops": {"raw_inbound_events": {"config": {"files": [chunk.name]}}},
                            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                        },
                        instance=instance,
                        raise_on_error=False,
                        tags={**tags, "leadops/backfill_chunk": chunk.name},
                    )
            except RunLockTimeout as error:
                raise CliError(str(error)) from error
            seconds = time.perf_counter() - began
            skipped = [event.step_key for event in result.all_events if event.is_step_skipped]
            if not result.success or skipped:
                summary["failed"] = f"{chunk.name} (run {result.run_id})"
                break
            progress.record(chunk, seconds, result.run_id)
            summary["run_seconds"].append(round(seconds, 1))
            for event in result.all_events:
                if event.event_type_value == "STEP_SUCCESS":
                    steps = summary["step_seconds"]
                    seconds_taken = event.event_specific_data.duration_ms / 1000
                    steps[event.step_key] = round(steps.get(event.step_key, 0) + seconds_taken, 1)
            bar.advance(task, len(chunk.lines))
    return summary


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    summary = backfill(settings, [Path(path) for path in args.paths], args.chunk_leads)
    done = summary["chunks"] - summary["skipped_chunks"] - (1 if summary["failed"] else 0)
    print(
        f"backfill: {summary['leads']} leads in {summary['chunks']} chunk(s): {done} processed now,"
        f" {summary['skipped_chunks']} already done; run seconds {summary['run_seconds']}"
    )
    if summary["failed"]:
        print(
            f"leadops: chunk {summary['failed']} did not finish; run the same command again to resume",
            file=sys.stderr,
        )
        return 1
    return 0


def register_backfill_command(commands: argparse._SubParsersAction) -> None:
    """Add `leadops backfill` to the CLI's top-level subcommands."""
    parser = commands.add_parser("backfill", help="a large history through the pipeline in resumable chunks")
    parser.add_argument("paths", nargs="+", help="JSON Lines files or folders holding them")
    parser.add_argument(
        "--chunk-leads", type=int, default=DEFAULT_CHUNK_LEADS, help="leads per chunk (one run each)"
    )
    parser.set_defaults(handler=cmd_backfill)
