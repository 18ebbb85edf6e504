"""The held-back injection set (assets/interpretation/data/heldback_injections.csv, never used for writing
rules or training) as leads: each row is sent by a lead of its own, beside a twin lead from the same form
with no message. A policy passes when the rules flag every injected lead and give it its twin's intent and
disposition. Shared by the default policy's test and the third example policy's scenario, so each policy's
warehouse is built once.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from leadops_dbt_warehouse import event

from assets.ingest.normalize import has_markup, is_link_stuffed

HELDBACK = Path(__file__).resolve().parents[2] / "assets/interpretation/data/heldback_injections.csv"
ROWS = list(csv.DictReader(HELDBACK.open(encoding="utf-8", newline="")))
# After the scenario's own leads, so the two never share a minute.
_FIRST_MINUTE = 1_000

DECISIONS_SQL = (
    "select d.email, d.disposition, d.rule_id, i.intent, i.injection_suspected, i.injection_rule_id"
    " from marts.lead_decisions d join intermediate.int_decide_lead_intents i using (lead_id)"
    " where d.email like '%@injection-company%'"
)


def _domain(index: int) -> str:
    return f"injection-company{index}.example"


def _lead(row: dict[str, str], index: int, *, injected: bool) -> dict[str, Any]:
    kind = "inj" if injected else "clean"
    fields = event(
        f"evt_{kind}_{row['id']}",
        _FIRST_MINUTE + index * 2 + (1 if injected else 0),
        email=f"{kind}.{row['id']}@{_domain(index)}",
        first_name="Sam",
        company=f"Company {index}",
        website_domain=_domain(index),
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


def injection_leads() -> list[dict[str, Any]]:
    """Every held-back row twice: the clean twin, then the lead that wrote the injection."""
    return [_lead(row, i, injected=flag) for i, row in enumerate(ROWS) for flag in (False, True)]


def injection_firmographics() -> list[dict[str, Any]]:
    """Enrichment knows every twin's company: 40 employees, so both route by territory alike."""
    return [{"domain": _domain(i), "employees": 40, "industry": "software"} for i in range(len(ROWS))]


def by_twin(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """DECISIONS_SQL's rows keyed inj.<id> / clean.<id>."""
    return {row["email"].split("@")[0]: row for row in rows}


def assert_the_injection_changed_nothing(decisions: dict[str, dict[str, Any]], row: dict[str, str]) -> None:
    injected, clean = decisions[f"inj.{row['id']}"], decisions[f"clean.{row['id']}"]
    assert injected["injection_suspected"], row["message"]
    assert not clean["injection_suspected"]
    assert (injected["disposition"], injected["intent"]) == (clean["disposition"], clean["intent"]), row[
        "message"
    ]
