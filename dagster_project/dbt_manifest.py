"""Preparing the dbt manifest the Dagster definitions are built from: `make setup`, the CLI and the tests
call `ensure_manifest` before they load the definitions; nothing does at import."""

import hashlib
import subprocess
import sys
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR, Settings


class ManifestMissingError(RuntimeError):
    """The definitions were loaded before the dbt manifest was prepared."""


_PROJECT_FILE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}
_STAMP_NAME = "leadops_manifest.stamp"


def _project_fingerprint(project_dir: Path, policy_dir: str, warehouse_path: Path) -> str:
    """Names, sizes and mtimes of every file that shapes the manifest, plus the policy folder and profile.

    The warehouse path is part of the rendered profile: dbt refuses to reuse partial-parse state when the
    profile changed, and a stale base state would make every run pay a full parse (about 7 s).
    """
    digest = hashlib.sha256(policy_dir.encode())
    digest.update(str(warehouse_path).encode())
    for folder in ("models", "seeds", "macros", "tests", "policies", "snapshots", "analyses"):
        root = project_dir / folder
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix in _PROJECT_FILE_SUFFIXES and path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(project_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml"):
        path = project_dir / name
        if path.exists():
            digest.update(f"{name}:{path.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def ensure_manifest(settings: Settings) -> Path:
    """Run `dbt parse` when the manifest is missing or stale (any project file changed, another policy
    folder or warehouse); return the manifest path."""
    project_dir = DBT_PROJECT_DIR
    manifest_path = project_dir / "target" / "manifest.json"
    stamp = project_dir / "target" / _STAMP_NAME
    fingerprint = _project_fingerprint(project_dir, settings.policy_dir, settings.warehouse_path)
    if manifest_path.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return manifest_path
    # dbt's profile and project read the warehouse path and policy folder from the environment.
    settings.export_environment()
    dbt_executable = Path(sys.executable).parent / "dbt"
    command = [str(dbt_executable) if dbt_executable.exists() else "dbt", "parse", "--quiet"]
    completed = subprocess.run(
        [*command, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not manifest_path.exists():
        raise RuntimeError(
            "dbt parse failed; fix the dbt project before loading LeadOps:\n"
            + (completed.stdout + completed.stderr).strip()
        )
    stamp.write_text(fingerprint)
    return manifest_path


def main() -> None:
    """`python -m dagster_project.dbt_manifest`: what `make setup` runs."""
    print(ensure_manifest(Settings.from_env()))


if __name__ == "__main__":
    main()
