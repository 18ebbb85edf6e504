"""A stateful Salesforce REST contract server for tests, over TLS with its own test CA (simple-salesforce
hard-codes https): the endpoints `SalesforceCrm` uses, with Salesforce's documented shapes and error bodies.

Endpoints: `POST /services/oauth2/token` (client credentials), and under `/services/data/v59.0`:
`query` (the SOQL subset the adapter writes: SELECT fields or COUNT() FROM one object, WHERE conditions
`=`, `>=` on a datetime literal (SystemModstamp), `IN (...)`, `LIKE` joined by AND), `sobjects/{Object}`
create, `sobjects/{Object}/{Id}` read,
update and delete, `sobjects/{Object}/{ExternalIdField}/{value}` read and upsert (201 created / 200 updated,
API >= 46).

Rules it keeps like Salesforce: errors are a JSON list of {"message", "errorCode", "fields"}; an expired or
unknown session -> 401 INVALID_SESSION_ID; an unknown field -> 400 INVALID_FIELD; a missing required field
-> 400 REQUIRED_FIELD_MISSING; an inactive or unknown owner -> 400; a second record with a unique
external id -> 400 DUPLICATE_VALUE naming the existing id; unknown id -> 404 NOT_FOUND. Faults come from
`FaultPlan` (see contract_server_base).

    with SalesforceServer(client_id="id", client_secret="secret") as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.write_ca(tmp_path)))
        SalesforceCrm("id", "secret", login_url=server.url)
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import trustme
from contract_server_base import ApiError, ContractServer, FaultPlan

API = "/services/data/v59.0"
EXTERNAL_ID = "LeadOps_External_Id__c"
KEY_PREFIX = {
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "Task": "00T",
    "User": "005",
}
FIELDS: dict[str, set[str]] = {
    "Lead": {
        "Email",
        "FirstName",
        "LastName",
        "Company",
        "Title",
        "Phone",
        "Country",
        "OwnerId",
        "LeadSource",
        "Description",
        "LeadOps_Status__c",
        "LeadOps_Team__c",
        "LeadOps_Account_Id__c",
        "LeadOps_Contact_Id__c",
        "LeadOps_Version__c",
        EXTERNAL_ID,
    },
    "Contact": {
        "Email",
        "FirstName",
        "LastName",
        "Title",
        "Phone",
        "AccountId",
        "OwnerId",
        "LeadOps_Version__c",
        EXTERNAL_ID,
    },
    "Account": {"Name", "Website", "BillingCountry", "NumberOfEmployees", "Industry", "Type", "OwnerId"},
    "Opportunity": {"Name", "AccountId", "StageName", "CloseDate", "OwnerId"},
    "Task": {
        "Subject",
        "Description",
        "ActivityDate",
        "ReminderDateTime",
        "IsReminderSet",
        "Status",
        "OwnerId",
        "WhoId",
        "WhatId",
        EXTERNAL_ID,
    },
    "User": {"Name", "Email", "IsActive", "Department"},
}
REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",), "Account": ("Name",)}
EXTERNAL_ID_FIELDS = {"Lead": EXTERNAL_ID, "Contact": EXTERNAL_ID, "Task": EXTERNAL_ID}
DATETIME_FIELDS = {"ReminderDateTime"}
CLOSED_STAGES = {"Closed Won", "Closed Lost"}

_CONDITION = re.compile(
    r"\s*(?P<field>\w+)\s*(?P<op>>=|=|IN|LIKE)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\((?:\s*'(?:[^'\\]|\\.)*'\s*,?)*\)|true|false"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s*(?P<rest>AND\b)?",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)(?:\s+WHERE\s+(?P<where>.+))?$", re.S
)


def _now() -> str:
    return _format_time(datetime.now(UTC))


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _error(status: int, code: str, message: str, fields: list[str] | None = None) -> ApiError:
    return ApiError(status, [{"message": message, "errorCode": code, "fields": fields or []}])


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _like(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.S)


class SalesforceServer(ContractServer):
    def __init__(
        self,
        *,
        client_id: str = "test-client",
        client_secret: str = "test-secret",
        faults: FaultPlan | None = None,
        missing_fields: set[str] = frozenset(),
    ) -> None:
        self._ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        super().__init__(faults=faults, ssl_context=context)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.fields = {name: fields - set(missing_fields) for name, fields in FIELDS.items()}
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self._ids = itertools.count(1)
        self.fault_errors = {
            "rate_limit": ApiError(
                429,
                [{"message": "Too many requests, retry later", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                {"Retry-After": str(self.faults.retry_after_seconds)},
            ),
            "server_error": _error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable"),
        }

    def write_ca(self, directory: Path) -> Path:
        """Write the test CA's certificate (PEM) for REQUESTS_CA_BUNDLE and return its path."""
        path = Path(directory) / "salesforce-test-ca.pem"
        self._ca.cert_pem.write_to_path(str(path))
        return path

    def expire_sessions(self) -> None:
        self.tokens.clear()

    # ---- seeding (Python, not HTTP: users, accounts and opportunities are the org's own) -----------------

    def seed(self, sobject: str, record_id: str, **values: Any) -> None:
        now = _now()
        self.records[sobject][record_id] = {
            "Id": record_id,
            "CreatedDate": now,
            "LastModifiedDate": now,
            **{k: v for k, v in values.items() if v is not None},
        }

    def count(self, sobject: str, **where: Any) -> int:
        return sum(1 for r in self.records[sobject].values() if all(r.get(k) == v for k, v in where.items()))

    # ---- HTTP ------------------------------------------------------------------------------------------

    def serve(self, method: str, path: str, raw: bytes, headers: Any) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(path)
        if method == "POST" and parts.path == "/services/oauth2/token":
            return self._token(parse_qs(raw.decode()))
        auth = headers.get("Authorization") or ""
        if auth.removeprefix("Bearer ") not in self.tokens:
            raise _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if not parts.path.startswith(API + "/"):
            raise _error(404, "NOT_FOUND", "The requested resource does not exist")
        segments = [unquote(s) for s in parts.path[len(API) + 1 :].split("/") if s]
        query = parse_qs(parts.query)
        body = json.loads(raw) if raw else {}
        return self.with_faults(
            f"{method} {parts.path}", lambda: self._route(method, segments, query, body), self.fault_errors
        )

    def _token(self, form: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        grant = form.get("grant_type", [""])[0]
        if grant != "client_credentials":
            return (
                400,
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                {},
            )
        if (form.get("client_id", [""])[0], form.get("client_secret", [""])[0]) != (
            self.client_id,
            self.client_secret,
        ):
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
        token = "00D000000000001!" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        issued = str(int(datetime.now(UTC).timestamp() * 1000))
        return (
            200,
            {
                "access_token": token,
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001AAA/005000000000001AAA",
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": "test",
            },
            {},
        )

    def _route(self, method: str, segments: list[str], query: dict, body: Any) -> tuple[int, Any]:
        match (method, segments):
            case ("GET", ["query"]):
                return 200, self._query(query.get("q", [""])[0])
            case ("POST", ["sobjects", sobject]):
                return 201, self._create(self._object(sobject), body)
            case ("GET", ["sobjects", sobject, record_id]):
                return 200, self._view(self._object(sobject), self._by_id(sobject, record_id), None)
            case ("DELETE", ["sobjects", sobject, record_id]):
                self.records[sobject].pop(self._by_id(sobject, record_id)["Id"])
                return 204, None
            case ("PATCH", ["sobjects", sobject, record_id]):
                self._update(self._object(sobject), self._by_id(sobject, record_id), body)
                return 204, None
            case ("GET", ["sobjects", sobject, field, value]):
                found = self._by_external_id(self._object(sobject), field, value)
                if found is None:
                    raise _error(404, "NOT_FOUND", "The requested resource does not exist")
                return 200, self._view(sobject, found, None)
            case ("PATCH", ["sobjects", sobject, field, value]):
                return self._upsert(self._object(sobject), field, value, body)
        raise _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _object(self, sobject: str) -> str:
        if sobject not in self.records:
            raise _error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{sobject}'")
        return sobject

    def _by_id(self, sobject: str, record_id: str) -> dict[str, Any]:
        found = self.records[self._object(sobject)].get(record_id)
        if found is None:
            raise _error(404, "NOT_FOUND", "The requested resource does not exist")
        return found

    def _by_external_id(self, sobject: str, field: str, value: str) -> dict[str, Any] | None:
        if EXTERNAL_ID_FIELDS.get(sobject) != field or field not in self.fields[sobject]:
            raise _error(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}"
            )
        return next((r for r in self.records[sobject].values() if r.get(field) == value), None)

    def _view(self, sobject: str, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        view = dict(record) if fields is None else {f: record.get(f) for f in fields}
        if sobject == "Opportunity" and (fields is None or "IsClosed" in fields):
            view["IsClosed"] = record.get("StageName") in CLOSED_STAGES
        if sobject == "Opportunity" and (fields is None or "IsWon" in fields):
            view["IsWon"] = record.get("StageName") == "Closed Won"
        if fields is None or "SystemModstamp" in fields:
            # No automation here changes a record behind the API: the two stamps move together.
            view["SystemModstamp"] = record["LastModifiedDate"]
        view["attributes"] = {"type": sobject, "url": f"{API}/sobjects/{sobject}/{record['Id']}"}
        return view

    def _validate(self, sobject: str, values: dict[str, Any], current: dict[str, Any] | None) -> dict:
        for field in values:
            if field not in self.fields[sobject]:
                raise _error(400, "INVALID_FIELD", f"No such column '{field}' on sobject of type {sobject}")
        owner_id = values.get("OwnerId")
        if owner_id is not None:
            user = self.records["User"].get(owner_id)
            if user is None:
                raise _error(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Owner ID: id value of incorrect type: {owner_id}",
                    ["OwnerId"],
                )
            if not user.get("IsActive"):
                raise _error(
                    400,
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{owner_id}] as owner of {sobject.lower()}",
                )
        for field, targets in (("WhoId", ("Lead", "Contact")), ("WhatId", ("Account", "Opportunity"))):
            target = values.get(field)
            if target is not None and not any(target in self.records[t] for t in targets):
                raise _error(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{field}: id value of incorrect type: {target}",
                    [field],
                )
        if values.get("Email") and "@" not in str(values["Email"]):
            raise _error(400, "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {values['Email']}")
        merged = {**(current or {}), **values}
        missing = [f for f in REQUIRED.get(sobject, ()) if merged.get(f) in (None, "")]
        if missing:
            raise _error(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]"
            )
        external_field = EXTERNAL_ID_FIELDS.get(sobject)
        external = values.get(external_field) if external_field else None
        if external is not None:
            holder = self._by_external_id(sobject, external_field, external)
            if holder is not None and holder is not current:
                raise _error(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {external_field} duplicates value on record with id:"
                    f" {holder['Id']}",
                    [],
                )
        normalized = dict(values)
        for field in DATETIME_FIELDS & set(values):
            if values[field] is not None:
                normalized[field] = _format_time(datetime.fromisoformat(values[field]))
        return normalized

    def _write(self, record: dict[str, Any], values: dict[str, Any]) -> None:
        for field, value in values.items():
            if value in (None, ""):
                record.pop(field, None)
            else:
                record[field] = float(value) if field == "LeadOps_Version__c" else value
        record["LastModifiedDate"] = _now()

    def _create(self, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        values = self._validate(sobject, values, None)
        record_id = f"{KEY_PREFIX[sobject]}{next(self._ids):012d}AAA"
        now = _now()
        record = {"Id": record_id, "CreatedDate": now}
        self._write(record, values)
        record["LastModifiedDate"] = now
        self.records[sobject][record_id] = record
        return {"id": record_id, "success": True, "errors": []}

    def _update(self, sobject: str, record: dict[str, Any], values: dict[str, Any]) -> None:
        self._write(record, self._validate(sobject, values, record))

    def _upsert(self, sobject: str, field: str, value: str, values: dict[str, Any]) -> tuple[int, Any]:
        found = self._by_external_id(sobject, field, value)
        if found is None:
            created = self._create(sobject, {**values, field: value})
            return 201, {**created, "created": True}
        self._update(sobject, found, values)
        return 200, {"id": found["Id"], "success": True, "errors": [], "created": False}

    def _query(self, soql: str) -> dict[str, Any]:
        match = _SELECT.match(soql)
        if match is None:
            raise _error(400, "MALFORMED_QUERY", f"unexpected token in: {soql[:80]}")
        sobject = self._object(match["object"])
        fields = [f.strip() for f in match["fields"].split(",")]
        for field in fields:
            known = self.fields[sobject] | {
                "Id",
                "CreatedDate",
                "LastModifiedDate",
                "SystemModstamp",
                "IsClosed",
                "IsWon",
                "COUNT()",
            }
            if field not in known:
                raise _error(400, "INVALID_FIELD", f"No such column '{field}' on entity '{sobject}'")
        conditions = self._conditions(match["where"] or "")
        rows = [
            r
            for r in self.records[sobject].values()
            if all(test(self._view(sobject, r, None).get(f)) for f, test in conditions)
        ]
        if fields == ["COUNT()"]:
            return {"totalSize": len(rows), "done": True, "records": []}
        return {
            "totalSize": len(rows),
            "done": True,
            "records": [self._view(sobject, r, fields) for r in rows],
        }

    @staticmethod
    def _conditions(where: str) -> list[tuple[str, Any]]:
        conditions: list[tuple[str, Any]] = []
        position = 0
        while position < len(where.strip()):
            match = _CONDITION.match(where, position)
            if match is None:
                raise _error(400, "MALFORMED_QUERY", f"unexpected token in WHERE: {where[position:][:80]}")
            field, op, value = match["field"], match["op"].upper(), match["value"]
            if op == "IN":
                options = {_unescape(v) for v in _QUOTED.findall(value)}
                conditions.append((field, lambda x, options=options: x in options))
            elif op == ">=":
                # Only datetime literals are compared this way (SystemModstamp >= 2026-12-07T21:00:00Z).
                bound = _parse_time(value)
                conditions.append((field, lambda x, bound=bound: x is not None and _parse_time(x) >= bound))
            elif value.lower() in ("true", "false"):
                flag = value.lower() == "true"
                conditions.append((field, lambda x, flag=flag: bool(x) is flag))
            elif op == "LIKE":
                pattern = _like(value[1:-1])
                conditions.append(
                    (field, lambda x, p=pattern: x is not None and p.fullmatch(str(x)) is not None)
                )
            else:
                literal = _unescape(value[1:-1])
                conditions.append((field, lambda x, literal=literal: x == literal))
            position = match.end()
            if not match["rest"] and position < len(where.strip()):
                raise _error(400, "MALFORMED_QUERY", f"unexpected token in WHERE: {where[position:][:80]}")
        return conditions
