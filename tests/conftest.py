"""Every test runs against a throw-away data home: no test touches a user's .leadops folder."""

from __future__ import annotations

import os
import tempfile

# Before any LeadOps module is imported: the definitions read the data home at import time.
_SESSION_HOME = tempfile.mkdtemp(prefix="leadops-test-home-")
os.environ["LEADOPS_HOME"] = _SESSION_HOME
os.environ["DAGSTER_HOME"] = os.path.join(_SESSION_HOME, "dagster")
os.environ.setdefault("LEADOPS_POLICY_DIR", "policies/default")
for name, value in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ[name] = value

pytest_plugins = ["tests.integrations.enrichment.vendor_fixtures", "tests.pipeline_warehouse"]


def pytest_configure(config) -> None:
    """The definitions are built from the dbt manifest: prepare it once, before any test imports them.

    It is prepared as `make setup` prepares it (the default data home): the manifest does not depend on the
    warehouse path, but its freshness stamp does, and this session's throw-away home would force a
    `dbt parse` (7 s, 20 s on a loaded machine) on every pytest invocation.
    """
    from dagster_project.dbt_manifest import ensure_manifest
    from dagster_project.settings import Settings

    session_environment = dict(os.environ)
    try:
        ensure_manifest(Settings.from_env({"LEADOPS_POLICY_DIR": os.environ["LEADOPS_POLICY_DIR"]}))
    finally:
        # ensure_manifest exports the home it was given for dbt; the tests keep their throw-away one.
        os.environ.clear()
        os.environ.update(session_environment)


def pytest_collection_modifyitems(config, items) -> None:
    """Slow modules first: `make test` deals whole modules to two workers in collection order, and a dbt
    scenario dealt last leaves the other worker idle for its whole length; the many fast modules then fill
    the workers' ends evenly. The order within a module is kept (module fixtures are built once)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
