"""The operator's overrides file → raw.operator_overrides (valid rows) and raw.rejected_overrides (each bad
line with its reason), on every run, validated by the same code the `leadops override` CLI uses."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from assets.overrides.resources import OverridesSource
from assets.overrides.tables import replace_override_tables
from integrations.overrides_file.contract import ParsedOverrides, parse_overrides

OPERATOR_OVERRIDES_KEY = AssetKey("operator_overrides")
ALL_LINES_VALID_CHECK = "every_override_line_is_valid"
# The sensor compares the file's hash with this metadata entry to see whether a run already loaded it.
CONTENT_SHA256_METADATA = "content_sha256"
_REJECTED_SHOWN = 20


@asset(
    key=OPERATOR_OVERRIDES_KEY,
    group_name="ingest",
    kinds={"python", "duckdb", "csv"},
    check_specs=[
        AssetCheckSpec(
            ALL_LINES_VALID_CHECK,
            asset=OPERATOR_OVERRIDES_KEY,
            blocking=False,
            description="Every line of the overrides file is a valid override (a bad one is only skipped).",
        )
    ],
    description=(
        "Human overrides from $LEADOPS_HOME/overrides/overrides.csv (`leadops override ...` or a hand edit):"
        " valid rows in raw.operator_overrides, each rejected line with its reason in raw.rejected_overrides."
        " Replaced whole every run; no file means no overrides."
    ),
)
def operator_overrides(
    context: AssetExecutionContext, warehouse: DuckDBResource, overrides_file: OverridesSource
):
    snapshot = overrides_file.read_snapshot()
    # A changed header or a non-UTF-8 file raises here: the run stops rather than act without the humans'
    # pauses and corrections, and the error says how to fix the file.
    parsed = parse_overrides(snapshot.text())
    with warehouse.get_connection() as con:
        replace_override_tables(con, parsed)
    if parsed.rejected:
        context.log.warning(
            f"{len(parsed.rejected)} override line(s) rejected in {overrides_file.describe()}: "
            + "; ".join(f"line {line.line_number}: {line.reason}" for line in parsed.rejected[:5])
        )
    yield MaterializeResult(metadata=_metadata(parsed, overrides_file.describe(), snapshot.content_sha256))
    yield AssetCheckResult(
        check_name=ALL_LINES_VALID_CHECK,
        passed=not parsed.rejected,
        severity=AssetCheckSeverity.WARN,
        metadata={"rejected_lines": len(parsed.rejected)},
        description=(
            f"{len(parsed.rejected)} line(s) rejected; see raw.rejected_overrides or `leadops override list`"
            if parsed.rejected
            else "all override lines valid"
        ),
    )


def _metadata(parsed: ParsedOverrides, source: str, content_sha256: str) -> dict[str, object]:
    counts = parsed.action_counts()
    rejected_table = [
        "| line | reason |",
        "|---|---|",
        *(
            f"| {line.line_number} | {line.reason.replace('|', '/')} |"
            for line in parsed.rejected[:_REJECTED_SHOWN]
        ),
    ]
    return {
        "source": source,
        CONTENT_SHA256_METADATA: content_sha256,
        "overrides": len(parsed.accepted),
        "rejected": len(parsed.rejected),
        "revoked": len(parsed.revoked_by()),
        **{f"action_{action}": count for action, count in counts.items()},
        "rejected_lines": MetadataValue.md("\n".join(rejected_table)),
    }
