"""A real local vendor API (stdlib http.server on 127.0.0.1, port 0, own thread) and a settable clock.

A plain module rather than conftest.py so tests can import Reply and company() by name.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-3f9a-never-log-me"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    path: str
    domain: str | None
    authorization: str | None
    at_monotonic: float


def company(domain: str, *, confidence: float = 0.9, **overrides: object) -> dict[str, object]:
    """One company as the vendor's JSON contract spells it."""
    return {
        "domain": domain,
        "name": domain.split(".")[0].title(),
        "country": "DE",
        "employees": 1500,
        "industry": "fintech",
        "confidence": confidence,
        **overrides,
    }


class VendorServer:
    """Replies per domain are queued; the last one repeats. Unknown domains get 404."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # The default 0.5 s poll made every test's teardown wait half a second for shutdown().
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, domain: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[domain] = list(replies)

    def requests_for(self, domain: str) -> list[SeenRequest]:
        return [request for request in self.requests if request.domain == domain]

    def _next_reply(self, domain: str | None) -> Reply:
        with self._lock:
            queue = self._replies.get(domain or "")
            if not queue:
                return Reply(status=404, body={"error": "unknown domain"})
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                domain = parse_qs(url.query).get("domain", [None])[0]
                server.requests.append(
                    SeenRequest(url.path, domain, self.headers.get("Authorization"), time.monotonic())
                )
                reply = server._next_reply(domain)
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (the timeout test)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    def __enter__(self) -> VendorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SettableClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
