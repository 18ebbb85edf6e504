"""What the HubSpot and Salesforce contract servers share: a loopback HTTP(S) server on a free port, started
and stopped by a context manager, and a seeded fault plan a fault-injection bench can drive.

Fault kinds, each drawn with probability `rate` per API request (never for the token endpoint):

- ``rate_limit``: 429 with Retry-After, nothing written;
- ``server_error``: 503, nothing written;
- ``slow``: the request is handled (a write lands) and the answer is held for `slow_seconds`, longer than
  the client's timeout: the lost-response case that makes a naive retry duplicate a record;
- ``lost_response``: the write lands and the server answers 500 (the CRM fell over after committing).
"""

from __future__ import annotations

import json
import random
import re
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

FAULT_KINDS = frozenset({"rate_limit", "server_error", "slow", "lost_response"})


@dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: Iterable[str] = ("rate_limit", "server_error", "slow", "lost_response")
    seed: int = 7
    retry_after_seconds: int = 1
    # Held long enough to outlast the adapters' test timeout (0.3-0.5 s) and short enough to keep the
    # server's shutdown (which joins handler threads) under a second.
    slow_seconds: float = 0.8
    # Only requests whose "METHOD /path" matches this regex draw faults (None: every API request).
    only: str | None = None
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        unknown = set(self.kinds) - FAULT_KINDS
        if unknown or not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault kinds {sorted(unknown)} / rate {self.rate} not understood")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self, request_line: str) -> str | None:
        if self.only is not None and re.search(self.only, request_line) is None:
            return None
        with self._lock:
            if not self.kinds or self._random.random() >= self.rate:
                return None
            kind = self._random.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind


class ApiError(Exception):
    """Raised by a route: answered as `status` with `body` (JSON) and extra headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class ContractHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection frees its thread after this many seconds.
    timeout = 5
    # Headers and body go out as two writes: with Nagle on, the body waited ~40 ms for the client's
    # delayed ACK on every request.
    disable_nagle_algorithm = True
    server: ContractHttpServer
    # The contract server's `handle(method, path, query, body, headers) -> (status, body)` answers.
    api: ClassVar[Any]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _respond(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        owner = self.server.owner
        try:
            status, body, headers = owner.serve(self.command, self.path, raw, self.headers)
        except ApiError as error:
            status, body, headers = error.status, error.body, error.headers
        with owner.lock:
            owner.log.append((self.command, self.path, status))
        try:
            self._respond(status, body, headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            # The client gave up (timeout) before a slow answer: the write stays, as on a real CRM.
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch


class ContractHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: ContractServer, ssl_context: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.ssl_context = ssl_context
        # Port 0: the OS picks a free port; loopback only.
        super().__init__(("127.0.0.1", 0), ContractHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread, so a client that never completes one cannot stall
        # the accept loop.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(5)
        try:
            wrapped = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        # wrap_socket detached the raw socket, so the server's own shutdown would not close this one.
        with wrapped:
            super().finish_request(wrapped, client_address)


class ContractServer:
    """Base of the stateful servers: `with Server(...) as server: server.url`."""

    def __init__(self, *, faults: FaultPlan | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.faults = faults or FaultPlan()
        self.lock = threading.RLock()
        # (method, path, status) of every request answered, in order.
        self.log: list[tuple[str, str, int]] = []
        self._ssl_context = ssl_context
        self._http: ContractHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._http is not None, "server not started"
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> ContractServer:
        self._http = ContractHttpServer(self, self._ssl_context)
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ContractServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve(self, method: str, path: str, raw: bytes, headers: Any) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError

    def with_faults(
        self, request_line: str, handle: Any, fault_errors: dict[str, ApiError]
    ) -> tuple[int, Any, dict[str, str]]:
        """Run `handle()` under the fault plan; `fault_errors` holds this CRM's bodies for the error kinds."""
        fault = self.faults.draw(request_line)
        if fault in ("rate_limit", "server_error"):
            raise fault_errors[fault]
        with self.lock:
            status, body = handle()
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        elif fault == "lost_response":
            raise fault_errors["server_error"]
        return status, body, {}
