"""Every path and tunable of a LeadOps installation, read from the environment in one place.

dbt runs from its own folder, so a relative warehouse path would point dbt and Dagster at two different
files: every path here is made absolute, and `export_environment` hands the same values to dbt.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_POLICY_DIR = "policies/default"

# Telemetry off everywhere, before any of these libraries is imported by a caller.
_TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}
for _name, _value in _TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)


def reader_copy_of(warehouse_path: Path) -> Path:
    """Where the read-only copy of a warehouse file is published (beside it)."""
    return warehouse_path.with_name(f"{warehouse_path.stem}.readonly.duckdb")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from error


@dataclass(frozen=True)
class Settings:
    home: Path
    policy_dir: str
    sensor_interval_seconds: int
    safety_net_cron: str

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("LEADOPS_HOME") or REPO_ROOT / ".leadops").expanduser().resolve()
        return cls(
            home=home,
            policy_dir=os.environ.get("LEADOPS_POLICY_DIR") or DEFAULT_POLICY_DIR,
            sensor_interval_seconds=_int_env("LEADOPS_SENSOR_INTERVAL_SECONDS", 5),
            safety_net_cron=os.environ.get("LEADOPS_SAFETY_NET_CRON") or "*/15 * * * *",
        )

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def archive_dir(self) -> Path:
        return self.landing_dir / "archive"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def reader_warehouse_path(self) -> Path:
        """The copy published after each successful run; CLI readers never touch the live file."""
        return reader_copy_of(self.warehouse_path)

    @property
    def crm_path(self) -> Path:
        return self.home / "crm.sqlite"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster").resolve()

    def prepare_home(self) -> None:
        """Create the data home and a DAGSTER_HOME whose dagster.yaml turns telemetry off."""
        for directory in (self.landing_dir, self.archive_dir, self.dagster_home):
            directory.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            shutil.copyfile(REPO_ROOT / "dagster.yaml", instance_yaml)

    def export_environment(self) -> None:
        """Share the one warehouse path and the policy folder with dbt and Dagster child processes."""
        os.environ["LEADOPS_HOME"] = str(self.home)
        os.environ["LEADOPS_WAREHOUSE_PATH"] = str(self.warehouse_path)
        os.environ["LEADOPS_POLICY_DIR"] = self.policy_dir
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)


def load_settings() -> Settings:
    settings = Settings.from_env()
    settings.export_environment()
    return settings
