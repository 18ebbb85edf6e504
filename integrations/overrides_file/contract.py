"""What one operator override may say, checked by one validator that the CLI (at write time) and the
ingest asset (on every run) both use, so a hand-edited line and a typed command obey the same rules.

The file is plain CSV with one override per physical line: values may not contain line breaks, so a broken
hand-edit (say an unbalanced quote) spoils its own line only, and `line_number` is what an editor shows.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import pycountry

OVERRIDE_COLUMNS: tuple[str, ...] = (
    "override_id",
    "created_at",
    "actor",
    "scope",
    "target_id",
    "action",
    "value",
    "reason",
)


class Scope(StrEnum):
    LEAD = "lead"
    ACCOUNT = "account"
    GLOBAL = "global"
    EVENT = "event"


class Action(StrEnum):
    REROUTE_OWNER = "reroute_owner"
    REROUTE_TEAM = "reroute_team"
    RECLASSIFY_INTENT = "reclassify_intent"
    DISQUALIFY = "disqualify"
    PAUSE_AUTOMATION = "pause_automation"
    RESUME_AUTOMATION = "resume_automation"
    CORRECT_FIELD = "correct_field"
    UNMERGE = "unmerge"
    REVOKE = "revoke"


ACTION_SCOPES: dict[Action, frozenset[Scope]] = {
    Action.REROUTE_OWNER: frozenset({Scope.LEAD}),
    Action.REROUTE_TEAM: frozenset({Scope.LEAD}),
    Action.RECLASSIFY_INTENT: frozenset({Scope.LEAD}),
    Action.DISQUALIFY: frozenset({Scope.LEAD}),
    Action.PAUSE_AUTOMATION: frozenset({Scope.LEAD, Scope.ACCOUNT, Scope.GLOBAL}),
    Action.RESUME_AUTOMATION: frozenset({Scope.LEAD, Scope.ACCOUNT, Scope.GLOBAL}),
    Action.CORRECT_FIELD: frozenset({Scope.LEAD}),
    Action.UNMERGE: frozenset({Scope.EVENT}),
    Action.REVOKE: frozenset(Scope),
}

# Actions whose `value` must stay empty: the action itself says everything, the why goes in `reason`.
VALUELESS_ACTIONS = frozenset(
    {Action.DISQUALIFY, Action.PAUSE_AUTOMATION, Action.RESUME_AUTOMATION, Action.UNMERGE}
)

OVERRIDE_ID_PREFIX = "ovr_"
# Hand-written ids ("ovr_fix_acme_1") are fine as long as they are one plain token a shell and CSV keep.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
_MAX_TEXT = 1000
_MAX_SHORT_TEXT = 300
# A hand-edit with a mistyped year ("2062") would be the latest override for decades; a CLI row is never
# ahead of the clock that checks it, so one hour covers clock skew between machines and nothing more.
FUTURE_TOLERANCE = timedelta(hours=1)


class InvalidOverride(ValueError):
    """One override line breaks the contract; the message says which column and why, in plain words."""


class OverridesFileError(ValueError):
    """The file as a whole cannot be read as overrides (e.g. its header row was changed)."""


def _normalize_text(value: str) -> str:
    if len(value) > _MAX_SHORT_TEXT:
        raise InvalidOverride(f"at most {_MAX_SHORT_TEXT} characters, got {len(value)}")
    return value


def _normalize_country_code(value: str) -> str:
    country = pycountry.countries.get(alpha_2=value.upper())
    if country is None:
        raise InvalidOverride(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE, US, GB)")
    return country.alpha_2


def _normalize_employees(value: str) -> str:
    digits = value.replace(",", "").replace("_", "")
    if not digits.isdigit():
        raise InvalidOverride(f"{value!r} is not a whole number of employees")
    return str(int(digits))


# The lead fields an operator may correct, each with the normalization the pipeline expects of it.
CORRECTABLE_FIELDS: dict[str, Callable[[str], str]] = {
    "company": _normalize_text,
    "country_code": _normalize_country_code,
    "job_title": _normalize_text,
    "first_name": _normalize_text,
    "last_name": _normalize_text,
    "employees": _normalize_employees,
}


@dataclass(frozen=True)
class Override:
    """One valid override, values normalized (intent lower-case, country code upper-case, ...)."""

    override_id: str
    created_at: datetime  # naive UTC, like every timestamp in the warehouse
    actor: str
    scope: Scope
    target_id: str | None
    action: Action
    value: str | None
    reason: str

    @property
    def corrected_field(self) -> tuple[str, str] | None:
        """(field, value) of a `correct_field` override, else None."""
        if self.action is not Action.CORRECT_FIELD or self.value is None:
            return None
        name, _, corrected = self.value.partition("=")
        return name, corrected

    def as_csv_row(self) -> list[str]:
        return [
            self.override_id,
            format_timestamp(self.created_at),
            self.actor,
            self.scope.value,
            self.target_id or "",
            self.action.value,
            self.value or "",
            self.reason,
        ]


def new_override_id() -> str:
    return f"{OVERRIDE_ID_PREFIX}{secrets.token_hex(6)}"


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 to the second with a `Z`, e.g. 2026-03-01T09:30:00Z: readable, sortable, unambiguous."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 with `Z` or an offset, converted to naive UTC; a time without an offset is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise InvalidOverride(
            f"created_at {text!r} is not an ISO-8601 time such as 2026-03-01T09:30:00Z"
        ) from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _clean(raw: Mapping[str, str | None], column: str) -> str | None:
    value = raw.get(column)
    if value is None:
        return None
    if "\n" in value or "\r" in value:
        raise InvalidOverride(f"{column} must be on one line (no line breaks)")
    return value.strip() or None


def _required(raw: Mapping[str, str | None], column: str, hint: str) -> str:
    value = _clean(raw, column)
    if value is None:
        raise InvalidOverride(f"{column} is required: {hint}")
    return value


_Enum = TypeVar("_Enum", bound=StrEnum)


def _enum_value(enum: type[_Enum], text: str, column: str) -> _Enum:
    try:
        return enum(text.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidOverride(f"{column} {text!r} is not one of: {allowed}") from None


def _validate_value(action: Action, value: str | None) -> str | None:
    if action in VALUELESS_ACTIONS:
        if value is not None:
            raise InvalidOverride(f"{action} takes no value (put the why in reason), got {value!r}")
        return None
    if value is None:
        raise InvalidOverride(f"{action} needs a value: {_VALUE_HINTS[action]}")
    if action is Action.RECLASSIFY_INTENT:
        return _enum_value(intent_taxonomy(), value, "intent").value
    if action is Action.CORRECT_FIELD:
        name, separator, corrected = value.partition("=")
        name, corrected = name.strip().lower(), corrected.strip()
        if not separator or not name:
            raise InvalidOverride(f"correct_field value must be field=value, got {value!r}")
        if name not in CORRECTABLE_FIELDS:
            raise InvalidOverride(
                f"field {name!r} cannot be corrected; allowed: {', '.join(CORRECTABLE_FIELDS)}"
            )
        if not corrected:
            raise InvalidOverride(f"correct_field {name} needs a new value after '='")
        try:
            return f"{name}={CORRECTABLE_FIELDS[name](corrected)}"
        except InvalidOverride as error:
            raise InvalidOverride(f"{name}: {error}") from None
    if action is Action.REVOKE:
        if not _PLAIN_ID.match(value):
            raise InvalidOverride(f"revoke value must be the override_id it cancels, got {value!r}")
        return value
    if not _PLAIN_ID.match(value):
        raise InvalidOverride(f"{action} value must be one id without spaces, got {value!r}")
    return value


def intent_taxonomy() -> type[StrEnum]:
    """The intent enum of the interpretation schema. Imported on use: the schema module reads the product
    catalogue file, which no other `leadops override` command needs."""
    from integrations.llm.schema import Intent

    return Intent


_VALUE_HINTS = {
    Action.REROUTE_OWNER: "the owner_id",
    Action.REROUTE_TEAM: "the team",
    Action.RECLASSIFY_INTENT: "one intent of the taxonomy (integrations/llm/schema.py)",
    Action.CORRECT_FIELD: "field=value",
    Action.REVOKE: "the override_id to cancel",
}


def validate_override(raw: Mapping[str, str | None], now: datetime | None = None) -> Override:
    """One row (column → text as in the CSV) → a normalized `Override`, or `InvalidOverride` saying why.

    Checks the row alone; `parse_overrides` adds the checks that need the other rows (unique ids,
    revokes that name an existing override).
    """
    unknown = sorted(set(raw) - set(OVERRIDE_COLUMNS))
    if unknown:
        raise InvalidOverride(f"unknown column(s) {', '.join(unknown)}")
    override_id = _required(raw, "override_id", "one id per override, e.g. ovr_3f9a0c1b2d4e")
    if not _PLAIN_ID.match(override_id):
        raise InvalidOverride(f"override_id {override_id!r} must be one plain token (letters, digits, _.:@-)")
    created_at = parse_timestamp(
        _required(raw, "created_at", "when it was decided, e.g. 2026-03-01T09:30:00Z")
    )
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if created_at > now + FUTURE_TOLERANCE:
        raise InvalidOverride(f"created_at {format_timestamp(created_at)} is in the future")
    actor = _required(raw, "actor", "who decided this (a person's name or login)")
    reason = _required(raw, "reason", "why the automation's answer is overridden")
    for column, text in (("actor", actor), ("reason", reason)):
        if len(text) > _MAX_TEXT:
            raise InvalidOverride(f"{column} has at most {_MAX_TEXT} characters, got {len(text)}")
    scope = _enum_value(Scope, _required(raw, "scope", "lead, account, global or event"), "scope")
    action = _enum_value(Action, _required(raw, "action", "what to override"), "action")
    if scope not in ACTION_SCOPES[action]:
        allowed = ", ".join(sorted(ACTION_SCOPES[action]))
        raise InvalidOverride(f"action {action} is not possible for scope {scope} (allowed: {allowed})")
    target_id = _clean(raw, "target_id")
    if scope is Scope.GLOBAL and target_id is not None:
        raise InvalidOverride(f"a global override has no target_id, got {target_id!r}")
    if scope is not Scope.GLOBAL and target_id is None:
        raise InvalidOverride(f"target_id is required for scope {scope}: the {scope}_id it applies to")
    if target_id is not None and not _PLAIN_ID.match(target_id):
        raise InvalidOverride(f"target_id {target_id!r} must be one id without spaces")
    value = _validate_value(action, _clean(raw, "value"))
    return Override(override_id, created_at, actor, scope, target_id, action, value, reason)


@dataclass(frozen=True)
class RejectedLine:
    line_number: int
    reason: str
    raw_text: str


@dataclass(frozen=True)
class ParsedOverrides:
    """Every non-blank line after the header ends in exactly one of the two lists."""

    accepted: list[tuple[int, Override]] = field(default_factory=list)
    rejected: list[RejectedLine] = field(default_factory=list)

    def action_counts(self) -> dict[str, int]:
        counts = Counter(override.action.value for _, override in self.accepted)
        return {action.value: counts.get(action.value, 0) for action in Action}

    def revoked_by(self) -> dict[str, str]:
        """override_id → the id of the revoke that cancels it."""
        return {
            override.value: override.override_id
            for _, override in self.accepted
            if override.action is Action.REVOKE and override.value
        }

    def find(self, override_id: str) -> Override | None:
        return next((o for _, o in self.accepted if o.override_id == override_id), None)


HEADER_LINE = ",".join(OVERRIDE_COLUMNS)


def _check_header(header_text: str) -> list[str]:
    columns = [name.strip().lower() for name in next(csv.reader([header_text]), [])]
    if sorted(columns) != sorted(OVERRIDE_COLUMNS):
        missing = sorted(set(OVERRIDE_COLUMNS) - set(columns))
        extra = sorted(set(columns) - set(OVERRIDE_COLUMNS))
        raise OverridesFileError(
            "the first line of the overrides file must be the header "
            f"{HEADER_LINE!r} (columns in any order); missing: {', '.join(missing) or 'none'}, "
            f"unexpected: {', '.join(extra) or 'none'}"
        )
    return columns


def parse_overrides(text: str | None, now: datetime | None = None) -> ParsedOverrides:
    """The whole file → accepted overrides and rejected lines with reasons. `None` (no file) = no overrides.

    A bad line is rejected and the rest go on; only a changed header, which makes every line ambiguous,
    raises `OverridesFileError`.
    """
    if text is None:
        return ParsedOverrides()
    # Split on "\n" only (not str.splitlines, which also breaks at \x0b, \u2028, ...): line numbers must be
    # the ones an editor shows.
    lines = [line.removesuffix("\r") for line in text.lstrip("\ufeff").split("\n")]
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ParsedOverrides()
    columns = _check_header(lines[first])
    candidates: list[tuple[int, str, Override | None, str | None]] = []
    for index in range(first + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        try:
            values = next(csv.reader([line], strict=True))
            if len(values) != len(columns):
                raise InvalidOverride(f"expected {len(columns)} comma-separated values, found {len(values)}")
            candidates.append(
                (index + 1, line, validate_override(dict(zip(columns, values, strict=True))), None)
            )
        except (csv.Error, InvalidOverride) as error:
            candidates.append((index + 1, line, None, str(error)))
    return _check_across_rows(candidates)


def _check_across_rows(candidates: Sequence[tuple[int, str, Override | None, str | None]]) -> ParsedOverrides:
    """Unique override ids, and revokes that cancel a valid, non-revoke override of the same target."""
    first_line_of: dict[str, int] = {}
    by_id: dict[str, Override] = {}
    unique: list[tuple[int, str, Override | None, str | None]] = []
    for line_number, line, override, problem in candidates:
        if override is not None and override.override_id in first_line_of:
            problem = (
                f"override_id {override.override_id} is already used on line "
                f"{first_line_of[override.override_id]}"
            )
            override = None
        elif override is not None:
            first_line_of[override.override_id] = line_number
            by_id[override.override_id] = override
        unique.append((line_number, line, override, problem))
    parsed = ParsedOverrides()
    for line_number, line, override, problem in unique:
        if override is not None and override.action is Action.REVOKE:
            problem = revoke_problem(override, by_id.get(override.value or ""))
        if problem is None and override is not None:
            parsed.accepted.append((line_number, override))
        else:
            parsed.rejected.append(RejectedLine(line_number, problem or "invalid", line))
    return parsed


def revoke_problem(revoke: Override, target: Override | None) -> str | None:
    """Why a revoke cannot stand, or None. It must cancel a valid override and carry that one's target."""
    if target is None:
        return f"revoke names {revoke.value}, which is not a valid override in this file"
    if target.action is Action.REVOKE:
        return f"{target.override_id} is itself a revoke; add the override again instead of revoking a revoke"
    if (target.scope, target.target_id) != (revoke.scope, revoke.target_id):
        where = f"{target.scope} {target.target_id}" if target.target_id else str(target.scope)
        return f"revoke of {target.override_id} must carry its scope and target ({where})"
    return None


def render_csv_line(override: Override) -> str:
    """One CSV line (with its newline) exactly as the file stores it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(override.as_csv_row())
    return buffer.getvalue()
