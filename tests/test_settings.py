"""One settings object reads the environment: defaults, overrides that reach the resources unchanged, and
errors that name the variable and what it accepts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from assets.enrichment.domain_firmographics import TablePolicy
from dagster_project.definitions import build_resources
from dagster_project.settings import Settings, SettingsError


def settings_from(tmp_path: Path, **variables: str) -> Settings:
    return Settings.from_env({"LEADOPS_HOME": str(tmp_path), **variables})


def test_defaults_keep_everything_in_the_data_home_and_the_llm_off(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)

    assert settings.warehouse_path == tmp_path.resolve() / "warehouse.duckdb"
    assert settings.enrichment.firmographics_path == tmp_path.resolve() / "firmographics.csv"
    assert settings.enrichment.providers == ("reference_file",)
    assert settings.llm is None
    assert settings.identity.overrides() == {}


def test_enrichment_defaults_are_the_resources_and_wait_thirty_minutes(tmp_path: Path) -> None:
    resource = build_resources(settings_from(tmp_path))["enrichment"]
    policy = TablePolicy.of(resource)

    assert resource.confidence_threshold == 0.7
    assert resource.retry_policy().deadline == policy.deadline == timedelta(minutes=30)
    assert resource.retry_policy().max_delay == timedelta(minutes=10)
    assert resource.cache_path is None


def test_overrides_reach_the_resource_and_the_table_policy_unchanged(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        LEADOPS_FIRMOGRAPHICS_PATH=str(tmp_path / "vendor-export.csv"),
        LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD="0.85",
        LEADOPS_ENRICHMENT_DEADLINE_MINUTES="45",
        LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES="90",
        LEADOPS_IDENTITY_AUTO_LINK="0.97",
    )
    resources = build_resources(settings)
    enrichment = resources["enrichment"]
    policy = TablePolicy.of(enrichment)

    assert enrichment.reference_file_path == str(tmp_path.resolve() / "vendor-export.csv")
    assert enrichment.confidence_threshold == 0.85
    assert enrichment.retry_policy().deadline == policy.deadline == timedelta(minutes=45)
    assert policy.unavailable_ttl == timedelta(minutes=90)
    assert resources["identity"].auto_link == 0.97


def test_the_http_vendor_and_its_answer_cache_are_turned_on_by_settings(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        LEADOPS_ENRICHMENT_PROVIDERS="reference_file,http_vendor",
        LEADOPS_ENRICHMENT_HTTP_URL="http://127.0.0.1:9/v1",
    )
    enrichment = build_resources(settings)["enrichment"]

    assert enrichment.provider_order == ["reference_file", "http_vendor"]
    assert enrichment.http_base_url == "http://127.0.0.1:9/v1"
    assert enrichment.cache_path == str(tmp_path.resolve() / "enrichment_cache.sqlite")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD", "1.5", "a number from 0 to 1"),
        ("LEADOPS_ENRICHMENT_DEADLINE_MINUTES", "half an hour", "a number of at least 0"),
        ("LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS", "0", "a number of at least 1"),
        ("LEADOPS_IDENTITY_AUTO_LINK", "abc", "a number from 0 to 1"),
        ("LEADOPS_IDENTITY_AUTO_LINK", "1.5", "a number from 0 to 1"),
        ("LEADOPS_SENSOR_INTERVAL_SECONDS", "soon", "a whole number from 1 to 3600"),
        ("LEADOPS_ENRICHMENT_PROVIDERS", "clearbit", "a comma-separated list of reference_file, http_vendor"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_accepts(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=f"{name} must be {message}"):
        settings_from(tmp_path, **{name: value})


def test_settings_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="LEADOPS_ENRICHMENT_HTTP_URL"):
        settings_from(tmp_path, LEADOPS_ENRICHMENT_PROVIDERS="http_vendor")
    with pytest.raises(SettingsError, match="LEADOPS_IDENTITY_REVIEW"):
        settings_from(tmp_path, LEADOPS_IDENTITY_AUTO_LINK="0.5", LEADOPS_IDENTITY_REVIEW="0.7")
    with pytest.raises(SettingsError, match="LEADOPS_LLM_BASE_URL and LEADOPS_LLM_MODEL"):
        settings_from(tmp_path, LEADOPS_LLM_MODEL="gpt")
    with pytest.raises(SettingsError, match="LEADOPS_LLM_TIMEOUT_SECONDS"):
        settings_from(
            tmp_path,
            LEADOPS_LLM_BASE_URL="http://127.0.0.1:9/v1",
            LEADOPS_LLM_MODEL="m",
            LEADOPS_LLM_TIMEOUT_SECONDS="-1",
        )


def test_the_llm_key_is_passed_by_variable_name_never_by_value(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        LEADOPS_LLM_BASE_URL="http://127.0.0.1:9/v1",
        LEADOPS_LLM_MODEL="m",
        LEADOPS_LLM_API_KEY="sk-secret",
    )
    assert settings.llm is not None
    assert settings.llm.api_key_variable == "LEADOPS_LLM_API_KEY"
    assert "sk-secret" not in repr(settings)


def test_llm_options_reach_the_interpreter_resource_and_its_client_settings(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        LEADOPS_LLM_BASE_URL="http://127.0.0.1:9/v1",
        LEADOPS_LLM_MODEL="m",
        LEADOPS_LLM_MAX_CONCURRENCY="3",
    )
    client_settings = build_resources(settings)["interpreter"].llm_settings()

    assert client_settings is not None
    assert (client_settings.base_url, client_settings.model, client_settings.max_concurrency) == (
        "http://127.0.0.1:9/v1",
        "m",
        3,
    )
