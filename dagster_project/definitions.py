"""The one Definitions object of LeadOps: assets per pipeline stage, checks, the job, sensor and schedule."""

from __future__ import annotations

from dagster import Definitions, in_process_executor
from dagster_duckdb import DuckDBResource

from assets.decisions.assets import lead_state_log, only_allowed_transitions_logged
from assets.ingest.assets import (
    crm_snapshot,
    landing_zone,
    raw_inbound_events,
    raw_inbound_events_meet_contract,
)
from assets.outbound.assets import crm_writes, no_parked_crm_writes, outbound_payload_meets_contract
from assets.publish import warehouse_reader_copy
from dagster_project.dbt import leadops_dbt_models
from dagster_project.jobs import process_leads_job, safety_net_schedule
from dagster_project.resources.crm import CrmResource
from dagster_project.resources.landing import LandingZone
from dagster_project.settings import Settings, load_settings
from sensors.new_leads import new_leads_sensor


def build_resources(settings: Settings) -> dict[str, object]:
    """Production resources for one data home; tests pass a temporary home or swap in fakes."""
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse_path)),
        "crm": CrmResource(database_path=str(settings.crm_path)),
        "landing": LandingZone(path=str(settings.landing_dir)),
    }


def build_definitions(settings: Settings, resources: dict[str, object] | None = None) -> Definitions:
    """The whole code location for one data home; `resources` swaps in fakes for tests."""
    return Definitions(
        assets=[
            landing_zone,
            raw_inbound_events,
            crm_snapshot,
            leadops_dbt_models,
            lead_state_log,
            crm_writes,
            warehouse_reader_copy,
        ],
        asset_checks=[
            raw_inbound_events_meet_contract,
            outbound_payload_meets_contract,
            only_allowed_transitions_logged,
            no_parked_crm_writes,
        ],
        jobs=[process_leads_job],
        sensors=[new_leads_sensor],
        schedules=[safety_net_schedule],
        resources={**build_resources(settings), **(resources or {})},
        executor=in_process_executor,
    )


settings = load_settings()
settings.prepare_home()
defs = build_definitions(settings)
