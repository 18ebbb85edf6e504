"""Enrichment stage as a Dagster asset: firmographics for the company domains of inbound leads.

No `from __future__ import annotations` here: Dagster reads the resource annotations at definition time.
"""

from datetime import timedelta

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from assets.enrichment.domain_firmographics import (
    ENRICHMENT_DDL,
    TABLE,
    DomainStatus,
    TablePolicy,
    company_domains,
    domains_needing_work,
    enrich_domains,
    read_crm_domains,
    read_rows,
    read_sightings,
    status_counts,
    upsert_rows,
)
from assets.enrichment.resource import EnrichmentResource
from integrations.enrichment.port import utc_now

DOMAIN_FIRMOGRAPHICS_KEY = AssetKey(["enrichment", "domain_firmographics"])


@asset(
    key=DOMAIN_FIRMOGRAPHICS_KEY,
    deps=[AssetKey("raw_inbound_events"), AssetKey(["crm", "account_domains"])],
    group_name="enrichment",
    kinds={"python", "duckdb"},
    description=(
        "Firmographics per company domain of inbound leads (CRM-known domains excluded), through the"
        " provider waterfall. status found | low_confidence | not_found | pending_retry | unavailable;"
        " only found may set a segment. Failures wait as pending_retry (the retry sensor re-runs) until"
        " the deadline, then become unavailable."
    ),
)
def domain_firmographics(
    context: AssetExecutionContext, warehouse: DuckDBResource, enrichment: EnrichmentResource
) -> MaterializeResult:
    now = utc_now()
    policy = TablePolicy.of(enrichment)
    with warehouse.get_connection() as con:
        # First, so dbt finds its source table even when this run has nothing to look up.
        con.execute(ENRICHMENT_DDL)
        candidates = company_domains(read_sightings(con), read_crm_domains(con))
        stored = read_rows(con)
    work = domains_needing_work(candidates, stored, now=now)

    # Lookups run without a warehouse connection open: they may wait on a vendor for a while.
    batch = enrich_domains(
        work,
        lambda request: enrichment.enrich([request])[0],
        policy=policy,
        retry_policy=enrichment.retry_policy(),
        budget=timedelta(seconds=enrichment.max_lookup_seconds_per_run),
    )
    for failure in batch.failures:
        context.log.error(f"enrichment lookup raised (domain parked as a transient failure): {failure}")

    with warehouse.get_connection() as con:
        upsert_rows(con, batch.rows)
        totals = status_counts(con)

    this_run = {status.value: 0 for status in DomainStatus}
    for row in batch.rows:
        this_run[row.status.value] += 1
    context.log.info(
        f"{TABLE}: {len(work)} domain(s) needed work, {batch.looked_up} looked up, {batch.deferred} deferred;"
        f" this run {this_run}"
    )
    return MaterializeResult(
        metadata={
            "domains_needing_work": len(work),
            "domains_looked_up": batch.looked_up,
            "domains_deferred": batch.deferred,
            "provider_calls": batch.provider_calls,
            "cache_hits": batch.cache_hits,
            "lookups_raised": len(batch.failures),
            **{f"run_{status}": count for status, count in this_run.items()},
            **{f"total_{status}": count for status, count in totals.items()},
        }
    )
