"""Slack: the `Notifier` port (assignment alerts, escalations), the Web API adapter over slack_sdk, the pure
message builders, and a fake for tests."""
