"""Notification targets from the environment: none by default, secrets only as EnvVar, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import EnvVar

from dagster_project.definitions import notification_config
from dagster_project.settings import Settings, SettingsError


def settings(tmp_path: Path, **variables: str) -> Settings:
    return Settings.from_env({"LEADOPS_HOME": str(tmp_path), **variables})


def test_the_default_installation_configures_no_notification_target(tmp_path: Path) -> None:
    assert notification_config(settings(tmp_path)) == {}


def test_secrets_reach_the_outbox_resource_as_env_vars_only(tmp_path: Path) -> None:
    config = notification_config(
        settings(
            tmp_path,
            LEADOPS_SLACK_TOKEN="xoxb-secret",
            LEADOPS_SMTP_HOST="smtp.example.com",
            LEADOPS_SMTP_FROM="sales@example.com",
            LEADOPS_SMTP_TLS="ssl",
            LEADOPS_SMTP_PASSWORD="smtp-secret",
            LEADOPS_CALDAV_URL="https://dav.example.com",
            LEADOPS_CALDAV_USER="leadops",
            LEADOPS_CALDAV_PASSWORD="dav-secret",
        )
    )
    secrets = {name: value for name, value in config.items() if isinstance(value, EnvVar)}
    assert {name: value.env_var_name for name, value in secrets.items()} == {
        "slack_token": "LEADOPS_SLACK_TOKEN",
        "smtp_password": "LEADOPS_SMTP_PASSWORD",
        "caldav_password": "LEADOPS_CALDAV_PASSWORD",
    }
    assert config["smtp_port"] == 465
    assert str(config["email_templates_dir"]).endswith("policies/default/email_templates")
    assert not any("secret" in str(value) for name, value in config.items() if name not in secrets)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LEADOPS_SMTP_HOST": "smtp.example.com"}, "LEADOPS_SMTP_FROM"),
        (
            {"LEADOPS_SMTP_HOST": "h", "LEADOPS_SMTP_FROM": "a@b.c", "LEADOPS_SMTP_TLS": "tls1"},
            "LEADOPS_SMTP_TLS",
        ),
        (
            {"LEADOPS_SMTP_HOST": "h", "LEADOPS_SMTP_FROM": "a@b.c", "LEADOPS_SMTP_PORT": "0"},
            "LEADOPS_SMTP_PORT",
        ),
    ],
)
def test_an_incomplete_or_invalid_smtp_setting_is_named(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        settings(tmp_path, **variables)
