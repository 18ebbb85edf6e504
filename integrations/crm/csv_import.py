"""Load CRM exports (owners, accounts, contacts, opportunities CSVs) into a CRM through the port.

Files load in reference order, owners → accounts → contacts → opportunities, so each row's owner_id and
account_id can be checked against what the CRM already holds plus what this import just loaded.

A file that cannot be read as its contract (missing, no header, missing columns) stops the import before
anything is written (`CsvFormatError`). A bad row is reported with file, line and reason and skipped; the good
rows load. Loading is an upsert by the CSV id, so re-importing the same files changes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from integrations.crm.models import Account, AdminRecord, Contact, Opportunity, Owner
from integrations.crm.port import CrmPermanentError, CrmPort


class CsvFormatError(ValueError):
    """A CSV file does not have the shape of its contract; nothing was imported."""


class Rejection(BaseModel):
    file_name: str
    line_number: int
    record_id: str | None
    reason: str


class FileReport(BaseModel):
    kind: str
    file_name: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    ignored_columns: list[str] = []

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged


class ImportReport(BaseModel):
    files: list[FileReport] = []
    rejections: list[Rejection] = []

    @property
    def loaded(self) -> int:
        return sum(report.loaded for report in self.files)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def format(self) -> str:
        """Human-readable summary for the CLI."""
        if not self.files:
            return "No CRM files given; nothing imported."
        width = max(len(report.file_name) for report in self.files)
        lines = [
            f"{report.file_name:<{width}}  loaded {report.loaded:>4} ({report.created} new, "
            f"{report.updated} updated, {report.unchanged} unchanged)  rejected {report.rejected:>3}"
            for report in self.files
        ]
        for report in self.files:
            if report.ignored_columns:
                ignored = ", ".join(report.ignored_columns)
                lines.append(f"warning: {report.file_name}: ignored unknown columns {ignored}")
        if self.rejections:
            lines.append(f"{self.rejected} rejected rows (not imported; fix them and import again):")
            lines.extend(
                f"  {rejection.file_name}:{rejection.line_number}  "
                f"{rejection.record_id or '(no id)'}  {rejection.reason}"
                for rejection in self.rejections
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Contract:
    kind: str
    model: type[Owner | Account | Contact | Opportunity]
    id_column: str

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)


_CONTRACTS = (
    _Contract("owners", Owner, "owner_id"),
    _Contract("accounts", Account, "account_id"),
    _Contract("contacts", Contact, "contact_id"),
    _Contract("opportunities", Opportunity, "opportunity_id"),
)
# Which loaded (or rejected) ids each reference column must point at.
_REFERENCES = {"owner_id": "owners", "account_id": "accounts"}


@dataclass
class _CsvFile:
    contract: _Contract
    path: Path
    header: list[str]

    @property
    def ignored_columns(self) -> list[str]:
        return [column for column in self.header if column not in self.contract.columns]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number where the row starts, cells) for each non-blank data row."""
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader)
            last_line = reader.line_num
            for cells in reader:
                start_line, last_line = last_line + 1, reader.line_num
                if any(cell.strip() for cell in cells):
                    yield start_line, cells


def _open_contract_file(contract: _Contract, path: Path) -> _CsvFile:
    if not path.is_file():
        raise CsvFormatError(f"{contract.kind} file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first_row = next(csv.reader(handle), None)
    except UnicodeDecodeError as error:
        raise CsvFormatError(f"{path.name} is not UTF-8 text: {error}") from error
    if not first_row or not any(cell.strip() for cell in first_row):
        raise CsvFormatError(f"{path.name} is empty; expected a header row: {','.join(contract.columns)}")
    header = [cell.strip().lower() for cell in first_row]
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if duplicated:
        raise CsvFormatError(f"{path.name}: header repeats column(s) {', '.join(duplicated)}")
    missing = [column for column in contract.columns if column not in header]
    if missing:
        raise CsvFormatError(
            f"{path.name}: header lacks column(s) {', '.join(missing)}; the {contract.kind} contract is "
            f"{','.join(contract.columns)} (is the header row missing?)"
        )
    return _CsvFile(contract, path, header)


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or "row"
        # Blank cells of optional columns become None before validation, so a blank that fails is required.
        if detail["input"] in ("", None):
            problems.append(f"{field} is required")
            continue
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{field} {detail['input']!r}: {message}")
    return "; ".join(problems)


# Rows per CRM transaction. One transaction per row paid an fsync each (3-15 ms, so minutes for a 50k-row
# export); one per file would hold the CRM's write lock for the whole file while a run waits. 500 rows take
# well under a second, inside the run's 5 s busy timeout.
BATCH_SIZE = 500


@dataclass(frozen=True)
class _PendingRow:
    line_number: int
    record_id: str
    model: AdminRecord


class _Importer:
    def __init__(self, crm: CrmPort) -> None:
        self._crm = crm
        self.report = ImportReport()
        # Ids the CRM holds, per kind, and rows rejected in this import (id -> "file:line").
        self._known: dict[str, set[str]] = {
            "owners": {owner.owner_id for owner in crm.read_owners()},
            "accounts": {account.account_id for account in crm.read_accounts()},
        }
        self._rejected_at: dict[str, dict[str, str]] = {"owners": {}, "accounts": {}}

    def load(self, csv_file: _CsvFile) -> None:
        contract = csv_file.contract
        file_report = FileReport(
            kind=contract.kind, file_name=csv_file.path.name, ignored_columns=csv_file.ignored_columns
        )
        self.report.files.append(file_report)
        rejections: list[Rejection] = []
        first_seen: dict[str, int] = {}
        pending: list[_PendingRow] = []
        for line_number, cells in csv_file.rows():
            values = dict(zip(csv_file.header, (cell.strip() for cell in cells), strict=False))
            record_id = values.get(contract.id_column) or None
            reason = self._row_problem(csv_file, cells, record_id, first_seen)
            if record_id is not None:
                first_seen.setdefault(record_id, line_number)
            model: AdminRecord | None = None
            if reason is None:
                reason, model = self._validate(contract, values)
            if model is None or record_id is None:
                rejections.append(
                    Rejection(
                        file_name=file_report.file_name,
                        line_number=line_number,
                        record_id=record_id,
                        reason=str(reason),
                    )
                )
            else:
                pending.append(_PendingRow(line_number, record_id, model))
            if len(pending) >= BATCH_SIZE:
                self._write(pending, file_report, rejections)
                pending = []
        self._write(pending, file_report, rejections)
        rejections.sort(key=lambda rejection: rejection.line_number)
        file_report.rejected = len(rejections)
        self.report.rejections.extend(rejections)
        if contract.kind in self._rejected_at:
            for rejection in rejections:
                if rejection.record_id:
                    where = f"{rejection.file_name}:{rejection.line_number}"
                    self._rejected_at[contract.kind].setdefault(rejection.record_id, where)

    def _row_problem(
        self,
        csv_file: _CsvFile,
        cells: list[str],
        record_id: str | None,
        first_seen: dict[str, int],
    ) -> str | None:
        id_column = csv_file.contract.id_column
        if len(cells) != len(csv_file.header):
            return f"row has {len(cells)} values but the header has {len(csv_file.header)} columns"
        if record_id is None:
            return f"{id_column} is empty"
        if record_id in first_seen:
            return f"duplicate {id_column} {record_id}: already on line {first_seen[record_id]}"
        return None

    def _validate(self, contract: _Contract, values: dict[str, str]) -> tuple[str | None, AdminRecord | None]:
        try:
            model = contract.model.model_validate({column: values[column] for column in contract.columns})
        except ValidationError as error:
            return _describe(error), None
        for column, kind in _REFERENCES.items():
            if column == contract.id_column:
                continue
            referenced: Any = getattr(model, column, None)
            if referenced is None or referenced in self._known[kind]:
                continue
            rejected_at = self._rejected_at[kind].get(referenced)
            where = f" (its row {rejected_at} was rejected)" if rejected_at else ""
            return f"{column} {referenced} is not a known {kind[:-1]}{where}", None
        return None, model

    def _write(self, rows: list[_PendingRow], file_report: FileReport, rejections: list[Rejection]) -> None:
        if not rows:
            return
        outcomes = self._crm.import_records([row.model for row in rows])
        for row, outcome in zip(rows, outcomes, strict=True):
            if isinstance(outcome, CrmPermanentError):
                rejections.append(
                    Rejection(
                        file_name=file_report.file_name,
                        line_number=row.line_number,
                        record_id=row.record_id,
                        reason=str(outcome),
                    )
                )
                continue
            if file_report.kind in self._known:
                self._known[file_report.kind].add(outcome.record_id)
            if outcome.created:
                file_report.created += 1
            elif outcome.changed:
                file_report.updated += 1
            else:
                file_report.unchanged += 1


def import_crm_csvs(
    crm: CrmPort,
    *,
    owners: Path | None = None,
    accounts: Path | None = None,
    contacts: Path | None = None,
    opportunities: Path | None = None,
) -> ImportReport:
    """Import the given CRM CSVs into `crm`; see the module docstring for what is loaded and what is rejected.

    Raises `CsvFormatError` (before writing anything) when a file is missing or its header does not match
    its contract. A `CrmTransientError` (CRM busy) propagates: rows written so far stay, and importing again
    is safe because every row is an upsert.
    """
    paths = {"owners": owners, "accounts": accounts, "contacts": contacts, "opportunities": opportunities}
    files = [
        _open_contract_file(contract, Path(path))
        for contract in _CONTRACTS
        if (path := paths[contract.kind]) is not None
    ]
    importer = _Importer(crm)
    for csv_file in files:
        importer.load(csv_file)
    return importer.report
