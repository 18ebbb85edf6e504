"""The intake service: `POST /v1/events`, `GET /healthz`, `GET /metrics`, OpenAPI docs at `/docs`.

Checks run cheapest first, so a flood of bad requests costs little: rate limit (429), content type (415),
declared length (413), timestamp (401), then the body is read with a size cap (413), its signature checked
(401), its JSON split into items (400/413) and each item checked against contract v1. The answer (202)
is sent only after the landed file is fsynced and renamed into place and the directory entry fsynced.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assets.ingest.contract import CONTRACT_VERSION, InboundEvent
from dagster_project.intake.body import BodyError, Item, judge, split_items
from dagster_project.intake.rate_limit import TokenBucketLimiter
from dagster_project.intake.signing import (
    MAX_SKEW_SECONDS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    check_signature,
    check_timestamp,
)
from dagster_project.settings import Settings
from integrations.landing.zone import write_events_atomically

logger = logging.getLogger("leadops.intake")

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS_PER_REQUEST = 500


@dataclass(frozen=True)
class IntakeConfig:
    secret: str
    landing_dir: Path
    rate_per_second: float = 20.0
    burst: int = 40
    max_body_bytes: int = MAX_BODY_BYTES
    max_events: int = MAX_EVENTS_PER_REQUEST

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeConfig:
        intake = settings.intake
        return cls(
            secret=intake.require_secret(),
            landing_dir=settings.landing_dir,
            rate_per_second=intake.rate_per_second,
            burst=intake.burst,
        )


class Rejection(BaseModel):
    index: int = Field(description="Position of the item in the batch (0 for a single event).")
    reason: str = Field(description="Starts with a stable code: invalid_json or contract_violation.")
    event_id: str | None = Field(default=None, description="The item's event_id, when it had a usable one.")


class IntakeAnswer(BaseModel):
    accepted: list[str] = Field(description="event_id of each item that meets contract v1, in order.")
    rejected: list[Rejection] = Field(description="Items that do not; they are landed too and quarantined.")
    landed_file: str = Field(description="Name of the landed JSON Lines file; line = index + 1.")


class ErrorBody(BaseModel):
    error: str


class Metrics:
    """In-process counters, served as JSON at /metrics. Updated from the event loop only."""

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self.responses: Counter[int] = Counter()
        self.events_accepted = 0
        self.events_rejected = 0
        self.landed_files = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "responses_by_status": {str(status): n for status, n in sorted(self.responses.items())},
            "rejected_requests_by_status": {
                str(status): n for status, n in sorted(self.responses.items()) if status >= 400
            },
            "events_accepted": self.events_accepted,
            "events_rejected": self.events_rejected,
            "landed_files": self.landed_files,
        }


class _CountResponses:
    """Counts every response by status, including the router's own 404 and 405."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.responses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


def _error(status: int, message: str, client: str, headers: dict[str, str] | None = None) -> JSONResponse:
    logger.warning("intake answered %s to %s: %s", status, client, message)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (a chunked upload declares no length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk, not just the file's data.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def land_items(landing_dir: Path, items: list[Item]) -> Path:
    """Write every item as one line of a new landed file; the name sorts by arrival and says `http`."""
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-http-{uuid.uuid4().hex[:8]}"
    path = write_events_atomically(landing_dir, [item.line for item in items], name=name)
    _fsync_directory(landing_dir)
    return path


def _process(body: bytes, config: IntakeConfig) -> tuple[list[Item], Path]:
    """Parsing, validation and the fsynced write, off the event loop (a 500-event batch takes ms)."""
    items = judge(split_items(body, config.max_events))
    return items, land_items(config.landing_dir, items)


_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/InboundEvent"},
                    {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/InboundEvent"},
                        "minItems": 1,
                        "maxItems": MAX_EVENTS_PER_REQUEST,
                    },
                ]
            }
        }
    },
}
_SIGNATURE_PARAMETERS = [
    {
        "name": TIMESTAMP_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": f"Unix seconds; must be within {MAX_SKEW_SECONDS} s of the server's clock.",
    },
    {
        "name": SIGNATURE_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^v1=[0-9a-f]{64}"},
        "description": 'v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>',
    },
]


def _error_response(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


def create_app(config: IntakeConfig, *, clock: Callable[[], float] = time.time) -> FastAPI:
    """The intake as an ASGI app; `clock` (unix seconds) is what signature timestamps are checked against."""
    app = FastAPI(
        title="LeadOps intake",
        version=f"contract-v{CONTRACT_VERSION}",
        description=__doc__,
    )
    metrics = Metrics()
    limiter = TokenBucketLimiter(config.rate_per_second, config.burst)
    app.state.metrics = metrics
    app.add_middleware(_CountResponses, metrics=metrics)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.get(
        "/healthz",
        summary="Liveness: the process answers and the landing folder is writable",
        response_model=None,
        responses={503: _error_response("The landing folder is missing or not writable.")},
    )
    async def healthz() -> JSONResponse:
        if not os.access(config.landing_dir, os.W_OK):
            return JSONResponse(
                {"error": f"landing folder {config.landing_dir} is missing or not writable"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", summary="Counters since start: responses by status, events accepted and rejected")
    async def metrics_endpoint() -> dict[str, Any]:
        return metrics.snapshot()

    @app.post(
        "/v1/events",
        status_code=202,
        summary="Land one event or a batch of up to 500 (inbound contract v1)",
        response_model=IntakeAnswer,
        responses={
            400: _error_response("The body is not JSON, not UTF-8, or not an object or a non-empty array."),
            401: _error_response("Missing, malformed, expired or wrong signature."),
            413: _error_response("Body over 1 MiB or batch over 500 events."),
            415: _error_response("Content-Type is not application/json."),
            429: _error_response("Rate limit per client; wait Retry-After seconds."),
            503: _error_response("The landing zone could not be written; nothing was accepted, retry."),
        },
        openapi_extra={"requestBody": _REQUEST_BODY, "parameters": _SIGNATURE_PARAMETERS},
    )
    async def post_events(request: Request) -> JSONResponse:
        """Land the items durably, then answer which met the contract.

        Rejected items are landed too (ingest quarantines them with the same reason), so nothing the
        service answered for is lost. An event_id sent again is a redelivery: ingest records it as a
        duplicate delivery and keeps the first.
        """
        # Per client address: every producer signs with the one shared secret, so the key says nothing
        # about who is sending. Behind a proxy run uvicorn with --forwarded-allow-ips for the real address.
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(client)
        if wait:
            return _error(
                429,
                f"rate limit of {config.rate_per_second:g} requests/s (burst {config.burst}) per client"
                f" exceeded; retry in {wait} s",
                client,
                headers={"Retry-After": str(wait)},
            )
        content_type = request.headers.get("content-type")
        if not _is_json(content_type):
            return _error(415, f"Content-Type must be application/json, got {content_type!r}", client)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            return _error(
                413, f"body of {declared} bytes is over the limit of {config.max_body_bytes} bytes", client
            )
        try:
            timestamp = check_timestamp(request.headers.get(TIMESTAMP_HEADER), clock())
            signature = request.headers.get(SIGNATURE_HEADER)
            if signature is None:
                raise SignatureError(f"missing {SIGNATURE_HEADER} header (v1=<hex HMAC-SHA256>)")
        except SignatureError as error:
            return _error(401, str(error), client)
        body = await _read_capped(request, config.max_body_bytes)
        if body is None:
            return _error(413, f"body is over the limit of {config.max_body_bytes} bytes", client)
        try:
            check_signature(config.secret, timestamp, signature, body)
        except SignatureError as error:
            return _error(401, str(error), client)
        try:
            items, landed = await run_in_threadpool(_process, body, config)
        except BodyError as error:
            return _error(error.status, error.message, client)
        except OSError as error:
            logger.exception("intake could not write to the landing zone %s", config.landing_dir)
            return _error(503, f"could not write to the landing zone: {error.strerror or error}", client)
        accepted = [item.event_id for item in items if item.accepted]
        rejected = [
            {"index": item.index, "reason": item.reason, "event_id": item.event_id}
            for item in items
            if not item.accepted
        ]
        metrics.events_accepted += len(accepted)
        metrics.events_rejected += len(rejected)
        metrics.landed_files += 1
        return JSONResponse(
            {"accepted": accepted, "rejected": rejected, "landed_file": landed.name}, status_code=202
        )

    def openapi() -> dict[str, Any]:
        """The generated schema plus the contract's own models, which the request body refers to."""
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        contract = InboundEvent.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(contract.pop("$defs", {}))
        components["InboundEvent"] = contract
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def serve(settings: Settings) -> None:
    """Run the intake under uvicorn until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    config = IntakeConfig.from_settings(settings)
    config.landing_dir.mkdir(parents=True, exist_ok=True)
    host, port = settings.intake.host, settings.intake.port
    # The service's own warnings (each rejected request, with why) in uvicorn's format, on stderr.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    print(f"LeadOps intake on http://{host}:{port} (docs at /docs), landing into {config.landing_dir}")
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
