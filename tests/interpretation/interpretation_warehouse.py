"""A temporary warehouse with the interpretation asset's inputs, built by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import duckdb

LEAD_COLUMNS = ("lead_id", "source", "message", "job_title", "company", "rule_intent", "needs_interpretation")
INSERT_LEAD = (
    f"insert into intermediate.int_classify_lead_intents values ({', '.join('?' * len(LEAD_COLUMNS))})"
)


def lead(lead_id: str, message: str | None, *, needs: bool = True, **fields: object) -> dict[str, object]:
    return {
        "lead_id": lead_id,
        "source": fields.get("source", "web_form"),
        "message": message,
        "job_title": fields.get("job_title", "Head of Sales"),
        "company": fields.get("company", "Northwind"),
        "rule_intent": fields.get("rule_intent"),
        "needs_interpretation": needs,
    }


def create_warehouse(
    path: Path, leads: list[dict[str, object]], *, min_confidence: float | None = 0.6
) -> None:
    """`min_confidence` None leaves out `rules.decision_thresholds` altogether."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create or replace table intermediate.int_classify_lead_intents (lead_id varchar, source varchar,"
            " message varchar, job_title varchar, company varchar, rule_intent varchar,"
            " needs_interpretation boolean)"
        )
        con.executemany(
            INSERT_LEAD,
            [[row[c] for c in LEAD_COLUMNS] for row in leads],
        )
        if min_confidence is not None:
            con.execute("create schema if not exists rules")
            con.execute(
                "create or replace table rules.decision_thresholds"
                " (threshold varchar, value double, description varchar)"
            )
            con.execute(
                "insert into rules.decision_thresholds values"
                " ('intent_min_confidence', ?, 'below: LLM or escalate'), ('other', 0.1, 'unrelated')",
                [min_confidence],
            )


def replace_leads(path: Path, leads: list[dict[str, object]]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("delete from intermediate.int_classify_lead_intents")
        con.executemany(
            INSERT_LEAD,
            [[row[c] for c in LEAD_COLUMNS] for row in leads],
        )


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()
