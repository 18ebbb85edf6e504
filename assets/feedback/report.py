"""The outcome report: one self-contained HTML file with the numbers and charts people ask for.

Charts are Vega-Lite specs (altair) rendered to SVG in-process by vl-convert (a bundled engine, no
browser, no network) and inlined: the file opens offline, in a mail attachment or on a plane, and holds
no script at all. The key numbers are computed once (`key_numbers`) and used for the HTML table and the
asset's metadata alike, so the two can never disagree.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

REPORT_NAME = "outcome_report.html"
CHARTS = ("funnel", "speed_to_lead", "routing_accuracy", "rep_workload", "calibration")

_KEY_NUMBERS_SQL = """
select
    (select count(*) from marts.speed_to_lead) as routed_leads,
    (select count(*) from marts.speed_to_lead where is_touched) as touched_leads,
    (select coalesce(sum(misrouted_leads), 0) from marts.routing_accuracy) as misrouted_leads,
    (select coalesce(sum(qualified_leads), 0) from marts.qualified_pipeline) as qualified_leads,
    (select coalesce(sum(meetings), 0) from marts.qualified_pipeline) as meetings,
    (select coalesce(sum(opportunities), 0) from marts.qualified_pipeline) as opportunities,
    (select coalesce(sum(pipeline_value), 0) from marts.qualified_pipeline) as pipeline_value,
    (select p50_seconds from marts.speed_to_lead_percentiles
        where stage = 'end_to_end' and source = 'all' and team = 'all') as end_to_end_p50_seconds,
    (select p95_seconds from marts.speed_to_lead_percentiles
        where stage = 'end_to_end' and source = 'all' and team = 'all') as end_to_end_p95_seconds,
    (select max(series_leads) from marts.outcome_calibration where confidence = 'decision')
        as calibrated_leads,
    (select max(brier_score) from marts.outcome_calibration where confidence = 'decision')
        as decision_brier_score
"""
# One row per calibration series: the bins summed back up (leads-weighted means) beside the series' score.
_CALIBRATION_SERIES_SQL = """
select
    confidence,
    basis,
    sum(leads) as leads,
    sum(leads * mean_predicted) / sum(leads) as mean_predicted,
    sum(leads * observed_rate) / sum(leads) as observed_rate,
    max(brier_score) as brier_score
from marts.outcome_calibration
group by confidence, basis
order by confidence, basis
"""
_LABELS = {
    "routed_leads": "Routed leads",
    "touched_leads": "Touched leads",
    "misrouted_leads": "Misrouted leads (reassigned by a person in the window)",
    "routing_accuracy": "Routing accuracy",
    "qualified_leads": "Qualified leads",
    "meetings": "Meetings",
    "opportunities": "Opportunities",
    "pipeline_value": "Pipeline value",
    "end_to_end_p50_seconds": "Speed to lead p50 (s)",
    "end_to_end_p95_seconds": "Speed to lead p95 (s)",
    "calibrated_leads": "Leads with a telling outcome (calibration)",
    "decision_brier_score": "Brier score, weakest confidence each decision used",
}


def key_numbers(con: duckdb.DuckDBPyConnection) -> dict[str, float | int | None]:
    row = con.execute(_KEY_NUMBERS_SQL).fetchone()
    names = [column[0] for column in con.description]
    numbers: dict[str, Any] = {
        name: (float(value) if isinstance(value, float) or hasattr(value, "as_integer_ratio") else value)
        for name, value in zip(names, row, strict=True)
    }
    for name in (
        "routed_leads",
        "touched_leads",
        "misrouted_leads",
        "qualified_leads",
        "meetings",
        "calibrated_leads",
    ):
        numbers[name] = int(numbers[name] or 0)
    numbers["opportunities"] = int(numbers["opportunities"] or 0)
    routed = numbers["routed_leads"]
    numbers["routing_accuracy"] = 1 - numbers["misrouted_leads"] / routed if routed else None
    return {name: numbers.get(name) for name in _LABELS}


def format_number(name: str, value: float | int | None) -> str:
    if value is None:
        return "–"
    if name == "routing_accuracy":
        return f"{value:.1%}"
    if name.endswith("brier_score"):
        return f"{value:.3f}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def key_numbers_markdown(numbers: dict[str, Any]) -> str:
    rows = [f"| {_LABELS[name]} | {format_number(name, value)} |" for name, value in numbers.items()]
    return "\n".join(["| measure | value |", "|---|---|", *rows])


@dataclass(frozen=True)
class ReportData:
    funnel: pd.DataFrame
    stage_durations: pd.DataFrame
    accuracy_by_rule: pd.DataFrame
    workload: pd.DataFrame
    calibration: pd.DataFrame
    calibration_series: pd.DataFrame


def read_report_data(con: duckdb.DuckDBPyConnection) -> ReportData:
    numbers = key_numbers(con)
    funnel = pd.DataFrame(
        {
            "step": ["routed", "touched", "qualified", "meetings", "opportunities"],
            "order": [1, 2, 3, 4, 5],
            "count": [numbers[name] for name in ("routed_leads", "touched_leads", "qualified_leads")]
            + [numbers["meetings"], numbers["opportunities"]],
        }
    )
    stages = con.execute(
        "select stage, stage_order, seconds from ("
        + " union all ".join(
            f"select '{stage}' as stage, {order} as stage_order, {stage}_seconds as seconds"
            f" from marts.speed_to_lead where {stage}_seconds is not null"
            for order, stage in enumerate(
                ["landed", "validated", "matched", "enriched", "decided", "written_to_crm", "first_touch"],
                start=1,
            )
        )
        + ")"
    ).df()
    accuracy = con.execute(
        "select decided_week, rule_id, sum(routed_leads) as routed_leads,"
        " 1 - sum(misrouted_leads) * 1.0 / sum(routed_leads) as routing_accuracy"
        " from marts.routing_accuracy group by 1, 2 order by 1, 2"
    ).df()
    workload = con.execute(
        "select owner_id, sum(assigned) as assigned, sum(credits) as credits, sum(net_load) as net_load"
        " from marts.rep_workload group by 1 order by 1"
    ).df()
    calibration = con.execute(
        "select confidence || ' / ' || basis as series, bin_lower, leads, mean_predicted, observed_rate"
        " from marts.outcome_calibration order by confidence, basis, bin_lower"
    ).df()
    return ReportData(funnel, stages, accuracy, workload, calibration, calibration_series(con))


def calibration_series(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(_CALIBRATION_SERIES_SQL).df()


def _charts(data: ReportData) -> dict[str, Any]:
    import altair as alt

    width = 520
    funnel = (
        alt.Chart(data.funnel, title="Funnel: routed leads to opportunities")
        .mark_bar()
        .encode(
            y=alt.Y("step:N", sort=alt.SortField("order"), title=None),
            x=alt.X("count:Q", title="leads / meetings / opportunities"),
            tooltip=["step", "count"],
        )
        .properties(width=width)
    )
    durations = data.stage_durations.assign(minutes=data.stage_durations["seconds"] / 60)
    speed = (
        alt.Chart(durations, title="Speed to lead: minutes per stage (box: p25–p75, whiskers 1.5 IQR)")
        .mark_boxplot(extent=1.5)
        .encode(
            y=alt.Y("stage:N", sort=alt.SortField("stage_order"), title=None),
            x=alt.X("minutes:Q", title="minutes"),
        )
        .properties(width=width)
    )
    accuracy = (
        alt.Chart(data.accuracy_by_rule, title="Routing accuracy by rule and decision week")
        .mark_line(point=True)
        .encode(
            x=alt.X("decided_week:T", title="week decided"),
            y=alt.Y("routing_accuracy:Q", title="routing accuracy", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("rule_id:N", title="rule"),
        )
        .properties(width=width)
    )
    workload_long = data.workload.melt(
        id_vars="owner_id", value_vars=["assigned", "credits", "net_load"], var_name="measure"
    )
    workload = (
        alt.Chart(workload_long, title="Workload per rep: assigned, credits given back, net load")
        .mark_bar()
        .encode(
            y=alt.Y("owner_id:N", title="owner"),
            x=alt.X("value:Q", title="leads"),
            color=alt.Color("measure:N"),
            yOffset="measure:N",
        )
        .properties(width=width)
    )
    diagonal = pd.DataFrame({"mean_predicted": [0, 1], "observed_rate": [0, 1]})
    calibration = (
        alt.Chart(diagonal)
        .mark_line(strokeDash=[4, 4], color="grey")
        .encode(x="mean_predicted:Q", y="observed_rate:Q")
        + alt.Chart(data.calibration)
        .mark_line(point=True)
        .encode(
            x=alt.X("mean_predicted:Q", title="mean predicted probability", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed_rate:Q", title="observed rate", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("series:N", title="confidence / basis"),
            size=alt.Size("leads:Q"),
        )
    ).properties(width=width, title="Calibration: predicted probability against outcomes")
    return {
        "funnel": funnel,
        "speed_to_lead": speed,
        "routing_accuracy": accuracy,
        "rep_workload": workload,
        "calibration": calibration,
    }


def render_svg(chart: Any) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json())


def _calibration_table(series: pd.DataFrame) -> str:
    """Per confidence and basis: leads, mean predicted, observed rate and Brier score, as in the mart."""
    header = "".join(
        f"<th>{label}</th>"
        for label in ("confidence", "basis", "leads", "mean predicted", "observed rate", "Brier score")
    )
    rows = "\n".join(
        f'<tr data-series="{html.escape(row.confidence)}/{html.escape(row.basis)}"'
        f' data-leads="{int(row.leads)}" data-mean-predicted="{row.mean_predicted}"'
        f' data-observed-rate="{row.observed_rate}" data-brier-score="{row.brier_score}">'
        f"<td>{html.escape(row.confidence)}</td><td>{html.escape(row.basis)}</td><td>{int(row.leads)}</td>"
        f"<td>{row.mean_predicted:.3f}</td><td>{row.observed_rate:.3f}</td><td>{row.brier_score:.3f}</td></tr>"
        for row in series.itertuples(index=False)
    )
    return f'<table id="calibration"><tr>{header}</tr>\n{rows}</table>'


def render_html(numbers: dict[str, Any], data: ReportData, generated_at: datetime) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(_LABELS[name])}</th>'
        f'<td data-key="{name}" data-value="{"" if value is None else value}">'
        f"{html.escape(format_number(name, value))}</td></tr>"
        for name, value in numbers.items()
    )
    figures = "\n".join(
        f'<figure data-chart="{name}">{render_svg(chart)}</figure>' for name, chart in _charts(data).items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LeadOps outcome report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}table{{border-collapse:collapse}}
th,td{{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left}}td{{text-align:right}}
figure{{margin:2rem 0}}</style></head>
<body><h1>LeadOps outcome report</h1>
<p>Generated {generated_at:%Y-%m-%d %H:%M} UTC from the outcome marts (marts.routing_accuracy,
speed_to_lead, qualified_pipeline, rep_workload, outcome_calibration).</p>
<table id="key-numbers">{rows}</table>
{figures}
<h2>Calibration by confidence and basis</h2>
<p>Rule and operator decisions are scored as predicted 1.0: LeadOps acts on them as certain. A series whose
observed rate sits well below its mean predicted value is over-confident.</p>
{_calibration_table(data.calibration_series)}
</body></html>
"""


def write_report(
    con: duckdb.DuckDBPyConnection, reports_dir: Path, now: datetime | None = None
) -> tuple[Path, dict]:
    """Render the report into reports_dir/outcome_report.html (temporary file, then a rename)."""
    numbers = key_numbers(con)
    document = render_html(numbers, read_report_data(con), now or datetime.now(UTC))
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / REPORT_NAME
    temporary = path.with_suffix(".html.tmp")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, path)
    return path, numbers
