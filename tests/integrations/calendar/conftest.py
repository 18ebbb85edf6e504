"""One Radicale per test module; each test gets fresh owner calendars (unique names, no cleanup races)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.integrations.calendar.radicale_server import RadicaleServer

_calendar_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with RadicaleServer(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture
def owner_calendar(radicale: RadicaleServer) -> tuple[str, str]:
    """(owner, calendar URL) of a new, empty calendar."""
    owner = f"ana{next(_calendar_numbers)}"
    return owner, radicale.make_calendar(owner)
