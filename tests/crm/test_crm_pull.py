"""The CRM snapshot is pulled through the port by updated-at: everything the first time, then only what
changed since each object type's high-water mark; routing reads what the pull keeps current."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.crm.assets import crm_snapshot
from assets.crm.resource import FakeCrmResource
from assets.crm.snapshot import pull_crm, utc_now
from integrations.crm.fake import FakeCrm
from integrations.crm.models import Account, Contact, Opportunity, Owner
from sensors.crm_pull import pull_request

NO_LOOK_BACK = timedelta(0)


def owner(owner_id: str, *, active: bool = True, team: str = "emea_smb") -> Owner:
    return Owner(
        owner_id=owner_id,
        name=f"Rep {owner_id}",
        email=f"{owner_id}@salescorp.com",
        team=team,
        region="EMEA",
        active=active,
        capacity=10,
    )


ACME = Account(
    account_id="ACC-1",
    name="Acme",
    domain="acme.com",
    alias_domains=["acme.io"],
    status="customer",
    owner_id="own_1",
)


def seeded_crm() -> FakeCrm:
    crm = FakeCrm()
    crm.seed(
        owners=[owner("own_1"), owner("own_2")],
        accounts=[ACME],
        contacts=[Contact(contact_id="CON-1", account_id="ACC-1", email="dana@acme.com", owner_id="own_1")],
        opportunities=[
            Opportunity(opportunity_id="OPP-1", account_id="ACC-1", stage="proposal", owner_id="own_1"),
            Opportunity(opportunity_id="OPP-2", account_id="ACC-1", stage="closed_won", owner_id="own_1"),
        ],
    )
    return crm


def rows(con, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def test_the_first_pull_reads_everything_and_the_next_only_what_changed_since_the_mark() -> None:
    crm, con = seeded_crm(), duckdb.connect()
    first = pull_crm(con, crm, "fake", utc_now(), look_back=NO_LOOK_BACK)
    marks = dict(rows(con, "select object_type, high_water_mark from crm.pull_state"))
    crm.seed(owners=[owner("own_2", active=False)])  # a rep leaves: deactivated in the CRM
    crm.seed(opportunities=[Opportunity(opportunity_id="OPP-1", account_id="ACC-1", stage="closed_lost")])
    crm.seed(accounts=[ACME.model_copy(update={"domain": "acme.org", "alias_domains": []})])

    second = pull_crm(con, crm, "fake", utc_now(), look_back=NO_LOOK_BACK)

    sinces = [call.args[1] for call in crm.calls_to("read_updated")]
    assert [(r.table, r.full, r.read) for r in first] == [
        ("owners", True, 2),
        ("accounts", True, 1),
        ("contacts", True, 1),
        ("opportunities", True, 1),
    ]
    assert sinces[:4] == [None] * 4
    assert [since.replace(tzinfo=None) for since in sinces[4:]] == [
        marks[kind] for kind in ("owner", "account", "contact", "opportunity")
    ]
    assert not any(r.full for r in second)
    assert {r.table: r.removed for r in second}["opportunities"] == 1
    assert rows(con, "select owner_id, active from crm.owners order by 1") == [
        ("own_1", True),
        ("own_2", False),
    ]
    assert rows(con, "select * from crm.opportunities") == []
    assert rows(con, "select account_id, domain, is_primary from crm.account_domains") == [
        ("ACC-1", "acme.org", True)
    ]
    assert rows(con, "select contact_id, email_key from crm.contacts") == [("CON-1", "dana@acme.com")]


def test_a_pull_with_nothing_changed_keeps_the_snapshot_and_the_marks() -> None:
    crm, con = seeded_crm(), duckdb.connect()
    pull_crm(con, crm, "fake", utc_now(), look_back=NO_LOOK_BACK)
    before = {t: rows(con, f"select * from crm.{t} order by 1") for t in ("owners", "accounts", "contacts")}
    # Opportunities leave out: the full read skips closed ones, whose later updated-at moves the mark once.
    marks = "select object_type, high_water_mark from crm.pull_state where object_type <> 'opportunity'"
    before_marks = rows(con, marks)

    pull_crm(con, crm, "fake", utc_now(), look_back=NO_LOOK_BACK)

    assert {t: rows(con, f"select * from crm.{t} order by 1") for t in before} == before
    assert rows(con, marks) == before_marks


def test_a_deleted_record_leaves_the_snapshot_at_the_daily_full_read_or_when_the_crm_changes() -> None:
    crm, con = seeded_crm(), duckdb.connect()
    now = utc_now()
    pull_crm(con, crm, "fake", now)
    crm.delete("CON-1")  # deleted in the CRM: no updated-at shows it

    incremental = pull_crm(con, crm, "fake", now + timedelta(hours=1))
    still_there = rows(con, "select contact_id from crm.contacts")
    daily = pull_crm(con, crm, "fake", now + timedelta(hours=25))
    other_crm = pull_crm(con, FakeCrm(), "another", now + timedelta(hours=26))

    assert not any(r.full for r in incremental) and still_there == [("CON-1",)]
    assert all(r.full for r in daily) and {r.table: r.rows for r in daily}["contacts"] == 0
    assert all(r.full for r in other_crm) and {r.table: r.rows for r in other_crm}["owners"] == 0


def test_a_crm_that_reports_no_updated_at_is_read_whole_every_time() -> None:
    crm, con = seeded_crm(), duckdb.connect()
    read_updated = crm.read_updated

    def without_updated_at(object_type, since=None):
        return [item.__class__(item.record, None) for item in read_updated(object_type, since)]

    crm.read_updated = without_updated_at  # as BottleCRM's accounts and opportunities
    pull_crm(con, crm, "bottlecrm", utc_now())
    again = pull_crm(con, crm, "bottlecrm", utc_now())

    assert all(r.full and r.high_water_mark is None for r in again)
    assert rows(con, "select count(*) from crm.owners") == [(2,)]


def materialize_snapshot(path: Path, crm: FakeCrmResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [crm_snapshot], resources={"crm": crm, "warehouse": DuckDBResource(database=str(path))}
    )


def test_routing_reads_current_ownership_whether_or_not_the_pull_schedule_ever_ran(tmp_path: Path) -> None:
    path, crm = tmp_path / "warehouse.duckdb", seeded_crm()
    resource = FakeCrmResource.holding(crm)

    first = materialize_snapshot(path, resource)  # a new warehouse: no pull ran yet
    crm.seed(owners=[owner("own_1", team="emea_mid_market")])  # a manager moves a rep to another team
    second = materialize_snapshot(path, resource)

    def metadata(result, table: str) -> dict:
        [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["crm", table]]
        return {key: value.value for key, value in event.materialization.metadata.items()}

    with duckdb.connect(str(path)) as con:
        teams = rows(con, "select owner_id, team from crm.owners order by 1")
    assert first.success and second.success
    assert metadata(first, "owners")["pull"] == "full" and metadata(first, "owners")["rows"] == 2
    assert metadata(second, "owners")["pull"] == "incremental"
    assert metadata(second, "account_domains")["rows"] == 2
    assert teams == [("own_1", "emea_mid_market"), ("own_2", "emea_smb")]


def test_the_pull_schedule_waits_for_a_crm_and_for_a_running_batch(tmp_path: Path) -> None:
    missing = tmp_path / "crm.sqlite"
    present = tmp_path / "present.sqlite"
    present.touch()

    assert isinstance(pull_request("embedded", missing, batch_running=False), dg.SkipReason)
    assert isinstance(pull_request("embedded", present, batch_running=True), dg.SkipReason)
    assert isinstance(pull_request("embedded", present, batch_running=False), dg.RunRequest)
    assert isinstance(pull_request("hubspot", missing, batch_running=False), dg.RunRequest)


def test_the_pull_and_reconciliation_jobs_run_only_their_assets_on_their_schedules() -> None:
    from dagster_project.definitions import defs

    pull = defs.resolve_job_def("pull_crm")
    reconcile = defs.resolve_job_def("reconcile_crm")
    schedules = {s.name: s.job_name for s in defs.schedules}

    assert {k.to_user_string() for k in pull.asset_layer.selected_asset_keys} == {
        "crm/owners",
        "crm/accounts",
        "crm/account_domains",
        "crm/contacts",
        "crm/opportunities",
    }
    assert {k.to_user_string() for k in reconcile.asset_layer.selected_asset_keys} == {
        "ops/crm_reconciliation",
        "warehouse_reader_copy",
    }
    assert schedules["pull_crm"] == "pull_crm" and schedules["reconcile_crm"] == "reconcile_crm"
