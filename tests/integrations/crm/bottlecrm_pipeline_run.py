"""`leadops` as a subprocess against BottleCRM, with the demo's teams, regions and capacities per rep.

BottleCRM profiles carry no team, region or capacity in the shape routing needs (the adapter gives every
rep one default team, so no routing rule would find an owner). This entry point, used only by
test_bottlecrm_pipeline.py, completes each owner BottleCRM returns from demo/crm/owners.csv by email, then
runs the real CLI: everything else (leads, owners' ids and activity, tasks, notes) is what BottleCRM holds.

    python bottlecrm_pipeline_run.py run
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from dagster_project.cli import main
from integrations.crm.bottlecrm import BottleCrm

DEMO_OWNERS = Path(__file__).resolve().parents[3] / "demo" / "crm" / "owners.csv"


def demo_owner_rows() -> list[dict[str, str]]:
    with DEMO_OWNERS.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _with_demo_teams() -> None:
    by_email = {row["email"].lower(): row for row in demo_owner_rows()}
    read_owners = BottleCrm.read_owners

    def read_owners_with_teams(self: BottleCrm):  # type: ignore[no-untyped-def]
        owners = []
        for owner in read_owners(self):
            row = by_email.get(str(owner.email).lower())
            if row is not None:
                owner = owner.model_copy(
                    update={"team": row["team"], "region": row["region"], "capacity": int(row["capacity"])}
                )
            owners.append(owner)
        return owners

    BottleCrm.read_owners = read_owners_with_teams  # type: ignore[method-assign]


if __name__ == "__main__":
    _with_demo_teams()
    raise SystemExit(main(sys.argv[1:]))
