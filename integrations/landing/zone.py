"""The landing zone: producers drop JSON Lines files atomically, the run lists what is waiting.

Only regular `*.jsonl` files directly inside the landing directory are landed files. Nothing is followed:
a symlink (to a file outside the data home, say) is reported and never read. Everything else that does not
belong there — other files (`leads.json`), folders other than `archive/`, `*.jsonl.tmp` files no producer
has touched for STALE_TEMPORARY_SECONDS — is reported as a leftover, so a producer's mistake is seen
instead of waiting silently forever.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LANDED_SUFFIX = ".jsonl"
TEMPORARY_SUFFIX = ".jsonl.tmp"
ARCHIVE_DIR_NAME = "archive"
# A producer writes a temporary file in seconds; one untouched for an hour belongs to a producer that died.
STALE_TEMPORARY_SECONDS = 3_600


def _as_line(event: Mapping[str, Any] | str) -> str:
    if isinstance(event, str):
        if "\n" in event.rstrip("\n"):
            raise ValueError("a JSON Lines line cannot contain a newline; pass one event per line")
        return event.rstrip("\n")
    return json.dumps(event, ensure_ascii=False, default=str)


def _landing_target(landing_dir: Path, name: str | None) -> tuple[Path, Path]:
    """(final, temporary) paths for a landed file; `name` defaults to a UTC timestamp plus a random suffix,
    which sorts landed files by arrival."""
    stem = (
        name.removesuffix(LANDED_SUFFIX)
        if name
        else f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    )
    if not stem or "/" in stem or os.sep in stem:
        raise ValueError(f"file name must be a plain name inside the landing directory, got {name!r}")
    return landing_dir / f"{stem}{LANDED_SUFFIX}", landing_dir / f"{stem}{TEMPORARY_SUFFIX}"


def write_events_atomically(
    landing_dir: Path, events_or_lines: Iterable[Mapping[str, Any] | str], name: str | None = None
) -> Path:
    """Write one JSON Lines file so the run never sees it half-written: `*.jsonl.tmp`, then a rename.

    Items are event dicts (serialized as JSON) or lines already serialized (written as they are, so
    tests can land malformed lines).
    """
    landing_dir.mkdir(parents=True, exist_ok=True)
    final, temporary = _landing_target(landing_dir, name)
    with temporary.open("w", encoding="utf-8", newline="\n") as handle:
        for item in events_or_lines:
            handle.write(_as_line(item) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    # os.replace is atomic within one file system: a reader sees no file or the whole file.
    os.replace(temporary, final)
    return final


def land_bytes_atomically(landing_dir: Path, content: bytes, name: str | None = None) -> Path:
    """Land a file's bytes unchanged (`*.jsonl.tmp`, then a rename): no decoding, no re-splitting, so a
    line the ingest would quarantine (invalid UTF-8, a U+2028 inside a string) arrives exactly as sent.
    A last line without a newline gets one, because the file is complete."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    final, temporary = _landing_target(landing_dir, name)
    if content and not content.endswith(b"\n"):
        content += b"\n"
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    return final


@dataclass(frozen=True)
class Leftover:
    """Something in the landing directory that is not a landed file and will never be ingested."""

    name: str
    kind: str  # symlink | folder | unknown_file | stale_temporary_file | not_a_regular_file
    detail: str


@dataclass(frozen=True)
class LandingScan:
    files: list[Path]
    leftovers: list[Leftover]


def scan_landing_zone(
    landing_dir: Path, *, now: float | None = None, stale_after_seconds: float = STALE_TEMPORARY_SECONDS
) -> LandingScan:
    """Landed files (oldest name first) and leftovers, without following any symlink.

    In-progress `*.jsonl.tmp` files and the `archive/` folder are expected and not reported.
    """
    if not landing_dir.is_dir():
        return LandingScan(files=[], leftovers=[])
    now = time.time() if now is None else now
    files: list[Path] = []
    leftovers: list[Leftover] = []
    with os.scandir(landing_dir) as entries:
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                leftovers.append(Leftover(name, "symlink", "symlinks are not followed; land a copy"))
            elif entry.is_dir(follow_symlinks=False):
                if name != ARCHIVE_DIR_NAME:
                    leftovers.append(
                        Leftover(name, "folder", "folders are not searched; land files directly")
                    )
            elif not entry.is_file(follow_symlinks=False):
                leftovers.append(Leftover(name, "not_a_regular_file", "only regular files are read"))
            elif name.endswith(LANDED_SUFFIX):
                files.append(Path(entry.path))
            elif name.endswith(TEMPORARY_SUFFIX):
                idle = now - entry.stat(follow_symlinks=False).st_mtime
                if idle > stale_after_seconds:
                    leftovers.append(
                        Leftover(
                            name,
                            "stale_temporary_file",
                            f"untouched for {idle / 60:,.0f} min: its producer never renamed it to *.jsonl",
                        )
                    )
            else:
                leftovers.append(Leftover(name, "unknown_file", f"only *{LANDED_SUFFIX} files are ingested"))
    files.sort(key=lambda path: path.name)
    leftovers.sort(key=lambda leftover: leftover.name)
    return LandingScan(files=files, leftovers=leftovers)


def list_landed_files(landing_dir: Path) -> list[Path]:
    """Complete landed files, oldest name first (see scan_landing_zone for what is left out)."""
    return scan_landing_zone(landing_dir).files


@dataclass(frozen=True)
class LandedContent:
    content: bytes
    modified_at: float  # seconds since the epoch


def read_landed_file(path: Path) -> LandedContent:
    """The bytes of a landed file, refusing a symlink swapped in after the scan (O_NOFOLLOW) and anything
    that is not a regular file (O_NONBLOCK: opening a FIFO must not hang the run)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return LandedContent(content=handle.read(), modified_at=status.st_mtime)


def unfinished_last_line(content: bytes) -> bytes | None:
    """The last line when it has no newline and is not a complete JSON value: a producer still writing
    (or one that died mid-line). None when the file ends with a newline or its last line parses."""
    tail = content.rpartition(b"\n")[2].removeprefix(b"\xef\xbb\xbf")
    if not tail.strip():
        return None
    try:
        json.loads(tail.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError too: a character cut in half
        return tail
    return None
