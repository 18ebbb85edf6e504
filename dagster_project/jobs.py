"""The one job that carries a batch from the landing zone to CRM writes, and its safety-net schedule."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from dagster_project.settings import Settings

# In-process: the multiprocess executor starts a fresh Python per step (5–12 s each) and its parallel
# steps fight over the DuckDB file lock (whole graph 36.5 s vs 19.8 s in-process, STACK-FACTS).
process_leads_job = define_asset_job(
    name="process_leads",
    selection=AssetSelection.groups(
        "ingest",
        "crm_snapshot",
        "dbt_rules",
        "dbt_staging",
        "dbt_intermediate",
        "dbt_marts",
        "decisions",
        "outbound",
    ),
    executor_def=in_process_executor,
    description="Landing zone → raw → dbt (normalize, match, route) → state log → CRM writes → reader copy.",
)

# If a sensor-launched run failed, its files stay in the landing zone; this picks them up.
safety_net_schedule = ScheduleDefinition(
    name="process_waiting_leads",
    job=process_leads_job,
    cron_schedule=Settings.from_env().safety_net_cron,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Safety net: processes everything still waiting in the landing zone.",
)
