"""`leadops override …` and `leadops identity unmerge`: one validated line per command, exit 2 on bad
input."""

from __future__ import annotations

import argparse

import duckdb
import pytest

from dagster_project.cli.overrides import (
    explain_override_lines,
    register_identity_commands,
    register_override_commands,
)
from dagster_project.settings import Settings
from integrations.overrides_file.contract import Action, parse_overrides
from integrations.overrides_file.store import overrides_path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.setenv("LEADOPS_ACTOR", "ann.operator")
    return tmp_path / "home"


def leadops(*argv: str) -> int:
    """Parse with the real `leadops` parser, the override commands added the way build_parser will."""
    from dagster_project.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "override" not in commands.choices:
        register_override_commands(commands)
    if "identity" not in commands.choices:
        register_identity_commands(commands)
    args = parser.parse_args(list(argv))
    return args.handler(args, Settings.from_env())


def overrides(home):
    return parse_overrides(overrides_path(home).read_text())


def test_reroute_writes_one_row_and_says_what_the_next_run_does(home, capsys):
    assert leadops("override", "reroute", "--lead", "lead_1", "--owner", "own_7", "--reason", "asked") == 0
    out = capsys.readouterr()
    [(_, written)] = overrides(home).accepted
    assert (written.action, written.target_id, written.value, written.actor) == (
        Action.REROUTE_OWNER,
        "lead_1",
        "own_7",
        "ann.operator",
    )
    assert written.override_id in out.out and "owner own_7" in out.out and "leadops run" in out.out
    assert "ids not checked yet: no run has published results" in out.err


def test_every_command_records_its_action(home):
    commands = [
        (("override", "reroute", "--lead", "l1", "--team", "emea_enterprise"), Action.REROUTE_TEAM),
        (("override", "reclassify", "--lead", "l1", "--intent", "pricing"), Action.RECLASSIFY_INTENT),
        (("override", "disqualify", "--lead", "l1"), Action.DISQUALIFY),
        (("override", "pause", "--account", "acc_1"), Action.PAUSE_AUTOMATION),
        (("override", "resume", "--account", "acc_1"), Action.RESUME_AUTOMATION),
        (("override", "pause", "--global"), Action.PAUSE_AUTOMATION),
        (
            ("override", "correct", "--lead", "l1", "--field", "company", "--value", "Acme"),
            Action.CORRECT_FIELD,
        ),
        (("identity", "unmerge", "--event", "evt_1"), Action.UNMERGE),
    ]
    for argv, _ in commands:
        assert leadops(*argv, "--reason", "because", "--actor", "bob") == 0
    written = [override for _, override in overrides(home).accepted]
    assert [o.action for o in written] == [action for _, action in commands]
    assert all(o.actor == "bob" for o in written)
    assert written[5].scope == "global" and written[5].target_id is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("override", "reclassify", "--lead", "l1", "--intent", "hot", "--reason", "r"), "not one of"),
        (("override", "correct", "--lead", "l", "--field", "email", "--value", "x", "--reason", "r"), "mail"),
        (("override", "disqualify", "--lead", "l1", "--reason", " "), "reason is required"),
        (("override", "revoke", "ovr_unknown", "--reason", "r"), "no valid override ovr_unknown"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(home, capsys, argv, message):
    assert leadops(*argv) == 2
    assert message in capsys.readouterr().err
    assert not overrides_path(home).exists()


def test_a_missing_reason_is_an_argparse_error_with_exit_2(home):
    with pytest.raises(SystemExit) as stopped:
        leadops("override", "disqualify", "--lead", "l1")
    assert stopped.value.code == 2


def test_revoke_copies_the_target_and_list_marks_the_revoked_override(home, capsys):
    leadops("override", "pause", "--lead", "l1", "--reason", "legal hold")
    [(_, pause)] = overrides(home).accepted
    assert leadops("override", "revoke", pause.override_id, "--reason", "hold lifted") == 0
    revoke = overrides(home).accepted[1][1]
    assert (revoke.scope, revoke.target_id, revoke.value) == ("lead", "l1", pause.override_id)
    assert leadops("override", "revoke", pause.override_id, "--reason", "again") == 2
    capsys.readouterr()
    assert leadops("override", "list") == 0
    listing = capsys.readouterr().out
    assert f"REVOKED by {revoke.override_id}" in listing and f"revokes {pause.override_id}" in listing


def test_list_shows_hand_edit_mistakes_and_exits_1(home, capsys):
    leadops("override", "disqualify", "--lead", "l1", "--reason", "spam")
    with overrides_path(home).open("a") as handle:
        handle.write("ovr_x,2026-03-01T09:30:00Z,ann,lead,l2,disqualify,,\n")
    assert leadops("override", "list") == 1
    assert "line 3: reason is required" in capsys.readouterr().out


def test_a_broken_header_stops_the_cli_with_exit_2(home, capsys):
    path = overrides_path(home)
    path.parent.mkdir(parents=True)
    path.write_text("id,when,who\n")
    assert leadops("override", "disqualify", "--lead", "l1", "--reason", "spam") == 2
    assert "header" in capsys.readouterr().err
    assert path.read_text() == "id,when,who\n"


def publish(home, *statements: str) -> None:
    reader = Settings.from_env().reader_warehouse_path
    reader.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(reader)) as con:
        for statement in statements:
            con.execute(statement)


def test_an_unknown_lead_or_inactive_owner_is_refused_with_the_reason(home, capsys):
    publish(
        home,
        "create schema marts; create schema crm",
        "create table marts.lead_decisions as select 'lead_known' as lead_id",
        "create table crm.owners as select 'own_gone' as owner_id, false as active",
    )
    assert leadops("override", "reroute", "--lead", "lead_new", "--owner", "own_gone", "--reason", "r") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "no lead lead_new" in err and "owner own_gone is unknown or inactive" in err
    assert "nothing recorded" in err and not overrides_path(home).exists()
    assert leadops("override", "disqualify", "--lead", "lead_known", "--reason", "r") == 0
    assert "warning" not in capsys.readouterr().err


def test_allow_unknown_records_an_override_for_an_id_the_next_run_brings(home, capsys):
    publish(home, "create schema marts", "create table marts.lead_decisions as select 'l0' as lead_id")
    assert leadops("override", "disqualify", "--lead", "lead_new", "--reason", "r", "--allow-unknown") == 0
    assert "warning: no lead lead_new" in capsys.readouterr().err
    assert [o.target_id for _, o in overrides(home).accepted] == ["lead_new"]


def test_ids_that_cannot_be_checked_yet_are_recorded_with_a_clear_note(home, capsys):
    assert leadops("override", "pause", "--account", "acc_1", "--reason", "r") == 0
    assert "ids not checked yet: no run has published results" in capsys.readouterr().err
    publish(home, "create schema marts")
    assert leadops("override", "pause", "--account", "acc_1", "--reason", "r") == 0
    assert "acc_1 not checked: the last published results have no crm.accounts" in capsys.readouterr().err


def test_a_revoke_is_never_refused_for_the_id_it_names(home):
    leadops("override", "disqualify", "--lead", "typo", "--reason", "r")
    [(_, mistake)] = overrides(home).accepted
    publish(home, "create schema marts", "create table marts.lead_decisions as select 'l0' as lead_id")
    assert leadops("override", "revoke", mistake.override_id, "--reason", "typo") == 0


def test_explain_lists_loaded_overrides_and_the_ones_waiting_for_a_run(home):
    leadops("override", "disqualify", "--lead", "lead_1", "--reason", "competitor")
    [(_, waiting)] = overrides(home).accepted
    with duckdb.connect() as con:
        con.execute("create schema raw; create schema marts")
        con.execute(
            "create table raw.operator_overrides as select 'ovr_loaded' as override_id,"
            " timestamp '2026-03-01 09:00:00' as created_at, 'bob' as actor, 'global' as scope,"
            " null::varchar as target_id, 'pause_automation' as action, null::varchar as value,"
            " 'incident' as reason, 2 as line_number"
        )
        con.execute("create table marts.lead_decisions as select 'lead_1' as lead_id, 'acc_1' as account_id")
        con.execute("create table marts.lead_events as select 'evt_1' as event_id, 'lead_1' as lead_id")
        text = "\n".join(explain_override_lines(con, "lead_1", Settings.from_env()))
    assert "ovr_loaded pause_automation on global by bob" in text and "reason: incident" in text
    pending = f"{waiting.override_id} disqualify on lead by ann.operator: recorded, applies on the next run"
    assert pending in text
