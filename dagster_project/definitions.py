"""The one Definitions object of LeadOps: assets per pipeline stage, checks, the job, sensor and schedule."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor
from dagster_duckdb import DuckDBResource

from assets.decisions.assets import lead_state_log, only_allowed_transitions_logged
from assets.enrichment.assets import domain_firmographics
from assets.enrichment.config import EnrichmentSettings
from assets.identity.assets import IDENTITY_TRAINING_GROUP, identity_trained_models
from assets.identity_resolution.assets import IdentityResolver, lead_identities
from assets.ingest.assets import (
    crm_snapshot,
    landing_zone,
    raw_inbound_events,
    raw_inbound_events_meet_contract,
)
from assets.intent.assets import lead_interpretations
from assets.intent.resource import IntentInterpreterResource
from assets.outbound.assets import crm_writes, no_parked_crm_writes, outbound_payload_meets_contract
from assets.overrides.assets import operator_overrides
from assets.overrides.resources import OverridesFile
from assets.publish import warehouse_reader_copy
from dagster_project.dbt import leadops_dbt_decisions, leadops_dbt_models
from dagster_project.jobs import process_leads_job, safety_net_schedule
from dagster_project.resources.crm import CrmResource
from dagster_project.resources.enrichment import EnrichmentResource
from dagster_project.resources.landing import LandingZone
from dagster_project.settings import REPO_ROOT, Settings, load_settings
from sensors.enrichment_retry import enrichment_retry_sensor
from sensors.new_leads import new_leads_sensor
from sensors.overrides_changed import overrides_changed_sensor

INTENT_MODEL_CACHE = REPO_ROOT / ".cache" / "intent_model"

# Retraining the splink models is a deliberate act: its own job, never scheduled, never in process_leads.
train_identity_models_job = define_asset_job(
    name="train_identity_models",
    selection=AssetSelection.groups(IDENTITY_TRAINING_GROUP),
    executor_def=in_process_executor,
    description="Retrain the person and account splink models and write their charts (manual).",
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Production resources for one data home; tests pass a temporary home or swap in fakes."""
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse_path)),
        "crm": CrmResource(database_path=str(settings.crm_path)),
        "landing": LandingZone(path=str(settings.landing_dir)),
        "identity": IdentityResolver.from_env(),
        "enrichment": EnrichmentResource(**EnrichmentSettings.from_env(settings.home).resource_fields()),
        "interpreter": IntentInterpreterResource(
            # Built from the labelled data in the repo, not from a data home: shared, keyed by data hash.
            model_dir=str(INTENT_MODEL_CACHE),
            llm_cache_path=str(settings.home / "llm_cache.sqlite"),
        ),
        "overrides_file": OverridesFile(path=str(settings.home / "overrides" / "overrides.csv")),
    }


def build_definitions(settings: Settings, resources: dict[str, object] | None = None) -> Definitions:
    """The whole code location for one data home; `resources` swaps in fakes for tests."""
    return Definitions(
        assets=[
            landing_zone,
            raw_inbound_events,
            operator_overrides,
            crm_snapshot,
            lead_identities,
            domain_firmographics,
            leadops_dbt_models,
            lead_interpretations,
            leadops_dbt_decisions,
            lead_state_log,
            crm_writes,
            warehouse_reader_copy,
            identity_trained_models,
        ],
        asset_checks=[
            raw_inbound_events_meet_contract,
            outbound_payload_meets_contract,
            only_allowed_transitions_logged,
            no_parked_crm_writes,
        ],
        jobs=[process_leads_job, train_identity_models_job],
        sensors=[new_leads_sensor, enrichment_retry_sensor, overrides_changed_sensor],
        schedules=[safety_net_schedule],
        resources={**build_resources(settings), **(resources or {})},
        executor=in_process_executor,
    )


settings = load_settings()
settings.prepare_home()
defs = build_definitions(settings)
