"""A real BottleCRM server for tests, built on tools/bottlecrm (its own Python 3.12 venv).

The first use on a machine runs tools/bottlecrm/setup.sh: the venv (~1 min) and the template database
(~150 s of `migrate`); later starts copy the template (a few seconds). Never skipped: a missing venv is built.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from integrations.crm.bottlecrm import BottleCrm

_LAUNCHER = Path(__file__).resolve().parents[3] / "tools" / "bottlecrm" / "launch.py"


def _launcher() -> ModuleType:
    # tools/ is not a package of LeadOps: load the launcher by path, as a developer runs it.
    spec = importlib.util.spec_from_file_location("bottlecrm_launch", _LAUNCHER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def bottlecrm_server(owners: Sequence[tuple[str, bool]] = ()) -> Iterator[object]:
    """A running server with one profile per (email, active) owner; stopped (process group) on exit."""
    launch = _launcher()
    specs = [
        launch.OwnerSpec(email=email, name=email.split("@")[0], active=active) for email, active in owners
    ]
    with launch.BottleCrmServer(owners=specs) as server:
        yield server


def client_for(server: object) -> BottleCrm:
    return BottleCrm(server.base_url, server.token, server.intake_id, server.intake_key)  # type: ignore[attr-defined]
