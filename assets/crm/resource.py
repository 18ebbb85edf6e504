"""Dagster resources for the CRM: the one `LEADOPS_CRM` names for runs, and the fake for tests."""

from __future__ import annotations

import os
from typing import ClassVar, Literal
from uuid import uuid4

import dagster as dg
from pydantic import Field

from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.port import CrmPort

CrmKind = Literal["embedded", "hubspot", "salesforce", "bottlecrm"]


class CrmResource(dg.ConfigurableResource):
    """The CRM LeadOps reads owners from and writes decisions to, chosen by `kind` (`LEADOPS_CRM`).

    - embedded (default, the demo's): the SQLite CRM at `database_path`. A run only opens an existing one:
      a missing or empty file fails the run, because creating a fresh one would let the outbox believe
      every earlier write is still there. `leadops crm import` initialises it.
    - hubspot: a private app's token; `hubspot_host` points at another API host (a test server).
    - salesforce: a connected app's client id and secret, logged in at `salesforce_login_url`.
    - bottlecrm: a self-hosted BottleCRM's base URL, an API token and the lead intake (id and key).

    Secrets are given as `EnvVar`s by the definitions, so they stay out of run configuration and logs.
    """

    kind: CrmKind = Field(default="embedded", description="Which CRM adapter the run talks to.")
    database_path: str | None = Field(default=None, description="Path of the embedded CRM's SQLite file.")
    busy_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a write waits for another writer (the CLI import) before a transient error.",
    )
    hubspot_token: str | None = Field(default=None, description="HubSpot private app access token.")
    hubspot_host: str | None = Field(default=None, description="HubSpot API host; HubSpot's own if unset.")
    salesforce_client_id: str | None = Field(default=None, description="Connected app's consumer key.")
    salesforce_client_secret: str | None = Field(default=None, description="Connected app's secret.")
    salesforce_login_url: str | None = Field(
        default=None, description="Where the client-credentials login goes (the org's My Domain URL)."
    )
    bottlecrm_url: str | None = Field(default=None, description="BottleCRM's base URL.")
    bottlecrm_token: str | None = Field(default=None, description="BottleCRM personal access token.")
    bottlecrm_intake_id: str | None = Field(default=None, description="BottleCRM lead intake id.")
    bottlecrm_intake_key: str | None = Field(default=None, description="BottleCRM lead intake key.")

    def source(self) -> str:
        """Which CRM this is (kind and location, no secret): a pull from another CRM starts over."""
        if self.kind == "embedded":
            # The file's inode too: a CRM restored from a backup is another file, whose records may be older
            # than the mark, so its first pull is a full read.
            path = _required(self.database_path, "database_path")
            return f"embedded:{path}#{os.stat(path).st_ino if os.path.exists(path) else 'missing'}"
        location = {
            "hubspot": self.hubspot_host,
            "salesforce": self.salesforce_login_url,
            "bottlecrm": self.bottlecrm_url,
        }[self.kind]
        return f"{self.kind}:{location or 'default'}"

    def client(self) -> CrmPort:
        if self.kind == "hubspot":
            from integrations.crm.hubspot import DEFAULT_HOST, HubSpotCrm

            return HubSpotCrm(
                _required(self.hubspot_token, "hubspot_token"), host=self.hubspot_host or DEFAULT_HOST
            )
        if self.kind == "salesforce":
            from integrations.crm.salesforce import DEFAULT_LOGIN_URL, SalesforceCrm

            return SalesforceCrm(
                _required(self.salesforce_client_id, "salesforce_client_id"),
                _required(self.salesforce_client_secret, "salesforce_client_secret"),
                login_url=self.salesforce_login_url or DEFAULT_LOGIN_URL,
            )
        if self.kind == "bottlecrm":
            from integrations.crm.bottlecrm import BottleCrm

            return BottleCrm(
                _required(self.bottlecrm_url, "bottlecrm_url"),
                _required(self.bottlecrm_token, "bottlecrm_token"),
                _required(self.bottlecrm_intake_id, "bottlecrm_intake_id"),
                _required(self.bottlecrm_intake_key, "bottlecrm_intake_key"),
            )
        return EmbeddedCrm(
            _required(self.database_path, "database_path"),
            busy_timeout_seconds=self.busy_timeout_seconds,
            create=False,
        )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"CrmResource.{name} is required for this kind of CRM")
    return value


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

    def source(self) -> str:
        return f"fake:{self.fake_id}"
