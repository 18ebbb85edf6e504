"""The intake's pure parts: signing, the token bucket, and the settings that configure them."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from dagster_project.intake.rate_limit import TokenBucketLimiter
from dagster_project.intake.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    check_signature,
    check_timestamp,
    signed_headers,
)
from dagster_project.settings import Settings, SettingsError

SECRET = "test-secret-0123456789abcdef"


def test_signature_is_hmac_sha256_of_timestamp_dot_raw_body() -> None:
    body = b'{"event_id": "evt-1"}'

    headers = signed_headers(SECRET, body, now=1_764_000_000.9)

    expected = hmac.new(SECRET.encode(), b"1764000000." + body, hashlib.sha256).hexdigest()
    assert headers == {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: "1764000000",
        SIGNATURE_HEADER: f"v1={expected}",
    }
    check_signature(SECRET, "1764000000", headers[SIGNATURE_HEADER].upper().replace("V1=", "v1="), body)


@pytest.mark.parametrize(("skew", "ok"), [(-300, True), (300, True), (301, False), (-301, False)])
def test_timestamp_is_accepted_within_300_seconds_either_way(skew: int, ok: bool) -> None:
    now = 1_764_000_000
    if ok:
        assert check_timestamp(str(now - skew), now) == str(now - skew)
    else:
        with pytest.raises(SignatureError, match="300 s"):
            check_timestamp(str(now - skew), now)


def test_signature_for_another_timestamp_does_not_verify() -> None:
    body = b"{}"
    headers = signed_headers(SECRET, body, now=1_764_000_000)

    with pytest.raises(SignatureError, match="does not match"):
        check_signature(SECRET, "1764000001", headers[SIGNATURE_HEADER], body)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_steady_rate_per_client() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_second=2, burst=3, clock=clock)

    assert [limiter.take("10.0.0.1") for _ in range(4)] == [0, 0, 0, 1]
    assert limiter.take("10.0.0.2") == 0  # another client has its own bucket
    clock.now += 0.5  # one token back at 2 per second
    assert [limiter.take("10.0.0.1") for _ in range(2)] == [0, 1]


def test_retry_after_is_the_whole_seconds_until_the_next_token() -> None:
    limiter = TokenBucketLimiter(rate_per_second=0.25, burst=1, clock=Clock())

    assert [limiter.take("a"), limiter.take("a")] == [0, 4]


def test_intake_settings_default_to_loopback_and_name_the_variable_when_wrong() -> None:
    intake = Settings.from_env({}).intake
    assert (intake.host, intake.port, intake.secret) == ("127.0.0.1", 8787, None)
    with pytest.raises(SettingsError, match=r"^LEADOPS_INTAKE_SECRET is not set"):
        intake.require_secret()

    configured = Settings.from_env(
        {
            "LEADOPS_INTAKE_HOST": "0.0.0.0",
            "LEADOPS_INTAKE_PORT": "9000",
            "LEADOPS_INTAKE_SECRET": SECRET,
            "LEADOPS_INTAKE_RATE_PER_SECOND": "5",
            "LEADOPS_INTAKE_BURST": "10",
        }
    ).intake
    assert (configured.host, configured.port, configured.require_secret()) == ("0.0.0.0", 9000, SECRET)
    assert (configured.rate_per_second, configured.burst) == (5.0, 10)
    assert SECRET not in repr(configured)

    for variable, value in (
        ("LEADOPS_INTAKE_PORT", "70000"),
        ("LEADOPS_INTAKE_SECRET", "short"),
        ("LEADOPS_INTAKE_RATE_PER_SECOND", "0"),
        ("LEADOPS_INTAKE_BURST", "0"),
    ):
        with pytest.raises(SettingsError, match=rf"^{variable} must"):
            Settings.from_env({variable: value})


def test_serve_without_a_secret_stops_with_one_line(monkeypatch, capsys) -> None:
    from dagster_project.cli import main

    monkeypatch.delenv("LEADOPS_INTAKE_SECRET", raising=False)

    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("leadops: LEADOPS_INTAKE_SECRET is not set")
    assert error.count("\n") == 1
