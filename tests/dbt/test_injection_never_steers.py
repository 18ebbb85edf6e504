"""Injected text never steers a decision: every row of the held-back injection set
(assets/interpretation/data/heldback_injections.csv, never used for writing rules or training) is sent by a
lead of its own under the default policy, beside a twin lead from the same form with no message. The rules
must flag the injected lead and give it the twin's disposition. One dbt seed and run, no data tests (~1 min).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from leadops_dbt_warehouse import (
    DbtWorkspace,
    add_firmographics,
    append_events,
    create_warehouse,
    event,
    query,
)

from assets.ingest.normalize import has_markup, is_link_stuffed

pytestmark = pytest.mark.slow

HELDBACK = Path(__file__).resolve().parents[2] / "assets/interpretation/data/heldback_injections.csv"
ROWS = list(csv.DictReader(HELDBACK.open(encoding="utf-8", newline="")))
# The ingest reads an HTML tag in a form field as a bot signature (markup_in_fields) and disqualifies the
# lead before any intent rule is read; that spam signal is not the intent rules' to overrule.
DISQUALIFIED_AS_MARKUP = {"inj09"}


def _lead(row: dict[str, str], index: int, *, injected: bool) -> dict[str, Any]:
    kind = "inj" if injected else "clean"
    fields = event(
        f"evt_{kind}_{row['id']}",
        index * 2 + (1 if injected else 0),
        email=f"{kind}.{row['id']}@company{index}.example",
        first_name="Sam",
        company=f"Company {index}",
        website_domain=f"company{index}.example",
        country_code="US",
        employees_min=40,
        source=row["source"],
        # The ingest's message signals, as a real run lands them (the helper takes them as given).
        spam_signals=[
            signal
            for signal, found in (
                ("link_stuffed_message", is_link_stuffed(row["message"])),
                ("markup_in_fields", has_markup(row["message"])),
            )
            if injected and found
        ],
    )
    return {**fields, "message": row["message"] if injected else None}


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    scratch = tmp_path_factory.mktemp("injections")
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", "policies/default", scratch)
    create_warehouse(workspace.warehouse, {})
    add_firmographics(
        workspace.warehouse,
        [
            {"domain": f"company{i}.example", "employees": 40, "industry": "software"}
            for i in range(len(ROWS))
        ],
    )
    append_events(
        workspace.warehouse,
        [_lead(row, i, injected=flag) for i, row in enumerate(ROWS) for flag in (False, True)],
    )
    workspace.run("seed")
    workspace.run("run", "--select", "+lead_decisions")
    rows = query(
        workspace.warehouse,
        "select d.email, d.disposition, d.rule_id, i.intent, i.injection_suspected, i.injection_rule_id"
        " from marts.lead_decisions d join intermediate.int_decide_lead_intents i using (lead_id)",
    )
    return {row["email"].split("@")[0]: row for row in rows}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            row,
            id=row["id"],
            marks=[pytest.mark.xfail(strict=True, reason="markup_in_fields")]
            if row["id"] in DISQUALIFIED_AS_MARKUP
            else [],
        )
        for row in ROWS
    ],
)
def test_a_heldback_injection_gets_the_disposition_of_the_same_lead_without_it(decisions, row):
    injected, clean = decisions[f"inj.{row['id']}"], decisions[f"clean.{row['id']}"]
    assert injected["injection_suspected"], row["message"]
    assert not clean["injection_suspected"]
    assert (injected["disposition"], injected["intent"]) == (clean["disposition"], clean["intent"])
