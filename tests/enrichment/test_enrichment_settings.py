"""Enrichment settings come from the environment, with defaults, and reach the resource unchanged."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from assets.enrichment.config import EnrichmentSettings
from assets.enrichment.domain_firmographics import TablePolicy
from dagster_project.resources.enrichment import EnrichmentResource

_VARIABLES = (
    "LEADOPS_FIRMOGRAPHICS_PATH",
    "LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD",
    "LEADOPS_ENRICHMENT_DEADLINE_MINUTES",
    "LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS",
    "LEADOPS_ENRICHMENT_RETRY_MAX_SECONDS",
    "LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES",
    "LEADOPS_ENRICHMENT_RUN_BUDGET_SECONDS",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_keep_the_reference_file_in_the_data_home_and_wait_thirty_minutes(tmp_path: Path) -> None:
    settings = EnrichmentSettings.from_env(tmp_path)

    assert settings.firmographics_path == tmp_path.resolve() / "firmographics.csv"
    assert (settings.confidence_threshold, settings.deadline) == (0.7, timedelta(minutes=30))
    assert (settings.retry_base_delay, settings.retry_max_delay) == (
        timedelta(minutes=1),
        timedelta(minutes=10),
    )


def test_the_environment_overrides_and_the_resource_and_table_policy_see_the_same_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADOPS_FIRMOGRAPHICS_PATH", str(tmp_path / "vendor-export.csv"))
    monkeypatch.setenv("LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD", "0.85")
    monkeypatch.setenv("LEADOPS_ENRICHMENT_DEADLINE_MINUTES", "45")
    monkeypatch.setenv("LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES", "90")

    resource = EnrichmentResource(**EnrichmentSettings.from_env(tmp_path).resource_fields())
    policy = TablePolicy.of(resource)

    assert resource.reference_file_path == str(tmp_path / "vendor-export.csv")
    assert resource.confidence_threshold == 0.85
    assert resource.retry_policy().deadline == policy.deadline == timedelta(minutes=45)
    assert policy.unavailable_ttl == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD", "1.5", "between 0.0 and 1.0"),
        ("LEADOPS_ENRICHMENT_DEADLINE_MINUTES", "half an hour", "a number"),
        ("LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS", "0", "at least 1.0"),
    ],
)
def test_a_bad_value_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=f"{name} must be {message}"):
        EnrichmentSettings.from_env(tmp_path)


def test_the_answer_cache_is_configured_only_when_a_vendor_is_asked(tmp_path: Path) -> None:
    settings = EnrichmentSettings.from_env(tmp_path)

    file_only = settings.resource_fields()
    with_vendor = settings.resource_fields(["reference_file", "http_vendor"])

    assert (file_only["provider_order"], file_only["cache_path"]) == (["reference_file"], None)
    assert with_vendor["cache_path"] == str(tmp_path.resolve() / "enrichment_cache.sqlite")
