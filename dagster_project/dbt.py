"""The dbt project as Dagster assets: analysts' rules (seeds + SQL) become lineage and blocking checks.

Importing this module reads the manifest and runs nothing. `make setup`, the CLI and the tests prepare the
manifest (`dagster_project.dbt_manifest.ensure_manifest`); under `dagster dev`, `prepare_if_dev` re-parses
it on every code reload, so an edited model shows after "Reload definitions".
"""

import os
from collections.abc import Iterator, Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Failure, MetadataValue, OpExecutionContext, Output, op
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets
from dagster_duckdb import DuckDBResource

from assets.decisions.rules_version import RulesResource
from dagster_project.dbt_in_process import dbt_audit_in_process, dbt_build_in_process, preload_manifest
from dagster_project.dbt_manifest import ManifestMissingError
from dagster_project.settings import DBT_PROJECT_DIR, current_settings
from dagster_project.source_tables import ensure_python_source_tables


class LeadOpsDbtTranslator(DagsterDbtTranslator):
    """Groups dbt nodes by layer so the UI reads landing → staging → intermediate → marts."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None):
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self.get_resource_props(manifest, unique_id)
        if node["resource_type"] == "source":
            return spec
        layer = "rules" if node["resource_type"] == "seed" else node["fqn"][1]
        return spec.replace_attributes(group_name=f"dbt_{layer}")


leadops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
leadops_dbt_project.prepare_if_dev()
if not leadops_dbt_project.manifest_path.exists():
    raise ManifestMissingError(
        f"no dbt manifest at {leadops_dbt_project.manifest_path}: run `make setup` (or `leadops prepare`)"
    )
# Source tests stay dbt-side (they still fail `dbt build`, which blocks outbound). As Dagster checks on the
# raw asset they would drop the blocking GX gate from the dbt step's dependencies (seen in dagster 1.13.27:
# the dbt step then ran before raw_inbound_events_meet_contract).
dbt_translator = LeadOpsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# One row per full build of a dbt step, by the rules version it built. `step` came later: rows without it
# were written by the prepare step, the only one that recorded builds then.
RULES_BUILDS_DDL = """
create schema if not exists ops;
create table if not exists ops.dbt_rules_builds (rules_version varchar not null, built_at timestamp not null);
alter table ops.dbt_rules_builds add column if not exists step varchar default 'leadops_dbt_models'
"""


# dbt runs in two steps around the model interpretation of lead messages: the rules decide first
# (everything up to int_classify_lead_intents), a model reads only the messages they could not decide
# (assets/interpretation), then the decision models run. dbt_project.yml tags the decision models `decide`,
# so a new model joins a step by its folder's or its own config, and the SQL stays one project.
DECIDE_SELECTION = "tag:decide"
# Tests that guard nothing a micro-batch can break (whole-history audits, relationships that hold by
# construction, the CRM's own data) are tagged `audit`: they leave the process_leads steps (each dbt node
# costs per-node overhead on a batch of one lead) and run in the scheduled `audit_warehouse` job instead.
AUDIT_SELECTION = "tag:audit"
# The outcome models (speed-to-lead, routing accuracy, workload, calibration) aggregate whole history and
# nothing a batch writes reads them: they build in `process_outcomes`, on feedback and on a schedule. By
# folder, not by the `outcomes` tag: the feedback staging views carry that tag too, and lead_timeline,
# which a batch does build, reads two of them.
OUTCOMES_SELECTION = "path:models/intermediate/outcomes path:models/marts/outcomes"


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
    exclude=f"{DECIDE_SELECTION} {AUDIT_SELECTION}",
)
def leadops_dbt_models(
    context: AssetExecutionContext, warehouse: DuckDBResource, rules: RulesResource
) -> Iterator[Any]:
    """The prepare step: identify, match, enrich, apply the intent rules; and the rules (seeds) whenever
    they changed.

    An error-severity test failure fails the step, so nothing downstream (outbound) runs. Seeds, views and
    the tests that read them are rebuilt only when the rules changed since the step's last full build (see
    `_skip_what_the_rules_fix`).
    """
    _share_with_dbt(warehouse, rules)
    with warehouse.get_connection() as con:
        ensure_python_source_tables(con)
    yield from _build_step(context, warehouse, rules, dbt_translator, skip_seeds=True)


@dbt_assets(
    manifest=leadops_dbt_project.manifest_path,
    project=leadops_dbt_project,
    dagster_dbt_translator=decide_translator,
    name="leadops_dbt_decisions",
    select=DECIDE_SELECTION,
    exclude=f"{AUDIT_SELECTION} {OUTCOMES_SELECTION}",
)
def leadops_dbt_decisions(
    context: AssetExecutionContext, warehouse: DuckDBResource, rules: RulesResource
) -> Iterator[Any]:
    """The decide step: intents (rules, then confident model readings), routing rules, decisions with
    overrides, review queue and the CRM payload, with their tests."""
    _share_with_dbt(warehouse, rules)
    # No seed carries the tag, so none is built here. Excluding seeds explicitly would also drop, through
    # dbt's indirect selection, every test that reads one (relationships_lead_decisions_rule_id reads
    # routing_rules): those blocking checks then reported no result in either step.
    yield from _build_step(context, warehouse, rules, decide_translator, skip_seeds=False)


@dbt_assets(
    manifest=leadops_dbt_project.manifest_path,
    project=leadops_dbt_project,
    dagster_dbt_translator=decide_translator,
    name="leadops_dbt_outcomes",
    select=OUTCOMES_SELECTION,
    exclude=AUDIT_SELECTION,
)
def leadops_dbt_outcomes(
    context: AssetExecutionContext, warehouse: DuckDBResource, rules: RulesResource
) -> Iterator[Any]:
    """The outcome marts and their tests, over every lead decided so far and every outcome stored."""
    _share_with_dbt(warehouse, rules)
    with warehouse.get_connection() as con:
        ensure_python_source_tables(con)
    extra_args = ["--exclude-resource-type", "unit_test"]
    yield from dbt_build_in_process(context, leadops_dbt_project, decide_translator, extra_args=extra_args)


def _build_step(
    context: AssetExecutionContext,
    warehouse: DuckDBResource,
    rules: RulesResource,
    translator: DagsterDbtTranslator,
    *,
    skip_seeds: bool,
) -> Iterator[Any]:
    """`dbt build` of the step's selection, minus what the rules alone determine when they are unchanged;
    records a full build of the rules version it ran."""
    version = rules.version()
    step = context.assets_def.node_def.name
    with warehouse.get_connection() as con:
        con.execute(RULES_BUILDS_DDL)
        last = con.execute(
            "select rules_version from ops.dbt_rules_builds where step = ? order by built_at desc limit 1",
            [step],
        ).fetchone()
        rules_unchanged = last is not None and last[0] == version and _built_everything(context)
        unchanged_views = _current_views(context, con, translator) if rules_unchanged else {}
    # Unit tests prove the rules in CI (`make test`); a production run only needs the data tests.
    extra_args = ["--exclude-resource-type", "unit_test"]
    skipped: list[str] = []
    if rules_unchanged and skip_seeds:
        skipped.append("resource_type:seed")
    if unchanged_views:
        skipped.append("config.materialized:view")
    if skipped:
        extra_args += ["--exclude", *skipped]
    context.log.info(
        f"rules {version}: "
        + (
            f"unchanged; {len(unchanged_views)} view(s){' and the seeds' if skip_seeds else ''} kept as built"
            if rules_unchanged
            else "changed or not yet built here: building everything selected"
        )
    )
    kept = [
        Output(
            None,
            output_name=context.assets_def.get_output_name_for_asset_key(key),
            metadata={"unchanged": MetadataValue.text(f"view as built for rules {version}; not re-created")},
        )
        for key in unchanged_views
    ]
    if not kept:
        yield from dbt_build_in_process(context, leadops_dbt_project, translator, extra_args=extra_args)
    else:
        yield from _in_lineage_order(context, translator, kept, extra_args)
    if not rules_unchanged and _built_everything(context):
        with warehouse.get_connection() as con:
            con.execute(
                "insert into ops.dbt_rules_builds (rules_version, built_at, step)"
                " values (?, current_timestamp, ?)",
                [version, step],
            )


def _in_lineage_order(
    context: AssetExecutionContext,
    translator: DagsterDbtTranslator,
    kept: list[Output],
    extra_args: list[str],
) -> Iterator[Any]:
    """The build's events and the kept views' outputs, merged in lineage order: a multi-asset must yield an
    asset after everything upstream of it, and the views sit between the tables dbt builds."""
    events: list[Any] = []
    failure: Failure | None = None
    try:
        events.extend(dbt_build_in_process(context, leadops_dbt_project, translator, extra_args=extra_args))
    except Failure as error:
        failure = error
    manifest, _, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    nodes = manifest["nodes"]
    graph = {uid: node.get("depends_on", {}).get("nodes", []) for uid, node in nodes.items()}
    position = {
        translator.get_asset_spec(manifest, uid, leadops_dbt_project).key: index
        for index, uid in enumerate(TopologicalSorter(graph).static_order())
        if uid in nodes and nodes[uid]["resource_type"] in ("model", "seed", "snapshot")
    }

    def lineage_position(event: Any) -> int:
        if isinstance(event, Output):
            key = context.asset_key_for_output(event.output_name)
        else:
            key = getattr(event, "asset_key", None)
        return position.get(key, -1)

    # Stable: a check result stays after the output of the asset it checks.
    yield from sorted([*kept, *events], key=lineage_position)
    if failure is not None:
        raise failure


def _current_views(
    context: AssetExecutionContext, con: Any, translator: DagsterDbtTranslator
) -> dict[AssetKey, dict[str, Any]]:
    """The step's views that exist in the warehouse, by asset key; none unless all of them exist.

    A view is SQL over live tables: while the rules (its SQL, the macros, the seeds) are those of the
    step's last full build, re-creating it changes nothing, yet costs a dbt node each, and so do the tests
    on it, which read whole history. They run again whenever the rules change, and every night in
    `audit_warehouse`; the tables a batch writes, and their tests, still build on every run.
    """
    manifest, _, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    selected = set(context.selected_asset_keys)
    views = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model" or node["config"].get("materialized") != "view":
            continue
        key = translator.get_asset_spec(manifest, unique_id, leadops_dbt_project).key
        if key in selected:
            views[key] = node
    existing = {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'VIEW'"
        ).fetchall()
    }
    if any((node["schema"], node["alias"] or node["name"]) not in existing for node in views.values()):
        return {}
    return views


# Every data test: the `audit`-tagged ones never run per batch, and the tests on views run per batch only
# when the rules change (`_current_views`), so the audit is where their whole-history reading happens.
EVERY_DATA_TEST = "resource_type:test"


@op(name="dbt_audit_tests", description="`dbt test` of every data test against the warehouse.")
def dbt_audit_tests(context: OpExecutionContext, warehouse: DuckDBResource, rules: RulesResource) -> Output:
    """Fails the run, listing every failing test, when one of the audits finds rows."""
    _share_with_dbt(warehouse, rules)
    ran, failures = dbt_audit_in_process(leadops_dbt_project, EVERY_DATA_TEST, context.run.run_id)
    if failures:
        raise Failure(
            description=f"{len(failures)} of {ran} warehouse audit test(s) failed:\n" + "\n".join(failures),
            metadata={"tests_run": ran, "failures": MetadataValue.md("\n".join(failures))},
        )
    return Output(ran, metadata={"tests_run": ran})


def _built_everything(context: AssetExecutionContext) -> bool:
    """Only a build of every dbt asset vouches for the rules; a subset picked in the UI does not."""
    return set(context.selected_asset_keys) == set(context.assets_def.keys)


def _share_with_dbt(warehouse: DuckDBResource, rules: RulesResource) -> None:
    """dbt's profile and project read the warehouse path and the policy folder from the environment: hand
    it the run's own values, so dbt writes the file the other steps of this run read."""
    os.environ["LEADOPS_WAREHOUSE_PATH"] = str(Path(warehouse.database).resolve())
    os.environ["LEADOPS_POLICY_DIR"] = rules.policy_dir


def warm_up_dbt() -> None:
    """Run once in the warm run process (warm_launcher.py): parse the project with the values
    `_share_with_dbt` will hand dbt, so forked runs build without parsing."""
    settings = current_settings()
    preload_manifest(
        leadops_dbt_project,
        {
            "LEADOPS_WAREHOUSE_PATH": str(Path(settings.warehouse_path).resolve()),
            "LEADOPS_POLICY_DIR": settings.policy_dir,
        },
    )
