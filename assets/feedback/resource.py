"""The feedback landing zone: where the CRM connector and people's tools drop outcome files."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from integrations.landing.zone import STALE_TEMPORARY_SECONDS, LandingScan, scan_landing_zone


class FeedbackZone(ConfigurableResource):
    """$LEADOPS_HOME/feedback: JSON Lines outcome files, written `*.jsonl.tmp` then renamed (atomic)."""

    path: str
    stale_temporary_seconds: float = STALE_TEMPORARY_SECONDS

    @property
    def directory(self) -> Path:
        return Path(self.path)

    @property
    def archive_dir(self) -> Path:
        return self.directory / "archive"

    def scan(self) -> LandingScan:
        return scan_landing_zone(self.directory, stale_after_seconds=self.stale_temporary_seconds)

    def pending_files(self, names: list[str] | None = None) -> list[Path]:
        landed = self.scan().files
        if not names:
            return landed
        wanted = set(names)
        return [path for path in landed if path.name in wanted]
