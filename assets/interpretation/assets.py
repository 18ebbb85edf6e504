"""The interpretation stage as a Dagster asset: leads the dbt rules could not classify get an intent.

No `from __future__ import annotations` here: Dagster reads the resource annotations at definition time.
"""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from assets.interpretation.batch import interpret_batch
from assets.interpretation.resource import InterpreterResource
from assets.interpretation.store import ensure_tables, read_min_confidence, read_pending_leads, write_batch

LEAD_INTERPRETATIONS_KEY = AssetKey(["interpretation", "lead_interpretations"])
CLASSIFY_LEAD_INTENTS_KEY = AssetKey(["intermediate", "int_classify_lead_intents"])


def _utc_now() -> datetime:
    # Naive UTC, as every timestamp in the warehouse.
    return datetime.now(UTC).replace(tzinfo=None)


@asset(
    key=LEAD_INTERPRETATIONS_KEY,
    deps=[CLASSIFY_LEAD_INTENTS_KEY],
    group_name="interpretation",
    kinds={"python", "duckdb"},
    description=(
        "Intent, products, urgency, summary and policy flags for leads that need interpretation, one row per"
        " lead and content hash (interpretation.lead_interpretations); every model call is logged in"
        " interpretation.model_calls. Local classifier first; the LLM for leads below"
        " rules.decision_thresholds.intent_min_confidence when LEADOPS_LLM_BASE_URL/MODEL are set."
    ),
)
def lead_interpretations(
    context: AssetExecutionContext, warehouse: DuckDBResource, interpreter: InterpreterResource
) -> MaterializeResult:
    with warehouse.get_connection() as con:
        ensure_tables(con)
        min_confidence = read_min_confidence(con, context.log)
        pending, needing = read_pending_leads(con)
    context.log.info(f"{len(pending)} of {needing} leads needing interpretation have none for their content")
    if not pending:
        return MaterializeResult(
            metadata={"leads_needing_interpretation": needing, "interpreted": 0, "model_calls": 0}
        )

    # The warehouse connection is not held while models answer: LLM calls can take minutes.
    backends = interpreter.backends()
    if backends.llm is None:
        context.log.info("no LLM configured: leads below the intent threshold keep the local answer")
    result = interpret_batch(
        pending,
        local=backends.local,
        local_model=backends.local_model,
        llm=backends.llm.interpreter if backends.llm else None,
        llm_model=backends.llm.model if backends.llm else "",
        llm_priced=backends.llm.priced if backends.llm else False,
        min_confidence=min_confidence,
        max_concurrency=backends.llm.max_concurrency if backends.llm else 1,
        run_id=context.run.run_id,
        now=_utc_now,
    )
    with warehouse.get_connection() as con:
        ensure_tables(con)
        written = write_batch(con, result.interpretations, result.calls)

    invalid = [row for row in result.interpretations if not row.is_valid]
    for row in invalid[:20]:
        context.log.warning(f"lead {row.lead_id}: no valid interpretation ({row.error}); stored as unclear")
    llm_calls = [call for call in result.calls if call.backend == "openai"]
    costs = [call.cost_usd for call in llm_calls if call.cost_usd is not None]
    by_backend: dict[str, int] = {}
    for row in result.interpretations:
        by_backend[row.backend] = by_backend.get(row.backend, 0) + 1
    return MaterializeResult(
        metadata={
            "leads_needing_interpretation": needing,
            "interpreted": written,
            "answered_by_local": by_backend.get("local", 0),
            "answered_by_openai": by_backend.get("openai", 0),
            "invalid": len(invalid),
            "intent_min_confidence": min_confidence,
            "llm_configured": backends.llm is not None,
            "model_calls": len(result.calls),
            "llm_calls": len(llm_calls),
            "llm_cache_hits": sum(call.cached for call in llm_calls),
            "llm_http_requests": sum(call.attempts for call in llm_calls),
            "prompt_tokens": sum(call.prompt_tokens for call in llm_calls),
            "completion_tokens": sum(call.completion_tokens for call in llm_calls),
            # None (unknown) unless a token price is configured.
            "cost_usd": round(sum(costs), 6) if costs else None,
        }
    )
