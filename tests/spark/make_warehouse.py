"""Make a DuckDB warehouse the way `leadops demo` does, in a process of its own (the job exports its data
home into the environment): the demo CRM and enrichment file, then one run of the job on landed leads.
With `--seed`, the leads are the demo's situations drawn with another seed (other arrival times, addresses
and browsers, so other bursts, SLA clocks and business-hours cases).

    python -m tests.spark.make_warehouse HOME            # the demo
    python -m tests.spark.make_warehouse HOME --seed 7   # a second generated data set
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / "demo"


def generated_leads(seed: int, path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("generate_demo_leads", DEMO_DIR / "generate_demo_leads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path.write_text(
        "".join(json.dumps(event) + "\n" for event in module.build_events(seed)), encoding="utf-8"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    home = args.home.resolve()
    os.environ["LEADOPS_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    os.environ["LEADOPS_FIRMOGRAPHICS_PATH"] = str(DEMO_DIR / "firmographics.csv")
    from dagster_project.cli import main as leadops

    if args.seed is None:
        return leadops(["demo"])
    crm = DEMO_DIR / "crm"
    status = leadops(
        ["crm", "import"]
        + [f"--{name}={crm / f'{name}.csv'}" for name in ("owners", "accounts", "contacts", "opportunities")]
    )
    leads = generated_leads(args.seed, home.parent / f"leads-seed-{args.seed}.jsonl")
    return status or leadops(["land", str(leads)]) or leadops(["run"])


if __name__ == "__main__":
    sys.exit(main())
