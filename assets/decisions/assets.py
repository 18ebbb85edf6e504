"""Decision stage as Dagster assets: every decision becomes logged, allowed state transitions."""

from collections import Counter

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from assets.decisions.rules_version import RulesResource
from assets.decisions.state_machine import (
    append_transitions,
    current_states,
    find_disallowed_logged_transitions,
    load_allowed_transitions,
    logged_override_ids,
    plan_override_transitions,
    plan_transitions,
    read_transition_rows,
)

STATE_LOG_KEY = AssetKey(["ops", "lead_state_log"])
# dbt models' keys carry their schema (the `+schema` of their folder); a definitions test fails on any key
# that no asset of the code location produces, so a typo here cannot create a stray asset silently.
LEAD_DECISIONS_KEY = AssetKey(["marts", "lead_decisions"])
PIPELINE_ACTOR = "leadops-pipeline"


def _allowed_transitions(con):
    return load_allowed_transitions(read_transition_rows(con))


@asset(
    key=STATE_LOG_KEY,
    # Reads rules.lead_state_transitions too, but takes no dep on that seed: runs that find the rules
    # unchanged do not rebuild seeds, and Dagster skips whatever depends on an output that was not produced.
    deps=[LEAD_DECISIONS_KEY],
    group_name="decisions",
    kinds={"python", "duckdb"},
    description=(
        "Append-only log of lead state transitions (from, to, at, actor, evidence, rules version);"
        " the writer refuses any transition rules.lead_state_transitions does not allow."
    ),
)
def lead_state_log(
    context: AssetExecutionContext, warehouse: DuckDBResource, rules: RulesResource
) -> MaterializeResult:
    version = rules.version()
    with warehouse.get_connection() as con:
        table = _allowed_transitions(con)
        states = current_states(con)
        decisions = con.execute("select * from marts.lead_decisions order by first_received_at, lead_id").df()
        already_logged = logged_override_ids(con)
        pipeline_steps = []
        override_steps: dict[str, list] = {}
        for decision in decisions.to_dict("records"):
            state = states.get(decision["lead_id"])
            override_id = decision.get("override_id")
            if isinstance(override_id, str) and override_id not in already_logged:
                # An operator's override: logged once, with the operator as the actor.
                override_steps.setdefault(str(decision["decided_by"]), []).extend(
                    plan_override_transitions(state, decision, table=table)
                )
            else:
                pipeline_steps.extend(plan_transitions(state, decision, table=table))
        appended = append_transitions(con, pipeline_steps, table, actor=PIPELINE_ACTOR, rules_version=version)
        for actor, steps in sorted(override_steps.items()):
            appended += append_transitions(con, steps, table, actor=actor, rules_version=version)
        by_state = Counter(current_states(con).values())
        by_disposition = dict(
            con.execute("select disposition, count(*) from marts.lead_decisions group by 1").fetchall()
        )
    return MaterializeResult(
        metadata={
            "appended_transitions": appended,
            "rules_version": version,
            **{f"leads_{state}": int(count) for state, count in sorted(by_state.items())},
            **{f"decisions_{name}": int(count) for name, count in sorted(by_disposition.items())},
        }
    )


@asset_check(
    asset=STATE_LOG_KEY,
    name="only_allowed_transitions_logged",
    blocking=True,
    description="Audits the whole log against rules.lead_state_transitions (allowed pairs and evidence).",
)
def only_allowed_transitions_logged(
    context: AssetCheckExecutionContext, warehouse: DuckDBResource
) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        violations = find_disallowed_logged_transitions(con, _allowed_transitions(con))
    return AssetCheckResult(
        passed=not violations,
        metadata={"violations": len(violations), "examples": str(violations[:5])},
    )
