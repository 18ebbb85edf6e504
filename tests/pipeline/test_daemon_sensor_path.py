"""The production path: a file dropped while the Dagster daemon runs is picked up by the sensor."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from pipeline_helpers import event

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_daemon(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Own process group, SIGINT restored: a background `dagster` otherwise ignores Ctrl-C."""
    daemon = Path(sys.executable).parent / "dagster-daemon"
    return subprocess.Popen(
        [str(daemon), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def stop_daemon(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def read_reader_copy(path: Path, query: str):
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(query).fetchall()
    except duckdb.Error:
        return None


def test_file_dropped_while_daemon_runs_is_decided_and_written_once(pipeline, prepared_warehouse, tmp_path):
    from integrations.crm.models import ObjectType

    prepared_warehouse.publish_parse_state()
    env = {**os.environ, "LEADOPS_SENSOR_INTERVAL_SECONDS": "1"}
    process = start_daemon(env, tmp_path / "daemon.log")
    try:
        customer = event("evt-d-1", email="jane@globexcorp.com", company="Globex", source="demo_request")
        pipeline.land(
            [
                customer,
                event("evt-d-2", email="owner@smallshop-example.com"),
                event(
                    "evt-d-3",
                    source="partner_referral",
                    email="cio@partnerco-example.com",
                    partner={"id": "p-1", "name": "Channel Co"},
                ),
                '{"event_id": "evt-d-broken", "source": ',
                dict(customer),
            ],
            "daemon-batch.jsonl",
        )
        deadline = time.monotonic() + 240
        fates = None
        while time.monotonic() < deadline:
            fates = read_reader_copy(
                pipeline.settings.reader_warehouse_path, "select status from raw.event_deliveries"
            )
            decided = read_reader_copy(
                pipeline.settings.reader_warehouse_path, "select count(*) from marts.lead_decisions"
            )
            if fates and len(fates) == 5 and decided and decided[0][0] == 3:
                break
            time.sleep(0.5)
        else:
            log = (tmp_path / "daemon.log").read_text()[-4000:]
            pytest.fail(f"the sensor path did not process the batch in time; daemon log tail:\n{log}")
        assert Counter(status for (status,) in fates) == {
            "accepted": 3,
            "quarantined": 1,
            "duplicate_delivery": 1,
        }
        assert pipeline.crm.count(ObjectType.LEAD) == 3
        assert pipeline.crm.count(ObjectType.TASK) == 3
        assert not list(pipeline.settings.landing_dir.glob("*.jsonl")), "ingested files are archived"
    finally:
        stop_daemon(process)
