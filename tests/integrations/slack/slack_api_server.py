"""A small, stateful Slack Web API on 127.0.0.1 (stdlib http.server, port 0, own thread).

It answers the way Slack does: errors as HTTP 200 `{"ok": false, "error": …}`, 429 with Retry-After when a
test asks for one, message metadata only with `include_all_metadata`, history newest first with cursors.
A plain module rather than conftest.py so tests can import it by name.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "xoxb-test-never-log-me"


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class SeenCall:
    method: str
    at_monotonic: float
    status: int


@dataclass
class _Injected:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SlackApiServer:
    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # email -> user id
        self.channels: dict[str, dict[str, Any]] = {}  # id -> {"name", "is_archived"}
        self.messages: list[Posted] = []
        self.calls: list[SeenCall] = []
        self._injected: dict[str, list[_Injected]] = {}
        self._last_ts = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    # --- state a test sets up -----------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.users.clear()
            self.channels.clear()
            self.messages.clear()
            self.calls.clear()
            self._injected.clear()

    def add_user(self, email: str, user_id: str) -> None:
        self.users[email.lower()] = user_id

    def add_channel(self, channel_id: str, name: str, *, archived: bool = False) -> None:
        self.channels[channel_id] = {"name": name, "is_archived": archived}

    def rate_limit_next(self, method: str, *, retry_after: int, times: int = 1) -> None:
        reply = _Injected(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        self._injected.setdefault(method, []).extend([reply] * times)

    def fail_next(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        self._injected.setdefault(method, []).extend(
            [_Injected(status, {"ok": False, "error": error})] * times
        )

    def next_ts(self) -> str:
        """Slack's ts: the post's epoch time in microseconds, unique per channel."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def post_chatter(self, channel: str, count: int) -> None:
        """Messages from people: no LeadOps metadata."""
        for _ in range(count):
            self.messages.append(Posted(channel, self.next_ts(), "chatter", [], None))

    def messages_in(self, channel: str) -> list[Posted]:
        return [message for message in self.messages if message.channel == channel]

    def calls_to(self, method: str) -> list[SeenCall]:
        return [call for call in self.calls if call.method == method]

    # --- the API -------------------------------------------------------------------------------------
    def _answer(self, method: str, params: dict[str, Any]) -> _Injected:
        with self._lock:
            queue = self._injected.get(method)
            if queue:
                return queue.pop(0)
            handler = getattr(self, "_api_" + method.replace(".", "_"), None)
            if handler is None:
                return _Injected(200, {"ok": False, "error": "unknown_method"})
            return _Injected(200, handler(params))

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = self.users.get(str(params.get("email", "")).lower())
        if user_id is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": {"id": user_id, "profile": {"email": params["email"]}}}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("users", ""))
        if user_id not in self.users.values():
            return {"ok": False, "error": "user_not_found"}
        channel_id = "D" + user_id
        already_open = channel_id in self.channels
        self.channels.setdefault(channel_id, {"name": None, "is_archived": False})
        return {"ok": True, "already_open": already_open, "channel": {"id": channel_id}}

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel", ""))
        channel = self.channels.get(channel_id)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if channel["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        ts = self.next_ts()
        self.messages.append(
            Posted(channel_id, ts, str(params.get("text", "")), list(params.get("blocks") or []), metadata)
        )
        return {"ok": True, "channel": channel_id, "ts": ts, "message": {"text": params.get("text")}}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(params.get("channel", ""))
        if channel_id not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        offset = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        newest_first = [
            m for m in reversed(self.messages) if m.channel == channel_id and float(m.ts) > oldest
        ]
        page = newest_first[offset : offset + limit]
        has_more = offset + limit < len(newest_first)
        out = []
        for message in page:
            item: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
            if with_metadata and message.metadata:
                item["metadata"] = message.metadata
            out.append(item)
        return {
            "ok": True,
            "messages": out,
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urlsplit(self.path)
                method = url.path.rsplit("/", 1)[-1]
                params: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw))
                elif raw:
                    params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    reply = _Injected(200, {"ok": False, "error": "invalid_auth"})
                else:
                    reply = server._answer(method, params)
                server.calls.append(SeenCall(method, time.monotonic(), reply.status))
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def __enter__(self) -> SlackApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
