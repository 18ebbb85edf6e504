"""`leadops` errors are one line with a non-zero exit, exports are safe to open in a spreadsheet, the data
home is private, and two runs wait for each other instead of failing on the DuckDB lock."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from dagster_project import cli
from dagster_project.cli import main, neutralise_cell
from dagster_project.run_lock import hold_run_lock, run_lock_holder, run_lock_path
from dagster_project.settings import Settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    return tmp_path / "home"


def publish_results(home, reason: str, company: str) -> None:
    """A reader copy with just what `events` and `decisions` select."""
    reader = Settings.from_env().reader_warehouse_path
    reader.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(reader)) as con:
        con.execute("create schema raw; create schema marts")
        con.execute(
            "create table raw.event_deliveries as select 'leads.jsonl' as file_name, 1 as line_number,"
            " 'evt_1' as event_id, 'quarantined' as status, ? as reason, 'b1' as batch_id,"
            " timestamp '2026-03-01 09:00:00' as delivered_at",
            [reason],
        )
        con.execute("create table marts.lead_events as select 'evt_1' as event_id, 'lead_1' as lead_id")
        con.execute(
            "create table marts.lead_decisions as select 'lead_1' as lead_id, 'routed' as disposition,"
            " null::varchar as reason, ? as company, timestamp '2026-03-01 09:00:00' as first_received_at,"
            " 42 as employees, -3 as score",
            [company],
        )


# ---------------------------------------------------------------- one line, non-zero, never a traceback


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(home, monkeypatch, capsys):
    def broken(settings):
        raise RuntimeError("disk full\nsecond line of detail")

    monkeypatch.setattr(cli, "open_reader", broken)
    assert main(["events"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("leadops: RuntimeError: disk full (`leadops --debug ...` shows the traceback)")
    assert main(["events", "--debug"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_bad_csv_header_in_crm_import_is_one_line_with_exit_2(home, tmp_path, capsys):
    owners = tmp_path / "owners.csv"
    owners.write_text("id,full_name\nown_1,Ann\n")
    assert main(["crm", "import", "--owners", str(owners)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("leadops: nothing imported: owners.csv: header lacks column(s)")


def test_a_bad_sensor_interval_stops_run_but_not_the_read_only_commands(home, monkeypatch, capsys):
    publish_results(home, reason="bad json", company="Acme")
    monkeypatch.setenv("LEADOPS_SENSOR_INTERVAL_SECONDS", "often")
    assert main(["run"]) == 2
    assert capsys.readouterr().err.strip() == (
        "leadops: LEADOPS_SENSOR_INTERVAL_SECONDS must be a whole number from 1 to 3600, got 'often'"
    )
    assert main(["events", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["event_id"] == "evt_1"
    assert "warning: LEADOPS_SENSOR_INTERVAL_SECONDS" in err and "only reads results" in err
    assert main(["override", "list"]) == 0


# ---------------------------------------------------------------- exports


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_a_formula_prefix_is_made_text_in_csv(prefix):
    assert neutralise_cell(f"{prefix}1+1", csv=True) == f"'{prefix}1+1"
    assert neutralise_cell(f"{prefix}1+1", csv=False) == f"{prefix}1+1"


def test_csv_exports_neutralise_formulas_and_drop_nul_bytes(home, capsys):
    publish_results(home, reason='=HYPERLINK("http://evil.example","click")', company="Ac\x00me\x00")
    assert main(["events"]) == 0
    events = capsys.readouterr().out
    assert """'=HYPERLINK(""http://evil.example"",""click"")""" in events
    assert main(["decisions"]) == 0
    decisions = capsys.readouterr().out
    assert "Acme" in decisions and "\x00" not in decisions
    assert ",-3" in decisions  # numbers stay numbers
    assert main(["decisions", "--format", "json"]) == 0
    assert "\\u0000" not in capsys.readouterr().out


# ---------------------------------------------------------------- the data home is private


def test_the_data_home_is_700_and_its_files_600(home, tmp_path):
    home.mkdir(parents=True)
    os.chmod(home, 0o755)
    leftover = home / "crm.sqlite"
    leftover.write_text("")
    os.chmod(leftover, 0o644)
    Settings.from_env().prepare_home()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "landing").stat().st_mode) == 0o700
    assert stat.S_IMODE(leftover.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "dagster" / "dagster.yaml").stat().st_mode) == 0o600


def test_files_the_cli_creates_start_private(home, tmp_path):
    owners = tmp_path / "owners.csv"
    owners.write_text(
        "owner_id,name,email,team,region,active,capacity\nown_1,Ann,ann@leadops-demo.com,amer_smb,AMER,true,10\n"
    )
    assert main(["crm", "import", "--owners", str(owners)]) == 0
    assert main(["override", "disqualify", "--lead", "l1", "--reason", "spam", "--actor", "ann"]) == 0
    for path in (home / "crm.sqlite", home / "overrides" / "overrides.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((home / "overrides").stat().st_mode) == 0o700


# ---------------------------------------------------------------- one run at a time


def test_a_second_run_waits_for_the_first_with_a_message_then_goes(tmp_path):
    lock = run_lock_path(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from dagster_project.run_lock import hold_run_lock\n"
            f"with hold_run_lock(Path({str(lock)!r}), '`leadops run`, pid 4242'):\n"
            "    print('held', flush=True); time.sleep(1.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert run_lock_holder(lock) == "`leadops run`, pid 4242"
    messages: list[str] = []
    started = time.monotonic()
    with hold_run_lock(lock, "second run", poll_seconds=0.1, on_wait=messages.append):
        waited = time.monotonic() - started
    holder.wait()
    assert messages == ["`leadops run`, pid 4242"]
    assert waited >= 0.5


def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    lock = run_lock_path(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from dagster_project.run_lock import hold_run_lock\n"
            f"with hold_run_lock(Path({str(lock)!r}), 'doomed'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert run_lock_holder(lock) is None


def test_waiting_too_long_is_a_clear_error(tmp_path):
    from dagster_project.run_lock import RunLockTimeout

    lock = run_lock_path(tmp_path)
    with hold_run_lock(lock, "first"):
        outcome: list[BaseException] = []

        def second():
            try:
                with hold_run_lock(lock, "second", timeout_seconds=0.3, poll_seconds=0.05):
                    pass
            except RunLockTimeout as error:
                outcome.append(error)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=10)
    assert "another run (first) held" in str(outcome[0])
