"""SMTP catchers started once per test module (plain, and STARTTLS with login), emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integrations.email.templates import TemplateLibrary
from tests.integrations.email.smtp_catcher import SmtpCatcher

POLICY_TEMPLATES = Path(__file__).resolve().parents[3] / "dbt_project/policies/default/email_templates"


@pytest.fixture(scope="module")
def plain_smtp() -> Iterator[SmtpCatcher]:
    with SmtpCatcher() as catcher:
        yield catcher


@pytest.fixture(scope="module")
def tls_smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpCatcher]:
    with SmtpCatcher(tls_folder=tmp_path_factory.mktemp("smtp-tls")) as catcher:
        yield catcher


@pytest.fixture
def smtp(plain_smtp: SmtpCatcher) -> SmtpCatcher:
    plain_smtp.handler.reset()
    return plain_smtp


@pytest.fixture
def templates() -> TemplateLibrary:
    return TemplateLibrary(POLICY_TEMPLATES)
