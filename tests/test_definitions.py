"""The one Definitions object loads, and its asset and check keys match the reviewed snapshot."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

SNAPSHOT = Path(__file__).parent / "definitions_keys.txt"


def current_keys() -> list[str]:
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = [f"asset {key.to_user_string()}" for key in graph.get_all_asset_keys()]
    checks = [f"check {key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys]
    return sorted(assets + checks)


def test_definitions_load():
    from dagster_project.definitions import defs

    Definitions.validate_loadable(defs)


def test_asset_and_check_keys_match_the_snapshot():
    """A hand-written key that misses a dbt key creates a stray asset silently; this makes it loud.

    After an intended change: `python -c "import tests.test_definitions as t; t.write_snapshot()"`.
    """
    assert current_keys() == SNAPSHOT.read_text().split("\n")[:-1]


def test_every_dependency_is_materialized_by_this_code_location():
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    external = {
        key.to_user_string() for key in graph.get_all_asset_keys() if not graph.get(key).is_materializable
    }
    assert external == {"landing_zone"}


def test_job_runs_everything_but_external_assets():
    from dagster_project.definitions import defs

    job = defs.resolve_job_def("process_leads")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    for required in ("raw_inbound_events", "marts/lead_decisions", "ops/lead_state_log", "ops/crm_writes"):
        assert required in selected


def write_snapshot() -> None:
    SNAPSHOT.write_text("\n".join(current_keys()) + "\n")


def test_blocking_gates_come_before_what_they_guard():
    """The raw-events GX gate runs before dbt; outbound waits for the payload gate and the state-log audit."""
    # Dagster has no public API for the execution plan; this pins blocking semantics that the dbt
    # translator settings were seen to change.
    from dagster._core.execution.api import create_execution_plan

    from dagster_project.definitions import defs

    plan = create_execution_plan(defs.resolve_job_def("process_leads"))
    upstream = {
        step.key: set(step.get_execution_dependency_keys()) for step in plan.get_all_steps_in_topo_order()
    }
    assert "raw_inbound_events_raw_inbound_events_meet_contract" in upstream["leadops_dbt_models"]
    # The identity guard rails (blocking checks emitted by the identity step) come before dbt.
    assert "lead_identities" in upstream["leadops_dbt_models"]
    # Rules first, then the model, then the decisions: dbt runs in two steps around the interpretation.
    assert "leadops_dbt_models" in upstream["interpretation__lead_interpretations"]
    assert "interpretation__lead_interpretations" in upstream["leadops_dbt_decisions"]
    assert {
        "leadops_dbt_decisions",
        "marts__sync_crm_leads_outbound_payload_meets_contract",
        "ops__lead_state_log_only_allowed_transitions_logged",
    } <= upstream["ops__crm_writes"]
