"""Where the run and the sensor read the operator's overrides from: the file in the data home, or an
in-memory stand-in for tests and local experiments."""

from abc import ABC, abstractmethod
from pathlib import Path

from dagster import ConfigurableResource

from integrations.overrides_file.store import OverridesSnapshot, read_snapshot


class OverridesSource(ConfigurableResource, ABC):
    """Anything that can hand over the overrides file's current content."""

    @abstractmethod
    def read_snapshot(self) -> OverridesSnapshot: ...

    @abstractmethod
    def describe(self) -> str: ...


class OverridesFile(OverridesSource):
    """The operator's CSV, `$LEADOPS_HOME/overrides/overrides.csv` (see `store.overrides_path`)."""

    path: str

    def read_snapshot(self) -> OverridesSnapshot:
        return read_snapshot(Path(self.path))

    def describe(self) -> str:
        return self.path


class InMemoryOverrides(OverridesSource):
    """The fake beside `OverridesFile`: the CSV text itself, or None for "no file"."""

    content: str | None = None

    def read_snapshot(self) -> OverridesSnapshot:
        data = None if self.content is None else self.content.encode("utf-8")
        return OverridesSnapshot("<in memory>", data)

    def describe(self) -> str:
        return "in-memory overrides"
