"""One recording Slack Web API per test module, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.slack.web_api import SlackWebApiNotifier, web_client
from tests.integrations.slack.slack_api_server import TOKEN, SlackApiServer


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackApiServer]:
    with SlackApiServer() as server:
        yield server


@pytest.fixture
def slack(slack_server: SlackApiServer) -> SlackApiServer:
    slack_server.reset()
    slack_server.add_user("ana.owner@example.com", "U0ANA")
    slack_server.add_channel("C0EMEA", "sales-emea")
    slack_server.add_channel("C0REVIEW", "lead-review")
    return slack_server


@pytest.fixture
def notifier(slack: SlackApiServer) -> SlackWebApiNotifier:
    return SlackWebApiNotifier(web_client(TOKEN, base_url=slack.base_url, timeout_seconds=3))
