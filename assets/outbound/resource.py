"""The outbox's retry policy as a Dagster resource (values from `Settings.outbox`)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from assets.outbound.outbox import RetryPolicy

_DEFAULT = RetryPolicy()


class OutboxResource(dg.ConfigurableResource):
    """How often a failing action is tried again before it is parked as a dead letter."""

    max_attempts: int = Field(default=_DEFAULT.max_attempts, ge=1, description="Sends before parking.")
    retry_base_seconds: float = Field(
        default=_DEFAULT.base_delay_seconds, gt=0, description="Backoff after the first failure."
    )
    retry_max_seconds: float = Field(
        default=_DEFAULT.max_delay_seconds, gt=0, description="Longest backoff between two sends."
    )

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.retry_base_seconds, self.retry_max_seconds)
