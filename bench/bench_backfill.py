"""Backfill benchmark (not a test): N synthetic leads through `leadops backfill`, then the same again.

    python bench/bench_backfill.py --leads 100000 --chunk-leads 25000

A fresh temporary LEADOPS_HOME with the test fixture CRM (as bench_pipeline's), the leads of
bench_pipeline.synthetic_event written as files of 10,000 lines, one backfill measured (wall time, peak RSS
of this process — dbt and the runs execute in it — and seconds per pipeline step summed over the chunks),
then a second backfill of the same files, which must skip every chunk (the resume path).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import FIXTURE_CRM, synthetic_event

LINES_PER_FILE = 10_000


def write_history(folder: Path, leads: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    for first in range(0, leads, LINES_PER_FILE):
        lines = [
            json.dumps(synthetic_event(index, rng, start + timedelta(seconds=30 * index)))
            for index in range(first, min(first + LINES_PER_FILE, leads))
        ]
        (folder / f"history-{first // LINES_PER_FILE:04d}.jsonl").write_text("\n".join(lines) + "\n")


def make_home() -> Path:
    """A fresh data home with the fixture CRM and the demo's enrichment reference file."""
    home = Path(tempfile.mkdtemp(prefix="leadops-bench-backfill-"))
    os.environ["LEADOPS_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    os.environ["LEADOPS_FIRMOGRAPHICS_PATH"] = str(FIXTURE_CRM.parents[2] / "demo" / "firmographics.csv")
    from dagster_project.settings import Settings
    from integrations.crm.csv_import import import_crm_csvs
    from integrations.crm.embedded import EmbeddedCrm

    settings = Settings.from_env()
    settings.prepare_home()
    import_crm_csvs(
        EmbeddedCrm(settings.crm_path),
        owners=FIXTURE_CRM / "owners.csv",
        accounts=FIXTURE_CRM / "accounts.csv",
        contacts=FIXTURE_CRM / "contacts.csv",
        opportunities=FIXTURE_CRM / "opportunities.csv",
    )
    return home


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--chunk-leads", type=int, default=25_000)
    args = parser.parse_args()

    make_home()
    from dagster_project.cli.backfill import backfill
    from dagster_project.settings import Settings

    settings = Settings.from_env()
    history = Path(tempfile.mkdtemp(prefix="leadops-history-"))
    began = time.perf_counter()
    write_history(history, args.leads)
    generate_seconds = time.perf_counter() - began

    began = time.perf_counter()
    first = backfill(settings, [history], args.chunk_leads, show_progress=False)
    backfill_seconds = time.perf_counter() - began
    rss_after_backfill = peak_rss_mb()
    began = time.perf_counter()
    again = backfill(settings, [history], args.chunk_leads, show_progress=False)
    resume_seconds = time.perf_counter() - began

    result = {
        "leads": args.leads,
        "chunk_leads": args.chunk_leads,
        "generate_seconds": round(generate_seconds, 1),
        "backfill_wall_seconds": round(backfill_seconds, 1),
        "leads_per_second": round(args.leads / backfill_seconds, 1),
        "chunk_run_seconds": first["run_seconds"],
        "step_seconds": first["step_seconds"],
        "failed": first["failed"],
        "peak_rss_mb": round(rss_after_backfill, 0),
        "rerun_skipped_chunks": f"{again['skipped_chunks']} of {again['chunks']}",
        "rerun_wall_seconds": round(resume_seconds, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
