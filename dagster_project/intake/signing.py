"""Request signing: `X-LeadOps-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.

The timestamp is signed with the body, so a captured request cannot be replayed once it is older than
MAX_SKEW_SECONDS; the signature covers the raw bytes, so no JSON re-serialization can change its meaning.
Producers use `signed_headers`; the service uses `check_timestamp` (before reading the body) and
`check_signature` (after).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TIMESTAMP_HEADER = "X-LeadOps-Timestamp"
SIGNATURE_HEADER = "X-LeadOps-Signature"
SCHEME = "v1"
# Five minutes, as Stripe and Slack allow: room for clock drift and retries, short for replays.
MAX_SKEW_SECONDS = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(ValueError):
    """A missing, malformed, expired or wrong signature; the message says which."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value for `body` sent at `timestamp` (unix seconds, as sent in the timestamp header)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """Every header a producer sends with `body`, content type included."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def check_timestamp(timestamp: str | None, now: float) -> str:
    """The timestamp header's text when it is present, numeric and within MAX_SKEW_SECONDS of `now`."""
    if timestamp is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header (unix seconds)")
    timestamp = timestamp.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds, got {timestamp[:40]!r}")
    skew = int(now) - int(timestamp)
    if abs(skew) > MAX_SKEW_SECONDS:
        direction = "old" if skew > 0 else "in the future"
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {abs(skew)} s {direction}; requests must be signed within"
            f" {MAX_SKEW_SECONDS} s of the server's clock"
        )
    return timestamp


def check_signature(secret: str, timestamp: str, header: str | None, body: bytes) -> None:
    """Accept when one of the header's comma-separated `v1=` values matches; compared in constant time.

    Several values let a producer sign with an old and a new secret while the secret is being rotated.
    """
    if header is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header ({SCHEME}=<hex HMAC-SHA256>)")
    candidates = []
    for part in header.split(","):
        scheme, _, digest = part.strip().partition("=")
        if scheme == SCHEME and _HEX_DIGEST.fullmatch(digest):
            candidates.append(digest.lower().encode("ascii"))
    if not candidates:
        raise SignatureError(f"{SIGNATURE_HEADER} must look like {SCHEME}=<64 hex digits>")
    expected = signature(secret, timestamp, body).removeprefix(f"{SCHEME}=").encode("ascii")
    # No early exit: every candidate is compared, so timing says nothing about which one was close.
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matched):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match: sign '<timestamp>.<raw body>' with HMAC-SHA256 and the"
            " shared secret"
        )
