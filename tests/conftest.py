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
    """`make test` deals whole modules to two workers (`--dist loadfile`) in collection order: modules with
    a slow test come first, whole (a module split in two builds its fixtures twice), so neither worker waits
    alone on a dbt scenario dealt last while the many fast modules fill both workers' ends."""
    slow_modules = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in slow_modules)
