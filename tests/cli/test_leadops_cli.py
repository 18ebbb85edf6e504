"""The `leadops` command: clear errors, exit codes and the CRM import path (no pipeline run needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.cli import main

FIXTURE_CRM = Path(__file__).parent.parent / "fixtures" / "crm"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    return tmp_path / "home"


def test_readers_before_any_run_say_what_to_do(home, capsys):
    assert main(["events"]) == 2
    assert "run `leadops run`" in capsys.readouterr().err


def test_crm_import_loads_the_fixture_crm(home, capsys):
    code = main(
        [
            "crm",
            "import",
            "--owners",
            str(FIXTURE_CRM / "owners.csv"),
            "--accounts",
            str(FIXTURE_CRM / "accounts.csv"),
            "--contacts",
            str(FIXTURE_CRM / "contacts.csv"),
        ]
    )
    assert code == 0
    assert (home / "crm.sqlite").exists()


def test_crm_import_reports_bad_rows_with_line_numbers_and_exits_1(home, tmp_path, capsys):
    owners = tmp_path / "owners.csv"
    owners.write_text(
        "owner_id,name,email,team,region,active,capacity\n"
        "own_1,Ann,ann@leadops-demo.com,amer_smb,AMER,true,10\n"
        "own_2,Bob,bob@leadops-demo.com,amer_smb,AMER,maybe,10\n"
    )
    assert main(["crm", "import", "--owners", str(owners)]) == 1
    report = capsys.readouterr().out
    assert "owners.csv:3" in report and "own_2" in report and "active" in report
    assert "loaded    1" in report


def test_crm_import_of_a_missing_file_is_a_clear_error(home, capsys):
    assert main(["crm", "import", "--owners", "/nonexistent/owners.csv"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_land_copies_files_atomically_into_the_landing_zone(home, tmp_path, capsys):
    source = tmp_path / "leads.jsonl"
    source.write_text('{"event_id": "e1", "source": "web_form", "received_at": "2026-11-25T09:00:00Z"}\n')
    assert main(["land", str(source)]) == 0
    landed = list((home / "landing").glob("*.jsonl"))
    assert len(landed) == 1 and landed[0].read_text() == source.read_text()
    assert not list((home / "landing").glob("*.tmp"))


def test_run_waits_while_another_process_holds_the_warehouse(tmp_path):
    import subprocess
    import sys
    import threading
    import time

    from dagster_project.cli import wait_for_warehouse

    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); time.sleep(3)"]
    )
    time.sleep(1.5)  # let the holder take the lock
    started = time.monotonic()
    waiter = threading.Thread(target=wait_for_warehouse, args=(warehouse,), kwargs={"poll_seconds": 0.2})
    waiter.start()
    waiter.join(timeout=30)
    holder.wait()
    assert not waiter.is_alive()
    assert time.monotonic() - started >= 0.5
