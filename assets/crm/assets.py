"""CRM stage as a Dagster asset: the CRM's current owners, accounts, contacts and open opportunities."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset
from dagster_duckdb import DuckDBResource

from assets.crm.resource import CrmResource
from assets.crm.snapshot import CRM_COLUMNS, account_domains_frame, contacts_frame, pull_crm, utc_now

# The dbt test warehouse and the domain tests build their CRM tables from these.
__all__ = ["CRM_COLUMNS", "CRM_SNAPSHOT_GROUP", "account_domains_frame", "contacts_frame", "crm_snapshot"]

CRM_SNAPSHOT_TABLES = ("owners", "accounts", "account_domains", "contacts", "opportunities")
# process_leads selects this group, and so does the pull_crm job its schedule launches between batches.
CRM_SNAPSHOT_GROUP = "crm_snapshot"


@multi_asset(
    specs=[
        AssetSpec(
            key=AssetKey(["crm", table]),
            group_name=CRM_SNAPSHOT_GROUP,
            kinds={"python", "duckdb"},
            description=(
                f"CRM {table} as the CRM last showed them: pulled through the CRM port by updated-at from a"
                " high-water mark per object type (crm.pull_state), in full the first time and once a day."
            ),
        )
        for table in CRM_SNAPSHOT_TABLES
    ],
)
def crm_snapshot(context: AssetExecutionContext, crm: CrmResource, warehouse: DuckDBResource):
    """Pull what changed in the CRM since the last pull, so matching and routing see current ownership.

    Every process_leads run pulls first (seconds when little changed; a full read on a new warehouse),
    so a batch is never routed on ownership older than its own start, whether or not the pull_crm schedule
    ran; the schedule keeps the snapshot current between batches and each run's pull small."""
    with warehouse.get_connection() as con:
        results = {result.table: result for result in pull_crm(con, crm.client(), crm.source(), utc_now())}
        counts = {
            table: con.execute(f"select count(*) from crm.{table}").fetchall()[0][0]
            for table in CRM_SNAPSHOT_TABLES
        }
    for table in CRM_SNAPSHOT_TABLES:
        result = results.get(table, results["accounts"])
        mark = result.high_water_mark
        context.log.info(
            f"crm.{table}: {'full read' if result.full else 'changes since the mark'}, {result.read} read,"
            f" {result.removed} closed and dropped, {counts[table]} rows"
        )
        yield MaterializeResult(
            asset_key=AssetKey(["crm", table]),
            metadata={
                "rows": int(counts[table]),
                "pull": "full" if result.full else "incremental",
                "read_from_crm": result.read,
                "closed_and_dropped": result.removed,
                "high_water_mark": mark.isoformat() if mark else "none (the CRM reports no updated-at)",
            },
        )
