"""The landing zone: the folder producers drop JSON Lines files into (write `*.tmp`, then rename)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from assets.ingest.ingest import PARTIAL_LINE_TIMEOUT_SECONDS
from integrations.landing.zone import STALE_TEMPORARY_SECONDS, LandingScan, scan_landing_zone


class LandingZone(ConfigurableResource):
    """Where inbound event files land, and where ingested ones are archived."""

    path: str
    # How long a file whose last line has no newline waits for its producer to finish that line.
    partial_line_timeout_seconds: float = PARTIAL_LINE_TIMEOUT_SECONDS
    # After how long an untouched `*.jsonl.tmp` is reported as left behind by a producer that died.
    stale_temporary_seconds: float = STALE_TEMPORARY_SECONDS

    @property
    def directory(self) -> Path:
        return Path(self.path)

    @property
    def archive_dir(self) -> Path:
        return self.directory / "archive"

    def scan(self) -> LandingScan:
        """Landed files and leftovers (unknown files, folders, symlinks, stale temporary files)."""
        return scan_landing_zone(self.directory, stale_after_seconds=self.stale_temporary_seconds)

    def pending_files(self, names: list[str] | None = None) -> list[Path]:
        """Landed files still waiting; restricted to `names` when a sensor launched the run for them."""
        landed = self.scan().files
        if not names:
            return landed
        wanted = set(names)
        return [path for path in landed if path.name in wanted]
