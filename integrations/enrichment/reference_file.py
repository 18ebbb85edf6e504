"""The embedded default provider: a firmographics reference CSV kept next to the installation.

Columns: domain, name, country, employees, industry, confidence. A row that does not fit is reported with
its line number and skipped, so one typo in a 50,000-row export does not stop enrichment for the rest.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from common.domains import registrable_domain
from integrations.enrichment.port import Clock, Firmographics, utc_now

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("domain", "name", "country", "employees", "industry", "confidence")


@dataclass(frozen=True)
class RowProblem:
    line_number: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.reason}"


class ReferenceFileError(ValueError):
    """The file as a whole cannot be used (missing, or without the required columns)."""


class ReferenceFileProvider:
    """Looks companies up by registrable domain in a CSV loaded once, at construction."""

    def __init__(self, path: str | Path, *, name: str = "reference_file", clock: Clock = utc_now) -> None:
        self.name = name
        self.path = Path(path)
        self._clock = clock
        self._by_domain, self.problems = _load(self.path, loaded_at=clock(), provider=name)
        for problem in self.problems:
            logger.warning("firmographics reference %s, %s (row skipped)", self.path, problem)

    def __len__(self) -> int:
        return len(self._by_domain)

    def lookup(self, domain: str, *, company_name: str | None = None) -> Firmographics | None:
        # Domain only: matching a company by name is the identity stage's job, and a name collision
        # ("Acme") would hand one company's size to another.
        key = registrable_domain(domain)
        row = self._by_domain.get(key) if key else None
        if row is None:
            return None
        return row.model_copy(update={"fetched_at": self._clock()})


def _load(
    path: Path, *, loaded_at: datetime, provider: str
) -> tuple[dict[str, Firmographics], list[RowProblem]]:
    if not path.is_file():
        raise ReferenceFileError(f"firmographics reference file not found: {path}")
    by_domain: dict[str, Firmographics] = {}
    first_line_of: dict[str, int] = {}
    problems: list[RowProblem] = []
    # utf-8-sig: spreadsheet exports often start with a byte-order mark that would rename "domain".
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [column.strip().lower() for column in reader.fieldnames or []]
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise ReferenceFileError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}"
            )
        reader.fieldnames = header
        for raw in reader:
            line_number = reader.line_num
            if None in raw or any(value is None for value in raw.values()):
                problems.append(RowProblem(line_number, f"expected {len(header)} fields"))
                continue
            row = {column: raw[column].strip() for column in REQUIRED_COLUMNS}
            try:
                firmographics = Firmographics(
                    domain=row["domain"],
                    name=row["name"],
                    country=row["country"],
                    employees=_whole_number(row["employees"]),
                    industry=row["industry"],
                    confidence=row["confidence"],
                    provider=provider,
                    fetched_at=loaded_at,
                )
            except (ValidationError, ValueError) as error:
                problems.append(RowProblem(line_number, _describe(error)))
                continue
            if firmographics.domain in first_line_of:
                problems.append(
                    RowProblem(
                        line_number,
                        f"duplicate domain {firmographics.domain} (first on line "
                        f"{first_line_of[firmographics.domain]}, which is kept)",
                    )
                )
                continue
            first_line_of[firmographics.domain] = line_number
            by_domain[firmographics.domain] = firmographics
    return by_domain, problems


def _whole_number(text: str) -> int:
    # Exports write "1,200" or "1200.0"; anything that is not a whole number is a bad row, not a guess.
    cleaned = text.replace(",", "").replace("_", "")
    try:
        number = float(cleaned)
    except ValueError:
        raise ValueError(f"employees: {text!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"employees: {text!r} is not a whole number")
    return int(number)


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" for issue in error.errors()
        )
    return str(error)
