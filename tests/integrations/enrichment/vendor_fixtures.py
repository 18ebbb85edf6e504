"""Fixtures for enrichment tests (registered in tests/conftest.py): the local vendor API, its token,
a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.integrations.enrichment.enrichment_vendor_server import TOKEN, SettableClock, VendorServer


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer() as server:
        yield server


@pytest.fixture
def vendor_token() -> str:
    return TOKEN


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
