"""Fixtures: the local vendor API, its token in the environment, a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from enrichment_vendor_server import TOKEN, TOKEN_ENV_VAR, SettableClock, VendorServer


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer() as server:
        yield server


@pytest.fixture
def vendor_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
    return TOKEN_ENV_VAR


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
