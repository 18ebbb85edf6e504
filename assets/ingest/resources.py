"""The landing zone: the folder producers drop JSON Lines files into (write `*.tmp`, then rename)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from integrations.landing.zone import list_landed_files


class LandingZone(ConfigurableResource):
    """Where inbound event files land, and where ingested ones are archived."""

    path: str

    @property
    def directory(self) -> Path:
        return Path(self.path)

    @property
    def archive_dir(self) -> Path:
        return self.directory / "archive"

    def pending_files(self, names: list[str] | None = None) -> list[Path]:
        """Landed files still waiting; restricted to `names` when a sensor launched the run for them."""
        landed = list_landed_files(self.directory)
        if not names:
            return landed
        wanted = set(names)
        return [path for path in landed if path.name in wanted]
