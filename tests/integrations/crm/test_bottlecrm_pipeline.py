"""The pipeline writes the demo leads to a real BottleCRM exactly once, even when killed mid-outbound.

One BottleCRM server (the demo's owners as profiles) and one pipeline home for the module, three runs of
`leadops run` in a subprocess (tests/integrations/crm/bottlecrm_pipeline_run.py):

1. killed with SIGKILL while the outbound step is writing (BottleCRM holds some of the leads, the outbox has
   done and open actions);
2. run again: it finishes what the dead run left, so BottleCRM holds every lead, owner, task and note the
   decisions ask for, each exactly once;
3. run once more: nothing new is created.

Routing uses what BottleCRM holds: its profiles (ids, emails, active or not) are the owners; teams, regions
and capacities come from demo/crm/owners.csv by email (BottleCRM has none in that shape). The adapter does
not import accounts, contacts or opportunities into BottleCRM (they are BottleCRM's own data), so no lead is
matched to an existing account or contact and every payload row becomes a BottleCRM lead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from bottlecrm_pipeline_run import demo_owner_rows
from bottlecrm_server import bottlecrm_server, client_for

from integrations.crm.bottlecrm import MARKER_PREFIX, BottleCrm
from integrations.crm.models import ObjectType

# The module's three pipeline runs share one fixture: 4-5 min each on a loaded 2-core box, past the suite's
# 600 s per-test default.
pytestmark = [pytest.mark.slow, pytest.mark.bottlecrm, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[3]
RUN_SCRIPT = Path(__file__).with_name("bottlecrm_pipeline_run.py")
DEMO_LEADS = ROOT / "demo" / "leads" / "demo_leads.jsonl"
# A cold run (dbt parse, seeds, every model) then 50 leads written to BottleCRM: 4-5 min on a loaded box.
RUN_TIMEOUT_SECONDS = 720
# Killed once BottleCRM holds this many leads: the outbound step is then writing, far from its end (the
# demo has ~50 leads to write, each one upsert, owner, task and note).
KILL_AFTER_LEADS = 3


@dataclass(frozen=True)
class CrmState:
    """What BottleCRM holds that LeadOps wrote, by LeadOps' external ids."""

    leads: Counter[str]
    lead_owners: dict[str, str | None]
    tasks: Counter[str]
    task_owners: dict[str, str | None]
    notes: Counter[str]


@dataclass
class PipelineHome:
    env: dict[str, str]
    warehouse: Path
    owner_profiles: dict[str, str]
    killed_outbox: dict[str, int] = field(default_factory=dict)
    killed_crm_leads: int = 0
    after_rerun: CrmState | None = None
    after_second_rerun: CrmState | None = None
    rerun_returncodes: list[int] = field(default_factory=list)

    def read(self, query: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(query).fetchall()


def crm_state(crm: BottleCrm) -> CrmState:
    # The adapter's own listings (its look-ups scan the same pages): every record, duplicates included.
    leads = [row for row in crm._leads() if (row.get("source_ref") or "").startswith(MARKER_PREFIX)]
    tasks = [crm._task_record(row, created=False) for row in crm._pages("/api/tasks/", "tasks")]
    notes = [note for note in crm._notes() if note.external_id]
    lead_records = [crm._lead_record(row, created=False, changed=False) for row in leads]
    return CrmState(
        leads=Counter(str(record.external_id) for record in lead_records),
        lead_owners={str(record.external_id): record.fields.get("owner_id") for record in lead_records},
        tasks=Counter(str(task.external_id) for task in tasks if task.external_id),
        task_owners={str(task.external_id): task.fields.get("owner_id") for task in tasks},
        notes=Counter(str(note.external_id) for note in notes),
    )


def leadops(home: PipelineHome, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(RUN_SCRIPT), *args],
        cwd=ROOT,
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[bytes]) -> int:
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(
            f"leadops did not finish in {RUN_TIMEOUT_SECONDS} s:\n{output.decode()[-4000:]}"
        ) from None
    if process.returncode != 0:
        raise AssertionError(f"leadops exited {process.returncode}:\n{output.decode()[-4000:]}")
    return process.returncode


def kill_mid_outbound(home: PipelineHome, crm: BottleCrm) -> None:
    process = leadops(home, "run")
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while crm.count(ObjectType.LEAD) < KILL_AFTER_LEADS:
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.communicate()[0].decode() if process.poll() is not None else ""
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"the run ended before it wrote {KILL_AFTER_LEADS} leads:\n{output[-4000:]}")
        time.sleep(0.5)
    # The whole group: the CLI's process and anything it started.
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    home.killed_crm_leads = crm.count(ObjectType.LEAD)
    # The dead writer's lock is gone with it: the warehouse (and its write-ahead log) is readable now.
    home.killed_outbox = dict(home.read("select status, count(*) from ops.outbox_actions group by 1"))


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    owners = [(row["email"], row["active"] == "true") for row in demo_owner_rows()]
    with bottlecrm_server(owners) as running:
        yield running


@pytest.fixture(scope="module")
def home(server: object, tmp_path_factory: pytest.TempPathFactory) -> PipelineHome:
    """The three runs, once for the module; the tests read what they left."""
    root = tmp_path_factory.mktemp("bottlecrm-pipeline")
    env = {
        **os.environ,
        "LEADOPS_HOME": str(root / "home"),
        "DAGSTER_HOME": str(root / "home" / "dagster"),
        "LEADOPS_FIRMOGRAPHICS_PATH": str(ROOT / "demo" / "firmographics.csv"),
        "LEADOPS_CRM": "bottlecrm",
        "LEADOPS_BOTTLECRM_URL": server.base_url,  # type: ignore[attr-defined]
        "LEADOPS_BOTTLECRM_TOKEN": server.token,  # type: ignore[attr-defined]
        "LEADOPS_BOTTLECRM_INTAKE_ID": server.intake_id,  # type: ignore[attr-defined]
        "LEADOPS_BOTTLECRM_INTAKE_KEY": server.intake_key,  # type: ignore[attr-defined]
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(RUN_SCRIPT.parent)]),
    }
    for name in ("LEADOPS_WAREHOUSE_PATH", "LEADOPS_POLICY_DIR", "LEADOPS_LLM_BACKEND"):
        env.pop(name, None)
    home = PipelineHome(
        env=env,
        warehouse=root / "home" / "warehouse.duckdb",
        owner_profiles=dict(server.owner_profiles),  # type: ignore[attr-defined]
    )
    finish(leadops(home, "land", str(DEMO_LEADS)))
    crm = client_for(server)
    try:
        kill_mid_outbound(home, crm)
        finish(leadops(home, "run"))
        home.after_rerun = crm_state(crm)
        finish(leadops(home, "run"))
        home.after_second_rerun = crm_state(crm)
    finally:
        crm.close()
    return home


def test_the_run_was_killed_while_writing_to_bottlecrm(home: PipelineHome) -> None:
    assert home.killed_outbox.get("done", 0) > 0
    assert home.killed_outbox.get("pending", 0) + home.killed_outbox.get("in_flight", 0) > 0
    assert home.killed_crm_leads >= KILL_AFTER_LEADS


def test_bottlecrm_holds_every_decided_lead_owner_task_and_note(home: PipelineHome) -> None:
    state = home.after_rerun
    assert state is not None
    payload = home.read("select lead_id, owner_id, task_subject, note_body from marts.sync_crm_leads")
    routed = dict(home.read("select lead_id, owner_id from marts.lead_decisions where disposition = 'route'"))
    assert routed, "the demo routes leads to owners"
    assert set(state.leads) == {lead_id for lead_id, *_ in payload}
    assert set(state.tasks) == {f"{lead_id}:first_touch" for lead_id in routed}
    assert set(state.notes) == {f"{lead_id}:decision" for lead_id, _, _, note in payload if note}
    assert {lead_id: state.lead_owners[lead_id] for lead_id in routed} == routed
    assert {lead_id: state.task_owners[f"{lead_id}:first_touch"] for lead_id in routed} == routed
    assert set(routed.values()) <= set(home.owner_profiles.values())
    assert (
        home.read("select status, count(*) from ops.outbox_actions where status <> 'done' group by 1") == []
    )


def test_killing_a_run_mid_outbound_and_rerunning_duplicates_nothing(home: PipelineHome) -> None:
    state = home.after_rerun
    assert state is not None
    duplicates = {
        kind: {key: count for key, count in counter.items() if count > 1}
        for kind, counter in (("leads", state.leads), ("tasks", state.tasks), ("notes", state.notes))
    }
    assert duplicates == {"leads": {}, "tasks": {}, "notes": {}}


def test_a_rerun_creates_nothing_new_in_bottlecrm(home: PipelineHome) -> None:
    assert home.after_second_rerun == home.after_rerun
