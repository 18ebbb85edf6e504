"""Notifier adapter over the Slack Web API (slack_sdk `WebClient`).

Owner DMs: `users.lookupByEmail` → `conversations.open` → `chat.postMessage`. Team and review channels are
posted to by channel id.

Idempotency: every message is posted with Slack message metadata
`{"event_type": "leadops_notification", "event_payload": {"idempotency_key": …}}`. Before posting, the
adapter reads the target conversation's recent history (`conversations.history` with
`include_all_metadata=true`, the last `lookback` only) and answers the existing message when one carries
the same key. So a retry after a crash between "Slack accepted the post" and "the outbox recorded it"
finds the first message instead of posting a second. `client_msg_id` is not usable for this: Slack sets
it on messages typed by users, and `chat.postMessage` does not accept it. What this does not cover: two
senders racing on the same key at the same moment both see an empty history; the outbox hands a key to
one worker at a time. Needs the scopes `chat:write`, `users:read.email`, `im:write`, and
`channels:history` / `groups:history` / `im:history` for the lookup.

Errors: Slack answers most failures as HTTP 200 `{"ok": false, "error": …}`. Rate limits, Slack-side
outages and lost connections are transient; everything else (unknown user, archived channel, bad token,
missing scope, unknown error codes) is permanent, because retrying cannot fix it and a person must look.
429s are retried in the client after their Retry-After when that is short; a long one is handed to the
caller as a transient error carrying the wait, so a worker does not sleep for minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from integrations.slack.messages import (
    METADATA_EVENT_TYPE,
    SlackMessage,
    assignment_message,
    escalation_message,
    message_metadata,
)
from integrations.slack.port import (
    AssignmentAlert,
    Escalation,
    NotifierPermanentError,
    NotifierTransientError,
    PostedMessage,
)

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Error codes Slack documents as "try again later"; anything else is a fault a retry cannot fix.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)

# Slack's tier-3 limits ask for waits of a few seconds; a wait longer than this goes back to the outbox.
DEFAULT_MAX_RETRY_AFTER_SECONDS = 10
# A retry of a notification older than a week is not a retry any more: the SLA is long gone.
DEFAULT_LOOKBACK = timedelta(days=7)
# 200 is conversations.history's largest page; 5 pages cover a busy review channel's week.
_HISTORY_PAGE_SIZE = 200
_HISTORY_MAX_PAGES = 5


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps Retry-After, then retries), but only for waits up to a cap."""

    def __init__(self, max_retry_count: int = 2, *, max_retry_after_seconds: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_retry_after_seconds = max_retry_after_seconds

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        retry_after = _retry_after(response.headers if response else {})
        return retry_after is None or retry_after <= self.max_retry_after_seconds


def _retry_after(headers: Any) -> float | None:
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


def web_client(
    token: str,
    *,
    base_url: str = WebClient.BASE_URL,
    timeout_seconds: int = 10,
    max_retry_after_seconds: float = DEFAULT_MAX_RETRY_AFTER_SECONDS,
) -> WebClient:
    """A WebClient that retries lost connections once and short rate limits after their Retry-After."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout_seconds,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            CappedRateLimitRetryHandler(max_retry_after_seconds=max_retry_after_seconds),
        ],
    )


def classify_slack_error(error: SlackApiError) -> NotifierTransientError | NotifierPermanentError:
    """Map a Slack API failure to transient (send again later) or permanent (a person must act)."""
    response = error.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    message = f"slack {response.api_url.rsplit('/', 1)[-1]} failed: {code}"
    if status == 429 or code in TRANSIENT_ERRORS:
        return NotifierTransientError(message, retry_after_seconds=_retry_after(response.headers))
    if status >= 500:
        return NotifierTransientError(message)
    return NotifierPermanentError(message)


class SlackWebApiNotifier:
    """Posts assignment alerts and escalations, at most once per idempotency key."""

    def __init__(
        self,
        client: WebClient,
        *,
        lookback: timedelta = DEFAULT_LOOKBACK,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._lookback = lookback
        self._clock = clock

    def send_assignment(self, alert: AssignmentAlert, *, idempotency_key: str) -> PostedMessage:
        message = assignment_message(alert)
        channel = self._call(lambda: self._dm_channel(alert.owner_email)) if alert.owner_email else None
        return self._post_once(
            channel or str(alert.team_channel),
            message,
            message_metadata(idempotency_key, kind="assignment", lead_id=alert.lead.lead_id),
            idempotency_key,
        )

    def send_escalation(self, escalation: Escalation, *, idempotency_key: str) -> PostedMessage:
        return self._post_once(
            escalation.review_channel,
            escalation_message(escalation),
            message_metadata(idempotency_key, kind="escalation", lead_id=escalation.lead.lead_id),
            idempotency_key,
        )

    def find_posted(self, channel: str, idempotency_key: str) -> PostedMessage | None:
        """The message already posted in `channel` with this key, if any (within the lookback)."""
        return self._call(lambda: self._find_posted(channel, idempotency_key))

    def _post_once(
        self, channel: str, message: SlackMessage, metadata: dict[str, Any], idempotency_key: str
    ) -> PostedMessage:
        existing = self.find_posted(channel, idempotency_key)
        if existing is not None:
            logger.info("slack message with key %s already posted in %s", idempotency_key, channel)
            return existing
        response = self._call(
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        return PostedMessage(channel=response["channel"], ts=response["ts"], idempotency_key=idempotency_key)

    def _dm_channel(self, email: str) -> str:
        user = self._client.users_lookupByEmail(email=email)["user"]
        opened = self._client.conversations_open(users=user["id"])
        return opened["channel"]["id"]

    def _find_posted(self, channel: str, idempotency_key: str) -> PostedMessage | None:
        oldest = f"{(self._clock() - self._lookback).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(_HISTORY_MAX_PAGES):
            page = self._client.conversations_history(
                channel=channel,
                oldest=oldest,
                limit=_HISTORY_PAGE_SIZE,
                include_all_metadata=True,
                cursor=cursor,
            )
            for posted in page.get("messages", []):
                metadata = posted.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if (
                    metadata.get("event_type") == METADATA_EVENT_TYPE
                    and payload.get("idempotency_key") == idempotency_key
                ):
                    return PostedMessage(
                        channel=channel, ts=posted["ts"], idempotency_key=idempotency_key, already_posted=True
                    )
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        return None

    @staticmethod
    def _call(request: Callable[[], Any]) -> Any:
        try:
            return request()
        except SlackApiError as error:
            raise classify_slack_error(error) from error
        except OSError as error:
            # Lost connections and timeouts (urllib raises OSError subclasses) after the client's own retry.
            raise NotifierTransientError(f"slack unreachable: {error}") from error
