"""The operator's overrides file, `$LEADOPS_HOME/overrides/overrides.csv`: appended by the CLI, edited by
hand, read whole by the run and hashed by the sensor.

The run is the warehouse's only writer, so operators never write DuckDB: they write this file, and the next
run loads it. Appends and reads take a lock file beside it, and each append is one `write` of whole lines
followed by fsync, so a reader never sees half a line and two operators appending at once never interleave.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from integrations.overrides_file.contract import (
    HEADER_LINE,
    InvalidOverride,
    Override,
    OverridesFileError,
    ParsedOverrides,
    parse_overrides,
    render_csv_line,
)

OVERRIDES_DIR_NAME = "overrides"
OVERRIDES_FILE_NAME = "overrides.csv"


def overrides_path(home: Path) -> Path:
    """Where a data home keeps its overrides file (computed from `Settings.home`)."""
    return home / OVERRIDES_DIR_NAME / OVERRIDES_FILE_NAME


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the file's lock: exclusive to append, shared to read. Hand edits in an editor take no lock;
    editors save whole files, which the reader then sees whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class OverridesSnapshot:
    """The file's bytes at one instant; `content` is None when there is no file (= no overrides)."""

    path: str
    content: bytes | None

    @property
    def exists(self) -> bool:
        return self.content is not None

    @property
    def content_sha256(self) -> str:
        # A missing file and an empty one both mean "no overrides" and hash alike.
        return hashlib.sha256(self.content or b"").hexdigest()

    def text(self) -> str | None:
        return None if self.content is None else _decode(self.content, Path(self.path))


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OverridesFileError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV"
        ) from error


def read_snapshot(path: Path) -> OverridesSnapshot:
    if not path.exists():
        return OverridesSnapshot(str(path), None)
    with locked(path, exclusive=False):
        try:
            return OverridesSnapshot(str(path), path.read_bytes())
        except FileNotFoundError:
            return OverridesSnapshot(str(path), None)


def append_override(path: Path, override: Override, now: datetime | None = None) -> ParsedOverrides:
    """Append one override after validating it against the whole file as it is under the lock.

    Raises `InvalidOverride` (nothing written) when the new line would be rejected by the run, e.g. a
    revoke of an unknown id. Returns the file as parsed with the new line.
    """
    line = render_csv_line(override)
    with locked(path, exclusive=True):
        existing = _decode(path.read_bytes(), path) if path.exists() else ""
        starts_file = not existing.strip()
        if starts_file:
            # No file, or only blanks in it: start it with the header rather than append behind blanks.
            existing, prefix = "", HEADER_LINE + "\n"
        elif not existing.endswith("\n"):
            # A hand edit saved without a final newline: without this the new row would join its last line.
            prefix = "\n"
        else:
            prefix = ""
        candidate_text = existing + prefix + line
        parsed = parse_overrides(candidate_text, now=now)
        new_line_number = candidate_text.count("\n")
        problem = next((r.reason for r in parsed.rejected if r.line_number == new_line_number), None)
        if problem is not None:
            raise InvalidOverride(problem)
        payload = (prefix + line).encode("utf-8")
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if starts_file else os.O_APPEND)
        descriptor = os.open(path, flags, 0o644)
        try:
            written = os.write(descriptor, payload)
            if written != len(payload):
                raise OSError(f"short write to {path}: {written} of {len(payload)} bytes")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return parsed
