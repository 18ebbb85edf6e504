"""CRM stage as a Dagster asset: the CRM's current owners, accounts, contacts and opportunities."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset
from dagster_duckdb import DuckDBResource

from assets.crm.resource import CrmResource
from common.domains import email_key, registrable_domain

CRM_SNAPSHOT_TABLES = ("owners", "accounts", "account_domains", "contacts", "opportunities")


@multi_asset(
    specs=[
        AssetSpec(
            key=AssetKey(["crm", table]),
            group_name="crm_snapshot",
            kinds={"python", "duckdb"},
            description=f"CRM {table} as read through the CRM port at the start of the run.",
        )
        for table in CRM_SNAPSHOT_TABLES
    ],
)
def crm_snapshot(context: AssetExecutionContext, crm: CrmResource, warehouse: DuckDBResource):
    """Read the CRM through its port so matching and routing see current ownership."""
    client = crm.client()
    owners = pd.DataFrame([owner.model_dump() for owner in client.read_owners()])
    accounts = pd.DataFrame(
        [
            {**account.model_dump(), "alias_domains": ";".join(account.alias_domains)}
            for account in client.read_accounts()
        ]
    )
    contacts = contacts_frame(client.read_contacts())
    opportunities = pd.DataFrame([opp.model_dump() for opp in client.read_open_opportunities()])
    frames = {
        "owners": owners,
        "accounts": accounts,
        "account_domains": account_domains_frame(accounts),
        "contacts": contacts,
        "opportunities": opportunities,
    }
    with warehouse.get_connection() as con:
        con.execute("create schema if not exists crm")
        for table, frame in frames.items():
            _replace_table(con, f"crm.{table}", frame, CRM_COLUMNS[table])
    for table, frame in frames.items():
        yield MaterializeResult(asset_key=AssetKey(["crm", table]), metadata={"rows": len(frame)})


# Column order and types of the snapshot tables: an empty CRM still yields tables dbt can read.
CRM_COLUMNS: dict[str, dict[str, str]] = {
    "owners": {
        "owner_id": "varchar",
        "name": "varchar",
        "email": "varchar",
        "team": "varchar",
        "region": "varchar",
        "active": "boolean",
        "capacity": "integer",
    },
    "accounts": {
        "account_id": "varchar",
        "name": "varchar",
        "domain": "varchar",
        "alias_domains": "varchar",
        "country": "varchar",
        "employees": "integer",
        "industry": "varchar",
        "status": "varchar",
        "owner_id": "varchar",
    },
    "account_domains": {"account_id": "varchar", "domain": "varchar", "is_primary": "boolean"},
    "contacts": {
        "contact_id": "varchar",
        "account_id": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
        "email": "varchar",
        "email_key": "varchar",
        "title": "varchar",
        "phone": "varchar",
        "owner_id": "varchar",
    },
    "opportunities": {
        "opportunity_id": "varchar",
        "account_id": "varchar",
        "stage": "varchar",
        "owner_id": "varchar",
    },
}


def account_domains_frame(accounts: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, registrable domain): primary first, then the `;`-separated aliases."""
    rows: list[dict[str, object]] = []
    for account in accounts.to_dict("records") if not accounts.empty else []:
        seen: set[str] = set()
        candidates = [(account.get("domain"), True)] + [
            (alias, False) for alias in str(account.get("alias_domains") or "").split(";")
        ]
        for raw_domain, is_primary in candidates:
            domain = registrable_domain(raw_domain) if raw_domain else None
            if domain and domain not in seen:
                seen.add(domain)
                rows.append({"account_id": account["account_id"], "domain": domain, "is_primary": is_primary})
    return pd.DataFrame(rows, columns=list(CRM_COLUMNS["account_domains"]))


def _replace_table(con, table: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
    frame = frame.reindex(columns=list(columns))
    column_list = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    select_list = ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in columns.items())
    con.execute(f"create or replace table {table} ({column_list})")
    if not frame.empty:
        con.register("_snapshot_frame", frame)
        try:
            con.execute(f"insert into {table} select {select_list} from _snapshot_frame")
        finally:
            con.unregister("_snapshot_frame")


def contacts_frame(contacts) -> pd.DataFrame:
    """CRM contacts with the matching key of their address, folded by the function ingest uses for leads."""
    rows = [{**contact.model_dump(), "email_key": email_key(contact.email)} for contact in contacts]
    return pd.DataFrame(rows, columns=list(CRM_COLUMNS["contacts"]))
