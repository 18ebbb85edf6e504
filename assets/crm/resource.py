"""Dagster resources for the CRM: the embedded one for runs, and the fake for tests."""

from __future__ import annotations

from typing import ClassVar
from uuid import uuid4

import dagster as dg
from pydantic import Field

from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.port import CrmPort


class CrmResource(dg.ConfigurableResource):
    """The embedded CRM at `database_path` (absolute, from `Settings.crm_path`).

    A run only opens an existing CRM: a missing or empty file fails the run, because creating a fresh one
    would let the outbox believe every earlier write is still there. `leadops crm import` initialises it.
    """

    database_path: str = Field(description="Path of the embedded CRM's SQLite file.")
    busy_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a write waits for another writer (the CLI import) before a transient error.",
    )

    def client(self) -> CrmPort:
        return EmbeddedCrm(self.database_path, busy_timeout_seconds=self.busy_timeout_seconds, create=False)


class FakeCrmResource(dg.ConfigurableResource):
    """Hands every step the same `FakeCrm`, so a test can inspect its calls and records after the run.

    Dagster rebuilds a resource from its config for each run, dropping anything that is not config, so the
    fake is kept in a registry under `fake_id` rather than on the instance.
    """

    fake_id: str = Field(default_factory=lambda: uuid4().hex)

    _registry: ClassVar[dict[str, FakeCrm]] = {}

    @classmethod
    def holding(cls, crm: FakeCrm) -> FakeCrmResource:
        """A resource whose `client()` is `crm` (prepared by the test: seeded, failures injected)."""
        resource = cls()
        cls._registry[resource.fake_id] = crm
        return resource

    def client(self) -> FakeCrm:
        return self._registry.setdefault(self.fake_id, FakeCrm())
