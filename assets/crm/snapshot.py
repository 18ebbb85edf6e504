"""The CRM snapshot (`crm.*`): owners, accounts, contacts and open opportunities as the CRM last showed them,
kept current by pulling what changed since the last pull.

`pull_crm` reads each object type through the port's `read_updated`, from a high-water mark kept per type in
`crm.pull_state` (the latest updated-at the CRM reported), and upserts the changed rows; an opportunity that
closed is dropped. A read is full, and the table replaced whole, when:

- no pull ran yet for the type, or the last one pulled another CRM (`LEADOPS_CRM` changed);
- the CRM reports no updated-at for the type (BottleCRM's accounts, opportunities and owners);
- the last full read is older than `full_refresh_every`: an updated-at never shows a record deleted in the
  CRM, nor one a restored backup moved back in time.

Each incremental read starts `look_back` before the mark: HubSpot's search index lags its writes by
seconds, and Salesforce compares whole seconds. What is read twice is upserted to the same row.

Every read happens before the one warehouse transaction, so a CRM that fails half-way changes nothing.
Plain Python over a DuckDB connection: the snapshot asset of `process_leads` and the `pull_crm` schedule's
job run the same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from common.domains import email_key, registrable_domain
from integrations.crm.models import ObjectType
from integrations.crm.port import CrmPort, UpdatedRecord

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

# The pulled tables, their object type and id column; account_domains follows accounts.
PULLED: dict[str, tuple[ObjectType, str]] = {
    "owners": (ObjectType.OWNER, "owner_id"),
    "accounts": (ObjectType.ACCOUNT, "account_id"),
    "contacts": (ObjectType.CONTACT, "contact_id"),
    "opportunities": (ObjectType.OPPORTUNITY, "opportunity_id"),
}

PULL_STATE_DDL = """
create schema if not exists crm;
create table if not exists crm.pull_state (
    object_type varchar primary key,
    source varchar not null,
    high_water_mark timestamp,
    last_full_at timestamp not null,
    pulled_at timestamp not null
);
"""

# Two minutes covers HubSpot's search lag (seconds) and Salesforce's whole-second compare many times over,
# and costs one re-read of what changed in those two minutes.
LOOK_BACK = timedelta(minutes=2)
# Deletions and restored backups are invisible to an updated-at: a daily full read bounds how long the
# snapshot can show a record the CRM no longer holds.
FULL_REFRESH_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class PullResult:
    table: str
    full: bool
    read: int  # records the CRM returned
    removed: int  # rows dropped: opportunities that closed (an incremental read)
    rows: int  # rows in the table after the pull
    high_water_mark: datetime | None  # naive UTC


@dataclass(frozen=True)
class _State:
    source: str
    high_water_mark: datetime | None
    last_full_at: datetime


def ensure_snapshot_tables(con) -> None:
    """The snapshot tables and the pull state, empty when no pull ran yet."""
    con.execute(PULL_STATE_DDL)
    for table, columns in CRM_COLUMNS.items():
        column_list = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
        con.execute(f"create table if not exists crm.{table} ({column_list})")


def utc_now() -> datetime:
    """Naive UTC, the warehouse convention (TIMESTAMP columns hold naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _states(con) -> dict[str, _State]:
    rows = con.execute("select object_type, source, high_water_mark, last_full_at from crm.pull_state")
    return {kind: _State(source, mark, full_at) for kind, source, mark, full_at in rows.fetchall()}


def pull_crm(
    con,
    client: CrmPort,
    source: str,
    now: datetime,
    *,
    look_back: timedelta = LOOK_BACK,
    full_refresh_every: timedelta = FULL_REFRESH_EVERY,
) -> list[PullResult]:
    """Bring `crm.*` up to what `client` holds now. `source` names the CRM (kind and location): a pull
    from another CRM than the last one starts over with full reads. `now` is naive UTC."""
    ensure_snapshot_tables(con)
    states = _states(con)
    reads: dict[str, tuple[bool, list[UpdatedRecord]]] = {}
    for table, (object_type, _) in PULLED.items():
        state = states.get(str(object_type))
        full = (
            state is None
            or state.source != source
            or state.high_water_mark is None
            or now - state.last_full_at >= full_refresh_every
        )
        since = None if full else (state.high_water_mark - look_back).replace(tzinfo=UTC)
        reads[table] = (full, client.read_updated(object_type, since))
    results: list[PullResult] = []
    con.execute("begin")
    try:
        for table, (full, items) in reads.items():
            object_type, _ = PULLED[table]
            removed = _store(con, table, full, [item.record for item in items])
            previous = states.get(str(object_type))
            marks = [_naive_utc(item.updated_at) for item in items if item.updated_at is not None]
            if not full and previous is not None and previous.high_water_mark is not None:
                marks.append(previous.high_water_mark)
            mark = max(marks, default=None)
            last_full_at = now if full or previous is None else previous.last_full_at
            con.execute(
                "insert or replace into crm.pull_state values (?, ?, ?, ?, ?)",
                [str(object_type), source, mark, last_full_at, now],
            )
            [(rows,)] = con.execute(f"select count(*) from crm.{table}").fetchall()
            results.append(PullResult(table, full, len(items), removed, int(rows), mark))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return results


def _frame(table: str, records: Iterable) -> pd.DataFrame:
    records = list(records)
    if table == "contacts":
        return contacts_frame(records)
    if table == "accounts":
        rows = [{**a.model_dump(), "alias_domains": ";".join(a.alias_domains)} for a in records]
    else:
        rows = [record.model_dump() for record in records]
    return pd.DataFrame(rows, columns=list(CRM_COLUMNS[table]))


def _store(con, table: str, full: bool, records: list) -> int:
    """Write one type's records; returns how many rows an incremental read dropped (closed ones)."""
    _, id_column = PULLED[table]
    kept = [r for r in records if table != "opportunities" or r.is_open]
    frame = _frame(table, kept)
    if full:
        _replace(con, table, frame)
        if table == "accounts":
            _replace(con, "account_domains", account_domains_frame(frame))
        return 0
    ids = [getattr(record, id_column) for record in records]
    closed = [r.opportunity_id for r in records if table == "opportunities" and not r.is_open]
    [(removed,)] = con.execute(
        f"select count(*) from crm.{table} where {id_column} in (select unnest(?::varchar[]))", [closed]
    ).fetchall()
    _delete_ids(con, table, id_column, ids)
    _insert(con, table, frame)
    if table == "accounts":
        _delete_ids(con, "account_domains", "account_id", ids)
        _insert(con, "account_domains", account_domains_frame(frame))
    return int(removed)


def _delete_ids(con, table: str, id_column: str, ids: list[str]) -> None:
    if ids:
        con.execute(f"delete from crm.{table} where {id_column} in (select unnest(?::varchar[]))", [ids])


def _replace(con, table: str, frame: pd.DataFrame) -> None:
    # Re-created, not emptied: a full read also brings the table to the current columns.
    column_list = ", ".join(f"{name} {sql_type}" for name, sql_type in CRM_COLUMNS[table].items())
    con.execute(f"create or replace table crm.{table} ({column_list})")
    _insert(con, table, frame)


def _insert(con, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    columns = CRM_COLUMNS[table]
    frame = frame.reindex(columns=list(columns))
    select_list = ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in columns.items())
    con.register("_snapshot_frame", frame)
    try:
        con.execute(f"insert into crm.{table} select {select_list} from _snapshot_frame")
    finally:
        con.unregister("_snapshot_frame")


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


def contacts_frame(contacts) -> pd.DataFrame:
    """CRM contacts with the matching key of their address, folded by the function ingest uses for leads."""
    rows = [{**contact.model_dump(), "email_key": email_key(contact.email)} for contact in contacts]
    return pd.DataFrame(rows, columns=list(CRM_COLUMNS["contacts"]))
