"""The landing zone: producers drop JSON Lines files atomically, the run lists what is waiting."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LANDED_SUFFIX = ".jsonl"
TEMPORARY_SUFFIX = ".jsonl.tmp"


def _as_line(event: Mapping[str, Any] | str) -> str:
    if isinstance(event, str):
        if "\n" in event.rstrip("\n"):
            raise ValueError("a JSON Lines line cannot contain a newline; pass one event per line")
        return event.rstrip("\n")
    return json.dumps(event, ensure_ascii=False, default=str)


def write_events_atomically(
    landing_dir: Path, events_or_lines: Iterable[Mapping[str, Any] | str], name: str | None = None
) -> Path:
    """Write one JSON Lines file so the run never sees it half-written: `*.jsonl.tmp`, then a rename.

    Items are event dicts (serialized as JSON) or lines already serialized (written as they are, so
    tests can land malformed lines). `name` defaults to a UTC timestamp plus a random suffix, which
    sorts landed files by arrival.
    """
    landing_dir.mkdir(parents=True, exist_ok=True)
    stem = (
        name.removesuffix(LANDED_SUFFIX)
        if name
        else f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    )
    if not stem or "/" in stem or os.sep in stem:
        raise ValueError(f"file name must be a plain name inside the landing directory, got {name!r}")
    final = landing_dir / f"{stem}{LANDED_SUFFIX}"
    temporary = landing_dir / f"{stem}{TEMPORARY_SUFFIX}"
    with temporary.open("w", encoding="utf-8", newline="\n") as handle:
        for item in events_or_lines:
            handle.write(_as_line(item) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    # os.replace is atomic within one file system: a reader sees no file or the whole file.
    os.replace(temporary, final)
    return final


def list_landed_files(landing_dir: Path) -> list[Path]:
    """Complete landed files, oldest name first; in-progress `*.tmp` files and `archive/` are ignored."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        (path for path in landing_dir.iterdir() if path.is_file() and path.name.endswith(LANDED_SUFFIX)),
        key=lambda path: path.name,
    )
