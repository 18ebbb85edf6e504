"""The dbt project as Dagster assets: analysts' rules (seeds + SQL) become lineage and blocking checks.

`prepare_if_dev` only builds the manifest under `dagster dev`; the CLI, the daemon's code server, tests and
CI import these definitions too, so the manifest is (re)built here whenever it is missing, older than any
file of the dbt project, or was parsed for another routing policy folder.
"""

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtProject,
    dbt_assets,
)
from dagster_duckdb import DuckDBResource

from assets.decisions.rules_version import rules_version
from dagster_project.dbt_in_process import dbt_build_in_process
from dagster_project.settings import DBT_PROJECT_DIR, load_settings

_PROJECT_FILE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}
_STAMP_NAME = "leadops_manifest.stamp"


def _project_fingerprint(project_dir: Path, policy_dir: str) -> str:
    """Names, sizes and mtimes of every file that shapes the manifest, plus the policy folder and profile.

    The warehouse path is part of the rendered profile: dbt refuses to reuse partial-parse state when the
    profile changed, and a stale base state would make every run pay a full parse (about 7 s).
    """
    digest = hashlib.sha256(policy_dir.encode())
    digest.update(os.environ.get("LEADOPS_WAREHOUSE_PATH", "").encode())
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


def ensure_manifest(project: DbtProject, policy_dir: str) -> Path:
    """Run `dbt parse` when the manifest is missing or stale; return the manifest path."""
    stamp = Path(project.project_dir) / project.target_path / _STAMP_NAME
    fingerprint = _project_fingerprint(Path(project.project_dir), policy_dir)
    if project.manifest_path.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return project.manifest_path
    dbt_executable = Path(sys.executable).parent / "dbt"
    command = [str(dbt_executable) if dbt_executable.exists() else "dbt", "parse", "--quiet"]
    completed = subprocess.run(
        [*command, "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)],
        cwd=project.project_dir,
        env={**os.environ, "LEADOPS_POLICY_DIR": policy_dir},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not project.manifest_path.exists():
        raise RuntimeError(
            "dbt parse failed; fix the dbt project before loading LeadOps:\n"
            + (completed.stdout + completed.stderr).strip()
        )
    stamp.write_text(fingerprint)
    return project.manifest_path


class LeadOpsDbtTranslator(DagsterDbtTranslator):
    """Groups dbt nodes by layer so the UI reads landing → staging → intermediate → marts."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None):
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self.get_resource_props(manifest, unique_id)
        if node["resource_type"] == "source":
            return spec
        layer = "rules" if node["resource_type"] == "seed" else node["fqn"][1]
        return spec.replace_attributes(group_name=f"dbt_{layer}")


settings = load_settings()
leadops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
ensure_manifest(leadops_dbt_project, settings.policy_dir)
# Source tests stay dbt-side (they still fail `dbt build`, which blocks outbound). As Dagster checks on the
# raw asset they would drop the blocking GX gate from the dbt step's dependencies (seen in dagster 1.13.27:
# the dbt step then ran before raw_inbound_events_meet_contract).
dbt_translator = LeadOpsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


RULES_BUILDS_DDL = """
create schema if not exists ops;
create table if not exists ops.dbt_rules_builds (rules_version varchar not null, built_at timestamp not null)
"""


# dbt runs in two steps around the model interpretation of lead messages: the rules decide first
# (everything up to int_classify_lead_intents), a model reads only the messages they could not decide
# (assets/intent), then the decision models run. The split is by dbt selection, so the SQL stays one project.
DECIDE_SELECTION = "stg_interpretation__lead_interpretations+ int_decide_lead_intents+"


class DecideStepTranslator(LeadOpsDbtTranslator):
    """The decide step takes no Dagster dependency on seeds: the prepare step skips seeds when the rules
    are unchanged, and Dagster skips every step downstream of an output a run did not produce."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None):
        spec = super().get_asset_spec(manifest, unique_id, project)
        seed_keys = {
            super(DecideStepTranslator, self).get_asset_spec(manifest, seed_id, project).key
            for seed_id in manifest["nodes"]
            if seed_id.startswith("seed.")
        }
        return spec.replace_attributes(deps=[dep for dep in spec.deps if dep.asset_key not in seed_keys])


decide_translator = DecideStepTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=leadops_dbt_project.manifest_path,
    project=leadops_dbt_project,
    dagster_dbt_translator=dbt_translator,
    name="leadops_dbt_models",
    exclude=DECIDE_SELECTION,
)
def leadops_dbt_models(context: AssetExecutionContext, warehouse: DuckDBResource) -> Iterator[Any]:
    """The prepare step: identify, match, enrich, apply the intent rules; and the rules (seeds) whenever
    they changed.

    An error-severity test failure fails the step, so nothing downstream (outbound) runs. Seeds and the ~50
    tests that read them are rebuilt only when the rules changed since the last full build (their content
    hash, `rules_version`): unchanged, they cost ~5 s of a ~15 s build for nothing.
    """
    version = rules_version(DBT_PROJECT_DIR, settings.policy_dir)
    with warehouse.get_connection() as con:
        con.execute(RULES_BUILDS_DDL)
        last = con.execute(
            "select rules_version from ops.dbt_rules_builds order by built_at desc limit 1"
        ).fetchone()
    # Unit tests prove the rules in CI (`make test`); a production run only needs the data tests.
    extra_args = ["--exclude-resource-type", "unit_test"]
    rules_unchanged = last is not None and last[0] == version
    if rules_unchanged:
        extra_args += ["--exclude", "resource_type:seed"]
    context.log.info(
        f"rules {version}: {'unchanged, seeds skipped' if rules_unchanged else 'building seeds'}"
    )
    yield from dbt_build_in_process(context, leadops_dbt_project, dbt_translator, extra_args=extra_args)
    if not rules_unchanged and _built_everything(context):
        with warehouse.get_connection() as con:
            con.execute("insert into ops.dbt_rules_builds values (?, current_timestamp)", [version])


@dbt_assets(
    manifest=leadops_dbt_project.manifest_path,
    project=leadops_dbt_project,
    dagster_dbt_translator=decide_translator,
    name="leadops_dbt_decisions",
    select=DECIDE_SELECTION,
)
def leadops_dbt_decisions(context: AssetExecutionContext) -> Iterator[Any]:
    """The decide step: intents (rules, then confident model readings), routing rules, decisions with
    overrides, review queue and the CRM payload, with their tests."""
    extra_args = ["--exclude-resource-type", "unit_test", "--exclude", "resource_type:seed"]
    yield from dbt_build_in_process(context, leadops_dbt_project, decide_translator, extra_args=extra_args)


def _built_everything(context: AssetExecutionContext) -> bool:
    """Only a build of every dbt asset vouches for the rules; a subset picked in the UI does not."""
    return set(context.selected_asset_keys) == set(context.assets_def.keys)


def dbt_model_key(model_name: str) -> AssetKey:
    """The asset key of a dbt model or seed by name (keys carry the custom schema, e.g. marts/...)."""
    from dagster_dbt import get_asset_key_for_model

    for assets_def in (leadops_dbt_models, leadops_dbt_decisions):
        try:
            return get_asset_key_for_model([assets_def], model_name)
        except KeyError:
            continue
    raise KeyError(f"no dbt model or seed named {model_name!r}")
