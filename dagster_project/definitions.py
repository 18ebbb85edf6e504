"""The one Definitions object of LeadOps: assets per pipeline stage, checks, the job, sensor and schedule."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job, in_process_executor
from dagster_duckdb import DuckDBResource

from assets.crm.assets import crm_snapshot
from assets.crm.resource import CrmResource
from assets.decisions.assets import lead_state_log, only_allowed_transitions_logged
from assets.decisions.rules_version import RulesResource
from assets.enrichment.assets import domain_firmographics
from assets.enrichment.resource import EnrichmentResource
from assets.feedback.assets import (
    ReportsFolder,
    crm_outcome_changes,
    outcome_report,
    raw_outcome_events,
    raw_outcome_events_name_decided_leads,
)
from assets.feedback.resource import FeedbackZone
from assets.identity.assets import IdentityResolver, lead_identities
from assets.identity.training_assets import IDENTITY_TRAINING_GROUP, identity_trained_models
from assets.ingest.assets import (
    landing_zone,
    raw_inbound_events,
    raw_inbound_events_meet_contract,
)
from assets.ingest.resources import LandingZone
from assets.interpretation.assets import lead_interpretations
from assets.interpretation.resource import IntentInterpreterResource
from assets.outbound.assets import (
    crm_holds_what_the_outbox_wrote,
    crm_writes,
    no_parked_crm_writes,
    outbound_payload_meets_contract,
    outbox_delivery,
    sla_events,
)
from assets.outbound.publish import warehouse_reader_copy
from assets.outbound.reconciliation import crm_reconciliation
from assets.outbound.resource import OutboxResource
from assets.overrides.assets import operator_overrides
from assets.overrides.resources import OverridesFile
from dagster_project.dbt import leadops_dbt_decisions, leadops_dbt_models, leadops_dbt_outcomes
from dagster_project.jobs import (
    audit_warehouse_job,
    audit_warehouse_schedule,
    enforce_first_touch_sla_job,
    process_leads_job,
    process_outcomes_job,
    pull_crm_job,
    reconcile_crm_job,
    refresh_outcomes_schedule,
    retry_due_actions_job,
    safety_net_schedule,
)
from dagster_project.settings import DBT_PROJECT_DIR, INTENT_MODEL_CACHE_DIR, Settings, current_settings
from sensors.crm_pull import pull_crm_schedule
from sensors.crm_reconciliation import reconcile_crm_schedule
from sensors.enrichment_retry import enrichment_retry_sensor
from sensors.new_leads import new_leads_sensor
from sensors.outbox_retry import retry_due_actions_schedule
from sensors.outcome_feedback import outcome_feedback_sensor
from sensors.overrides_changed import overrides_changed_sensor
from sensors.sla_breaches import sla_breaches_sensor

# Retraining the splink models is a deliberate act: its own job, never scheduled, never in process_leads.
train_identity_models_job = define_asset_job(
    name="train_identity_models",
    selection=AssetSelection.groups(IDENTITY_TRAINING_GROUP),
    executor_def=in_process_executor,
    description="Retrain the person and account splink models and write their charts (manual).",
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Production resources for one data home; tests pass a temporary home or swap in fakes."""
    enrichment = settings.enrichment
    enrichment_overrides = {
        "confidence_threshold": enrichment.confidence_threshold,
        "retry_deadline_hours": None
        if enrichment.deadline_minutes is None
        else enrichment.deadline_minutes / 60,
        "retry_base_delay_seconds": enrichment.retry_base_seconds,
        "retry_max_delay_seconds": enrichment.retry_max_seconds,
        "unavailable_ttl_hours": (
            None if enrichment.unavailable_ttl_minutes is None else enrichment.unavailable_ttl_minutes / 60
        ),
        "max_lookup_seconds_per_run": enrichment.run_budget_seconds,
    }
    llm = settings.llm
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse_path)),
        "rules": RulesResource(dbt_project_dir=str(DBT_PROJECT_DIR), policy_dir=settings.policy_dir),
        "crm": crm_resource(settings),
        "outbox": OutboxResource(**settings.outbox.overrides(), **notification_config(settings)),
        "landing": LandingZone(path=str(settings.landing_dir)),
        "identity": IdentityResolver(**settings.identity.overrides()),
        "enrichment": EnrichmentResource(
            provider_order=list(enrichment.providers),
            reference_file_path=str(enrichment.firmographics_path),
            http_base_url=enrichment.http_base_url,
            http_token=EnvVar("LEADOPS_ENRICHMENT_TOKEN") if enrichment.uses_vendor else None,
            # The answer cache spends ~21 ms per domain (a SQLite connection and commit per get and put):
            # worth it only when a paid vendor is asked; the reference file answers for free.
            cache_path=str(enrichment.cache_path) if enrichment.uses_vendor else None,
            **{name: value for name, value in enrichment_overrides.items() if value is not None},
        ),
        "interpreter": IntentInterpreterResource(
            model_dir=str(INTENT_MODEL_CACHE_DIR),
            llm_cache_path=str(settings.llm_cache_path),
            llm_base_url=llm.base_url if llm else None,
            llm_model=llm.model if llm else None,
            llm_api_key=EnvVar(llm.api_key_variable) if llm and llm.api_key_variable else None,
            llm_options=dict(llm.options) if llm else {},
        ),
        "overrides_file": OverridesFile(path=str(settings.overrides_path)),
        "feedback": FeedbackZone(path=str(settings.feedback_dir)),
        "reports": ReportsFolder(path=str(settings.reports_dir)),
    }


def notification_config(settings: Settings) -> dict[str, object]:
    """Slack, SMTP and CalDAV for the outbox resource, only those configured; secrets as EnvVar."""
    notify = settings.notifications
    config: dict[str, object] = {}
    if notify.slack_token_set:
        config.update(slack_token=EnvVar("LEADOPS_SLACK_TOKEN"), slack_base_url=notify.slack_base_url)
    if notify.smtp_host:
        config.update(
            smtp_host=notify.smtp_host,
            smtp_port=notify.smtp_port,
            smtp_security=notify.smtp_security,
            smtp_user=notify.smtp_user,
            smtp_password=EnvVar("LEADOPS_SMTP_PASSWORD") if notify.smtp_password_set else None,
            smtp_from=notify.smtp_from,
            email_templates_dir=str(DBT_PROJECT_DIR / settings.policy_dir / "email_templates"),
        )
    if notify.caldav_url:
        config.update(
            caldav_url=notify.caldav_url,
            caldav_user=notify.caldav_user,
            caldav_password=EnvVar("LEADOPS_CALDAV_PASSWORD") if notify.caldav_password_set else None,
        )
    return config


def crm_resource(settings: Settings) -> CrmResource:
    """The CRM `LEADOPS_CRM` names; its tokens and keys as EnvVar, so no secret is in run config or logs."""
    crm = settings.crm
    if crm.kind == "hubspot":
        return CrmResource(
            kind="hubspot", hubspot_token=EnvVar("LEADOPS_HUBSPOT_TOKEN"), hubspot_host=crm.hubspot_host
        )
    if crm.kind == "salesforce":
        return CrmResource(
            kind="salesforce",
            salesforce_client_id=EnvVar("LEADOPS_SALESFORCE_CLIENT_ID"),
            salesforce_client_secret=EnvVar("LEADOPS_SALESFORCE_CLIENT_SECRET"),
            salesforce_login_url=crm.salesforce_login_url,
        )
    if crm.kind == "bottlecrm":
        return CrmResource(
            kind="bottlecrm",
            bottlecrm_url=crm.bottlecrm_url,
            bottlecrm_token=EnvVar("LEADOPS_BOTTLECRM_TOKEN"),
            bottlecrm_intake_id=crm.bottlecrm_intake_id,
            bottlecrm_intake_key=EnvVar("LEADOPS_BOTTLECRM_INTAKE_KEY"),
        )
    return CrmResource(database_path=str(settings.crm_path))


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
            leadops_dbt_outcomes,
            lead_state_log,
            crm_writes,
            outbox_delivery,
            sla_events,
            crm_reconciliation,
            warehouse_reader_copy,
            identity_trained_models,
            crm_outcome_changes,
            raw_outcome_events,
            outcome_report,
        ],
        asset_checks=[
            raw_inbound_events_meet_contract,
            outbound_payload_meets_contract,
            only_allowed_transitions_logged,
            no_parked_crm_writes,
            crm_holds_what_the_outbox_wrote,
            raw_outcome_events_name_decided_leads,
        ],
        jobs=[
            process_leads_job,
            process_outcomes_job,
            retry_due_actions_job,
            enforce_first_touch_sla_job,
            train_identity_models_job,
            audit_warehouse_job,
            pull_crm_job,
            reconcile_crm_job,
        ],
        sensors=[
            new_leads_sensor,
            enrichment_retry_sensor,
            overrides_changed_sensor,
            outcome_feedback_sensor,
            sla_breaches_sensor,
        ],
        schedules=[
            safety_net_schedule,
            retry_due_actions_schedule,
            audit_warehouse_schedule,
            pull_crm_schedule,
            reconcile_crm_schedule,
            refresh_outcomes_schedule,
        ],
        resources={**build_resources(settings), **(resources or {})},
        executor=in_process_executor,
    )


defs = build_definitions(current_settings())
