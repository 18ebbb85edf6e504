"""Builders for inbound events used by the pipeline tests, and the Dagster daemon for the `daemon` ones."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

# Distinct, realistic names per event id: generated look-alikes ("Test Evt-Rr-1", "Test Evt-Rr-2") are, to
# the identity model, rightly the same person with a typo.
_FIRST = [
    "Ana",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Freya",
    "Goran",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemal",
    "Lucia",
]
_LAST = [
    "Abara",
    "Bergstrom",
    "Castillo",
    "Duchamp",
    "Eriksen",
    "Fujimoto",
    "Gallagher",
    "Horvath",
    "Ivanova",
    "Jaramillo",
    "Kowalski",
    "Lindgren",
    "Mbeki",
    "Novak",
    "Okonkwo",
    "Petrov",
    "Quintero",
    "Rasmussen",
]


def person_name(event_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(event_id.encode()).digest()
    return _FIRST[digest[0] % len(_FIRST)], f"{_LAST[digest[1] % len(_LAST)]}-{digest[2]:02x}{digest[3]:02x}"


def event(event_id: str, **fields) -> dict:
    """A valid v1 inbound event; keyword arguments override or add fields."""
    first_name, last_name = person_name(event_id)
    base = {
        "event_id": event_id,
        "source": "web_form",
        "received_at": "2026-11-25T09:00:00Z",
        "email": f"{event_id}@gmail.com",
        "first_name": first_name,
        "last_name": last_name,
        "country": "US",
        "employees": "11-50",
        "message": "We would like to see a demo of the product for our team.",
    }
    base.update(fields)
    return base


# ---------------------------------------------------------------- the Dagster daemon, for `daemon` tests

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_daemon(log_path: Path, **environment: str) -> subprocess.Popen:
    """`dagster-daemon run` on this test's home (the environment the `pipeline` fixture exported), in its
    own process group with SIGINT restored: a background `dagster` otherwise ignores Ctrl-C."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def stop_daemon(process: subprocess.Popen) -> None:
    """SIGINT, then the whole group (its code server, the warm process and run workers) by its id."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(condition, what: str, log_path: Path, timeout: float, poll_seconds: float = 0.5):
    """The first truthy answer of `condition`; fails with the tail of the daemon's log after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(poll_seconds)
    tail = log_path.read_text()[-4000:]
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; daemon log tail:\n{tail}")


def read_reader_copy(path: Path, query: str):
    """Rows from the reader copy, or None while it does not exist or is being replaced."""
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(query).fetchall()
    except duckdb.Error:
        return None


def set_run_monitoring_interval(dagster_home: Path, seconds: int) -> None:
    """Run monitoring's poll in this home's dagster.yaml (copied from the repository's at `prepare_home`)."""
    instance_yaml = dagster_home / "dagster.yaml"
    text, count = re.subn(
        r"poll_interval_seconds: \d+", f"poll_interval_seconds: {seconds}", instance_yaml.read_text()
    )
    assert count == 1, "dagster.yaml has no run_monitoring.poll_interval_seconds to change"
    instance_yaml.write_text(text)


def run_worker_pid(instance, run) -> int | None:
    """The process executing a daemon-launched run: the forked worker's pid, or for a cold-started run the
    pid its RUN_START event recorded."""
    from dagster import DagsterEventType

    from dagster_project.warm_launcher import WORKER_PID_TAG

    if run.tags.get(WORKER_PID_TAG, "").isdigit():
        return int(run.tags[WORKER_PID_TAG])
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_START):
        if entry.dagster_event is not None and entry.dagster_event.pid:
            return entry.dagster_event.pid
    return None


# ---------------------------------------------------------------- a generated backlog, for the backlog tests


def generated_crm_frames(dataset) -> dict:
    """The crm.* snapshot tables (the columns the identity step reads) of an identity-generator dataset."""
    from common.domains import email_key

    contacts = dataset.contacts.rename(
        columns={
            "record_id": "contact_id",
            "email_key": "email",
            "first_name_normalized": "first_name",
            "last_name_normalized": "last_name",
            "phone_e164": "phone",
        }
    )[["contact_id", "account_id", "email", "first_name", "last_name", "phone"]]
    return {
        "accounts": dataset.accounts[["account_id", "name", "domain", "alias_domains", "country"]],
        "account_domains": dataset.account_domains[["account_id", "domain", "is_primary"]],
        "contacts": contacts.assign(email_key=contacts["email"].map(email_key)),
    }


def insert_frames(con, frames: dict, schema: str) -> None:
    """Append each frame to `schema`.<name> by column name, in one statement per table."""
    for table, frame in frames.items():
        con.register("_frame", frame)
        try:
            con.execute(f"insert into {schema}.{table} by name select * from _frame")
        finally:
            con.unregister("_frame")


# ---------------------------------------------------------------- the embedded CRM, read from outside


def crm_records(crm_path: Path, object_type: str) -> list[dict]:
    """Fields of every record of one type, read without the CRM port (the run may be writing)."""
    with sqlite3.connect(f"file:{crm_path}?mode=ro", uri=True) as con:
        rows = con.execute("select fields_json from records where object_type = ?", (object_type,)).fetchall()
    return [json.loads(fields) for (fields,) in rows]


def duplicated_crm_records(crm_path: Path) -> list[tuple]:
    """Records written twice: two leads with one email, two tasks or notes with one text on one record."""
    keys = {
        "lead": ("email",),
        "task": ("related_record_id", "subject"),
        "note": ("related_record_id", "body"),
    }
    duplicates = []
    for object_type, fields in keys.items():
        seen = Counter(
            tuple(record.get(name) for name in fields) for record in crm_records(crm_path, object_type)
        )
        duplicates += [(object_type, *key) for key, count in seen.items() if count > 1 and None not in key]
    return duplicates
