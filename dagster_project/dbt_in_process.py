"""Runs `dbt build` inside the run process instead of a dbt subprocess.

Measured on the reference machine: `DbtCliResource.cli` spent about 10 s between step start and dbt's first
log line (a `dbt --version` subprocess, a second load of the project and its ~500 macros for the adapter
handle, then a fresh Python for dbt), against ~16 s of actual dbt work. dbt's programmatic `dbtRunner` in
this process skips all of that. dbt's structured events are the same ones the CLI prints as JSON, so
dagster-dbt's own translation turns them into materializations and (blocking) asset check results.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Failure
from dagster_dbt import DagsterDbtTranslator, DbtProject
from dagster_dbt.asset_utils import DBT_INDIRECT_SELECTION_ENV, get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from assets.decisions.rules_version import rules_version

# dbt events that carry a node's result; everything else is progress chatter.
_RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}
# Each run writes its dbt log (and parse state) to its own folder; older ones are pruned.
_KEEP_RUN_TARGETS = 20
# No manifest.json or run_results.json per step: dbt wrote the ~2 MB manifest twice per invocation (~1 s
# each on 2 cores), and nothing reads them; node results arrive as events and the log keeps them.
_NO_ARTEFACTS = "--no-write-json"
_PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# What dbt's profile and project read from the environment (dbt.py `_share_with_dbt` sets them per step).
_DBT_ENVIRONMENT = ("LEADOPS_WAREHOUSE_PATH", "LEADOPS_POLICY_DIR")
# The parsed project, kept for the life of the process: a warm process (warm_launcher.py) parses once and
# its forked runs build from that manifest, and any other process parses at its first dbt step and reuses
# the result while the environment and the project's files are unchanged. A dbt step then skips dbt's own
# parse (1–1.5 s partial, 4–7 s cold, per step, twice a run).
_warm: dict[str, Any] = {}


def _prepare_target(project: DbtProject, run_id: str, step_name: str) -> Path:
    base = Path(project.project_dir) / project.target_path
    runs = base / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for stale in sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[:-_KEEP_RUN_TARGETS]:
        shutil.rmtree(stale, ignore_errors=True)
    # One folder per run and dbt step: a run builds dbt twice (prepare, then decide).
    target = runs / f"{run_id[:8]}-{step_name}"
    target.mkdir(exist_ok=True)
    # Reuse the parse state `dbt parse` left beside the manifest: without it dbt re-parses everything.
    if (base / _PARTIAL_PARSE_FILE).exists() and not (target / _PARTIAL_PARSE_FILE).exists():
        shutil.copyfile(base / _PARTIAL_PARSE_FILE, target / _PARTIAL_PARSE_FILE)
    return target


def _keep_parse_state(project: DbtProject, target: Path) -> None:
    """Hand this run's parse state to the next run.

    dbt throws partial-parse state away when the environment it was made in differs (another warehouse
    path, an env var another tool left unset); a full parse then costs ~5 s on every run. The state of the
    last successful run always matches how runs are made here.
    """
    produced = target / _PARTIAL_PARSE_FILE
    if produced.exists():
        base = Path(project.project_dir) / project.target_path
        temporary = base / f"{_PARTIAL_PARSE_FILE}.{target.name}.tmp"
        shutil.copyfile(produced, temporary)
        os.replace(temporary, base / _PARTIAL_PARSE_FILE)


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open in-process; the run's next steps open the same file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def preload_manifest(project: DbtProject, environment: dict[str, str]) -> None:
    """Parse the project in this process with the environment its dbt steps give dbt."""
    from dbt.cli.main import dbtRunner

    os.environ.update(environment)
    target = _prepare_target(project, f"warm{os.getpid()}", "parse")
    try:
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
                "--target-path",
                str(target),
                "--log-path",
                str(target),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
    if result.success:
        _warm.update(manifest=result.result, made_for=_parse_inputs(project))
        _keep_parse_state(project, target)


def _parse_inputs(project: DbtProject) -> tuple[Any, ...]:
    """What a parsed manifest depends on: the environment dbt reads and the content of the project's
    files (rules_version hashes the SQL, YAML, seeds and the policy folder; ~5 ms)."""
    environment = tuple(os.environ.get(name) for name in _DBT_ENVIRONMENT)
    policy_dir = os.environ.get("LEADOPS_POLICY_DIR")
    fingerprint = rules_version(Path(project.project_dir), policy_dir) if policy_dir else None
    return (*environment, fingerprint)


def _parsed_manifest(project: DbtProject):
    """This process's parsed manifest for the step's environment and files, parsing once when there is
    none; None when the parse fails (dbt's own invocation then reports why)."""
    if not _warm or _warm["made_for"] != _parse_inputs(project):
        _warm.clear()
        preload_manifest(project, {})
    return _warm.get("manifest")


def dbt_build_in_process(
    context: AssetExecutionContext,
    project: DbtProject,
    translator: DagsterDbtTranslator,
    extra_args: Sequence[str] = (),
) -> Iterator[Any]:
    """`dbt build` for the selected dbt assets; yields their events and fails the step on any error."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest=_load_manifest(project), dagster_dbt_translator=translator
    )
    target = _prepare_target(project, context.run.run_id, context.assets_def.node_def.name)
    raw_events: list[dict[str, Any]] = []

    def collect(message) -> None:
        if message.info.name in _RESULT_EVENTS:
            raw_events.append(msg_to_dict(message))

    previous_indirect = os.environ.get(DBT_INDIRECT_SELECTION_ENV)
    if params.indirect_selection:
        os.environ[DBT_INDIRECT_SELECTION_ENV] = params.indirect_selection
    try:
        result = dbtRunner(manifest=_parsed_manifest(project), callbacks=[collect]).invoke(
            [
                "build",
                _NO_ARTEFACTS,
                *extra_args,
                *params.selection_args,
                "--project-dir",
                str(params.dbt_project.project_dir if params.dbt_project else project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
                "--target-path",
                str(target),
                "--log-path",
                str(target),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
        if previous_indirect is None:
            os.environ.pop(DBT_INDIRECT_SELECTION_ENV, None)
        else:
            os.environ[DBT_INDIRECT_SELECTION_ENV] = previous_indirect

    source_tests = _source_only_tests(params.manifest)
    for raw_event in raw_events:
        if raw_event.get("data", {}).get("node_info", {}).get("unique_id") in source_tests:
            # Tests on sources guard assets other steps own; their failures still fail the build above.
            # As events they would only turn into observations with a warning each.
            continue
        event = DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=target,
            project=project,
        )
    if not result.success:
        raise Failure(description=_failure_description(result, raw_events))
    _keep_parse_state(project, target)


def dbt_audit_in_process(project: DbtProject, selection: str, run_id: str) -> tuple[int, list[str]]:
    """`dbt test` for the selected tests: (how many ran, one line per failure)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    target = _prepare_target(project, run_id, "audit")
    results: list[dict[str, Any]] = []

    def collect(message) -> None:
        if message.info.name == "LogTestResult":
            results.append(msg_to_dict(message))

    try:
        result = dbtRunner(manifest=_parsed_manifest(project), callbacks=[collect]).invoke(
            [
                "test",
                _NO_ARTEFACTS,
                "--select",
                selection,
                "--project-dir",
                str(project.project_dir),
                "--profiles-dir",
                str(project.profiles_dir),
                "--target-path",
                str(target),
                "--log-path",
                str(target),
                "--quiet",
            ]
        )
    finally:
        _release_duckdb()
    failures = [] if result.success else _failure_description(result, results).splitlines()[1:-1]
    return len(results), failures


def _source_only_tests(manifest: dict[str, Any]) -> set[str]:
    return {
        unique_id
        for unique_id, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "test"
        and node.get("depends_on", {}).get("nodes")
        and all(dep.startswith("source.") for dep in node["depends_on"]["nodes"])
    }


def _load_manifest(project: DbtProject) -> dict[str, Any]:
    import json

    return json.loads(project.manifest_path.read_text())


def _failure_description(result, raw_events: list[dict[str, Any]]) -> str:
    failed = []
    for raw_event in raw_events:
        node_info = raw_event.get("data", {}).get("node_info", {})
        if node_info.get("node_status") in ("error", "fail", "runtime error"):
            failed.append(f"{node_info.get('unique_id')}: {raw_event.get('info', {}).get('msg', '').strip()}")
    if result.exception is not None:
        failed.append(f"dbt raised: {result.exception}")
    listing = "\n".join(f"- {line}" for line in failed[:20]) or "- (no node result; see the run's dbt log)"
    return (
        "dbt build failed; outbound writes are blocked until it passes.\n"
        f"{listing}\nThe full dbt log is in dbt_project/target/runs/."
    )
