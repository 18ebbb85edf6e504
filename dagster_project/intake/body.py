"""From a request body to landed lines: one event (a JSON object) or a batch (a JSON array).

Every item of an accepted request becomes one line of the landed file, in order (line = index + 1),
whether it meets the contract or not. A rejected item is landed too, as the raw JSON text the producer
sent: ingest runs the same `parse_event_line` on it and quarantines it in raw.quarantined_events with the
same reason, so `leadops events` accounts for every item the intake answered for and a fixed contract
(or a replay) can recover it. The answer to the producer and the warehouse therefore never disagree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from assets.ingest.contract import ContractViolation, parse_event_line

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


class BodyError(ValueError):
    """The body as a whole cannot be taken; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Item:
    """One item of the body: the line landed for it and, when it breaks the contract, why."""

    index: int
    line: str
    event_id: str | None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


def _one_line(text: str) -> str:
    # Valid JSON has no raw CR or LF inside strings (they must be escaped), so outside strings they are
    # whitespace: replacing them keeps the item's meaning and makes it one JSON Lines line.
    return text.replace("\r", " ").replace("\n", " ")


def _json_type(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def split_items(body: bytes, max_items: int) -> list[str]:
    """The raw JSON text of each item, one line each; raises BodyError for a body that is not a batch."""
    try:
        text = body.removeprefix(_BYTE_ORDER_MARK).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(400, f"body is not UTF-8 text: {error}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise BodyError(400, f"body is not JSON: {error}") from None
    except RecursionError:
        raise BodyError(400, "body is not JSON the service can read: nested too deeply") from None
    if isinstance(document, dict):
        return [_one_line(text.strip(" \t\n\r"))]
    if not isinstance(document, list):
        raise BodyError(
            400, f"body must be one event (a JSON object) or an array of events, got {_json_type(document)}"
        )
    if not document:
        raise BodyError(400, f"empty batch: send one event or an array of 1 to {max_items} events")
    if len(document) > max_items:
        raise BodyError(413, f"batch of {len(document)} events is over the limit of {max_items} per request")
    # The document parsed, so walking it again item by item with raw_decode cannot fail; it yields each
    # item's exact text (key order, duplicate keys, number spelling) for the landed line.
    decoder = json.JSONDecoder()
    position = _JSON_WHITESPACE.match(text).end() + 1  # past "["
    items = []
    for _ in document:
        start = _JSON_WHITESPACE.match(text, position).end()
        _, end = decoder.raw_decode(text, start)
        items.append(_one_line(text[start:end]))
        position = _JSON_WHITESPACE.match(text, end).end() + 1  # past "," or "]"
    return items


def judge(lines: list[str]) -> list[Item]:
    """Check each line against inbound contract v1 exactly as ingest will."""
    items = []
    for index, line in enumerate(lines):
        try:
            event = parse_event_line(line)
        except ContractViolation as violation:
            items.append(Item(index, line, violation.event_id, violation.reason))
        else:
            items.append(Item(index, line, event.event_id))
    return items
