"""Enrichment settings, read from the environment in one place.

- `LEADOPS_FIRMOGRAPHICS_PATH` (default `$LEADOPS_HOME/firmographics.csv`): the reference CSV of the
  default provider (domain, name, country, employees, industry, confidence); the demo points it at
  `demo/firmographics.csv`.
- `LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD` (0.7): answers below it are `low_confidence`, kept for
  humans and never used for the segment.
- `LEADOPS_ENRICHMENT_DEADLINE_MINUTES` (30): how long after the first request a failing lookup is
  retried while the lead waits, before the domain is `unavailable`.
- `LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS` (60): the first retry delay; it doubles per failed run.
- `LEADOPS_ENRICHMENT_RETRY_MAX_SECONDS` (600): the cap of one retry delay.
- `LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES` (60): how long a domain given up on stays `unavailable`
  before a fresh lookup.
- `LEADOPS_ENRICHMENT_RUN_BUDGET_SECONDS` (60): lookup time one run may spend; domains left over wait as
  `pending_retry` for the next run.

With the defaults a failing domain is asked at 0, 1, 3, 7, 15, 25 and 30 minutes, then given up on.
The provider order and the vendor's URL stay `EnrichmentResource` fields; the answer cache, used only
when a vendor is in the order, lives at `$LEADOPS_HOME/enrichment_cache.sqlite`. `resource_fields()` turns
these settings into that resource's configuration, so the waterfall and the table policy of the asset
read the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dagster_project.resources.enrichment.resource import REFERENCE_FILE


def _float_env(name: str, default: float, *, minimum: float, maximum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {raw!r}") from error
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bounds}, got {raw!r}")
    return value


@dataclass(frozen=True)
class EnrichmentSettings:
    firmographics_path: Path
    cache_path: Path
    confidence_threshold: float
    deadline: timedelta
    retry_base_delay: timedelta
    retry_max_delay: timedelta
    unavailable_ttl: timedelta
    run_budget: timedelta

    @classmethod
    def from_env(cls, home: Path) -> EnrichmentSettings:
        """`home` is the LeadOps data home (`Settings.home`); every path comes back absolute."""
        raw_path = os.environ.get("LEADOPS_FIRMOGRAPHICS_PATH", "").strip()
        firmographics_path = Path(raw_path) if raw_path else home / "firmographics.csv"
        # Sub-second delays would make the retry sensor fire on every tick; one second is the floor.
        return cls(
            firmographics_path=firmographics_path.expanduser().resolve(),
            cache_path=(home / "enrichment_cache.sqlite").resolve(),
            confidence_threshold=_float_env(
                "LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD", 0.7, minimum=0.0, maximum=1.0
            ),
            deadline=timedelta(minutes=_float_env("LEADOPS_ENRICHMENT_DEADLINE_MINUTES", 30, minimum=0.0)),
            retry_base_delay=timedelta(
                seconds=_float_env("LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS", 60, minimum=1.0)
            ),
            retry_max_delay=timedelta(
                seconds=_float_env("LEADOPS_ENRICHMENT_RETRY_MAX_SECONDS", 600, minimum=1.0)
            ),
            unavailable_ttl=timedelta(
                minutes=_float_env("LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES", 60, minimum=1.0)
            ),
            run_budget=timedelta(
                seconds=_float_env("LEADOPS_ENRICHMENT_RUN_BUDGET_SECONDS", 60, minimum=1.0)
            ),
        )

    def resource_fields(self, provider_order: Sequence[str] = (REFERENCE_FILE,)) -> dict[str, object]:
        """Keyword arguments for `EnrichmentResource` (add `http_base_url` when the vendor is in the order).

        The answer cache is configured only when a vendor is asked: it spends ~21 ms per domain (a SQLite
        connection and commit per get and put), which made a first run over 2,948 domains from the
        reference file alone take 65 s instead of 3 s, to save lookups that cost nothing.
        """
        uses_vendor = any(name != REFERENCE_FILE for name in provider_order)
        return {
            "provider_order": list(provider_order),
            "reference_file_path": str(self.firmographics_path),
            "cache_path": str(self.cache_path) if uses_vendor else None,
            "confidence_threshold": self.confidence_threshold,
            "retry_deadline_hours": self.deadline / timedelta(hours=1),
            "retry_base_delay_seconds": self.retry_base_delay.total_seconds(),
            "retry_max_delay_seconds": self.retry_max_delay.total_seconds(),
            "unavailable_ttl_hours": self.unavailable_ttl / timedelta(hours=1),
            "max_lookup_seconds_per_run": self.run_budget.total_seconds(),
        }
