"""Run a Great Expectations 1.x suite kept in git against a pandas DataFrame; report it to Dagster.

Why a wrapper of our own: dagster-ge pins great_expectations < 1.0. Why these choices (measured with
GX 1.24 on the 2-core reference machine):

* `import great_expectations` costs 6-8 s, so it happens inside `validate_dataframe`, never at import
  time of the Dagster definitions;
* the ephemeral context keeps nothing on disk: suites live here as reviewed JSON, and the file-backed
  context would write a result file per run and refuse a datasource name reused by another process;
* the SQL route to DuckDB failed every expectation, so callers read the table into pandas first;
* GX logs and drops an expectation whose type it does not know, which would silently weaken a gate, so
  the loaded count is compared with the file and a mismatch raises `SuiteLoadError`.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    import pandas as pd

SUITES_DIR = Path(__file__).resolve().parent / "suites"

# Enough unexpected values to recognise the problem in the Dagster UI without flooding it.
_SAMPLE_SIZE = 5


class SuiteLoadError(ValueError):
    """The suite file is unreadable or GX did not load every expectation in it."""


class ExpectationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class SuiteFile(BaseModel):
    """The JSON shape of a suite in expectations/suites/."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    meta: dict[str, Any] = Field(default_factory=dict)
    expectations: list[ExpectationSpec] = Field(min_length=1)


class FailedExpectation(BaseModel):
    type: str
    column: str | None
    kwargs: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_sample: list[Any] = Field(default_factory=list)
    observed_value: Any = None
    exception: str | None = None

    @property
    def summary(self) -> str:
        if self.exception:
            return f"error: {self.exception}"
        if self.unexpected_count is not None:
            share = f" ({self.unexpected_percent:.1f}%)" if self.unexpected_percent is not None else ""
            sample = ", ".join(repr(value) for value in self.unexpected_sample)
            return f"{self.unexpected_count} unexpected{share}" + (f", e.g. {sample}" if sample else "")
        return f"observed {self.observed_value!r}"


class SuiteOutcome(BaseModel):
    suite_name: str
    success: bool
    evaluated: int
    failed: list[FailedExpectation]
    statistics: dict[str, Any]


def load_suite(path: Path) -> dict[str, Any]:
    """The suite file as a dict, after checking its shape (name, expectations with type and kwargs)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return SuiteFile.model_validate(raw).model_dump()
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        raise SuiteLoadError(f"cannot load expectation suite {path}: {error}") from error


def _plain(value: Any) -> Any:
    """JSON-ready values: GX hands back Condition objects, numpy scalars and NaN for nulls."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    if hasattr(value, "item"):
        return _plain(value.item())
    return repr(value)


def _exception_message(exception_info: Any) -> str | None:
    # GX reports an exception either flat ({"raised_exception": True, ...}) or, when a metric failed to
    # resolve (a missing column), as a dict keyed by metric id.
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message"))
    messages = {
        str(info.get("exception_message"))
        for info in exception_info.values()
        if isinstance(info, dict) and info.get("raised_exception")
    }
    return "; ".join(sorted(messages)) or None


def _failed_expectation(result: Any) -> FailedExpectation:
    config = result.expectation_config
    kwargs = {key: _plain(value) for key, value in config.kwargs.items() if key != "batch_id"}
    column = kwargs.get("column")
    if column is None and "column_A" in kwargs:
        column = f"{kwargs['column_A']}, {kwargs['column_B']}"
    details = result.result or {}
    return FailedExpectation(
        type=config.type,
        column=column,
        kwargs=kwargs,
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=_plain(details.get("unexpected_percent")),
        unexpected_sample=_plain(list(details.get("partial_unexpected_list") or [])[:_SAMPLE_SIZE]),
        observed_value=_plain(details.get("observed_value")),
        exception=_exception_message(result.exception_info),
    )


def validate_dataframe(df: pd.DataFrame, suite_path: Path) -> SuiteOutcome:
    """Validate `df` against the suite at `suite_path`; failures are data, not exceptions.

    Raises SuiteLoadError when the suite cannot be read or GX dropped any of its expectations.
    """
    spec = load_suite(suite_path)
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite = ExpectationSuite(name=spec["name"], expectations=spec["expectations"], meta=spec["meta"])
    declared = Counter(expectation["type"] for expectation in spec["expectations"])
    loaded = Counter(expectation.expectation_type for expectation in suite.expectations)
    if loaded != declared:
        dropped = sorted((declared - loaded).elements())
        raise SuiteLoadError(
            f"{suite_path}: GX loaded {sum(loaded.values())} of {sum(declared.values())} expectations; "
            f"dropped (unknown type or invalid kwargs): {', '.join(dropped)}"
        )

    context = gx.get_context(mode="ephemeral")
    # tqdm bars would interleave with Dagster's structured logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name=spec["name"])
        .add_dataframe_asset(name=spec["name"])
        .add_batch_definition_whole_dataframe(name=spec["name"])
        .get_batch(batch_parameters={"dataframe": df})
    )
    validation = batch.validate(suite, result_format="SUMMARY")
    failed = [_failed_expectation(result) for result in validation.results if not result.success]
    statistics = _plain(dict(validation.statistics))
    return SuiteOutcome(
        suite_name=spec["name"],
        success=bool(validation.success),
        evaluated=int(statistics["evaluated_expectations"]),
        failed=failed,
        statistics=statistics,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def failures_markdown(outcome: SuiteOutcome) -> str:
    lines = ["| expectation | column | problem |", "| --- | --- | --- |"]
    lines += [
        f"| {_cell(failure.type)} | {_cell(failure.column or '')} | {_cell(failure.summary)} |"
        for failure in outcome.failed
    ]
    return "\n".join(lines)


def to_asset_check_result(
    outcome: SuiteOutcome,
    *,
    asset_key: AssetKey | str | Sequence[str] | None = None,
    check_name: str | None = None,
) -> AssetCheckResult:
    """A Dagster check result: passed iff the suite passed; failures as a markdown table, severity ERROR."""
    metadata: dict[str, Any] = {
        "suite": outcome.suite_name,
        "evaluated": outcome.evaluated,
        "failed": len(outcome.failed),
        "success_percent": float(outcome.statistics.get("success_percent") or 0.0),
    }
    if outcome.failed:
        metadata["failures"] = MetadataValue.md(failures_markdown(outcome))
    failing = f"{len(outcome.failed)} of {outcome.evaluated} expectations failed"
    return AssetCheckResult(
        passed=outcome.success,
        asset_key=asset_key,
        check_name=check_name,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=None if outcome.success else f"{failing} in suite {outcome.suite_name}",
    )
