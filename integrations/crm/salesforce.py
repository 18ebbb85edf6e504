"""`SalesforceCrm`: the CRM port on Salesforce's REST API through `simple-salesforce`.

Login: a client-credentials flow (an External Client App / Connected App with a run-as integration user)
against a configurable login URL, because simple-salesforce's own password and JWT logins are hard-coded to
*.salesforce.com. The token is fetched on first use and once more when Salesforce says it expired. The
client id and secret come from the caller and appear in no message, log or repr.

How the port's objects map onto Salesforce: leads are Leads, contacts Contacts, accounts Accounts (found by
their Website's domain), opportunities Opportunities, owners Users (`IsActive`), tasks and notes Tasks
(a note is a completed Task whose Description is the note; the decision's reason, rule and evidence go in
it), hung off the lead or contact (`WhoId`) or the account or opportunity (`WhatId`).

Exactly once: leads and contacts are upserted by the external-id field (`LeadOps_External_Id__c`, marked
External ID and Unique), which answers 201 on create and 200 on update and never makes a second record; a
task or note is looked up by that field before it is created, and a create whose answer was lost comes
back as DUPLICATE_VALUE naming the existing record. Salesforce keeps no version per record, so the
adapter keeps one in `LeadOps_Version__c` and only writes when a field really changes.

Custom fields the org needs: on Lead, Contact and Task `LeadOps_External_Id__c` (Text, External ID,
Unique); on Lead and Contact `LeadOps_Version__c` (Number); on Lead `LeadOps_Status__c`, `LeadOps_Team__c`,
`LeadOps_Account_Id__c`, `LeadOps_Contact_Id__c` (Text). A missing one surfaces as Salesforce's own 400.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from integrations.crm.models import (
    OWNABLE_TYPES,
    Account,
    AdminRecord,
    Contact,
    ContactFields,
    CrmRecord,
    LeadFields,
    ObjectType,
    Opportunity,
    Owner,
    merge_fields,
)
from integrations.crm.port import UPDATABLE_TYPES, CrmPermanentError, CrmTransientError, UpdatedRecord

DEFAULT_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_API_VERSION = "59.0"
EXTERNAL_ID = "LeadOps_External_Id__c"
VERSION = "LeadOps_Version__c"
# Salesforce requires LastName (and Company on a Lead); Web-to-Lead fills a missing one with this text,
# so reps already know it means "unknown". It is read back as an absent field.
NOT_PROVIDED = "[not provided]"

LEAD_FIELDS = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "company": "Company",
    "job_title": "Title",
    "phone": "Phone",
    "country_code": "Country",
    "status": "LeadOps_Status__c",
    "owner_id": "OwnerId",
    "team": "LeadOps_Team__c",
    "account_id": "LeadOps_Account_Id__c",
    "contact_id": "LeadOps_Contact_Id__c",
    "source": "LeadSource",
    "description": "Description",
}
CONTACT_FIELDS = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "title": "Title",
    "phone": "Phone",
    "account_id": "AccountId",
    "owner_id": "OwnerId",
}
_REQUIRED = {ObjectType.LEAD: ("LastName", "Company"), ObjectType.CONTACT: ("LastName",)}
TASK_FIELDS = [
    "Subject",
    "ActivityDate",
    "ReminderDateTime",
    "OwnerId",
    "Status",
    "WhoId",
    "WhatId",
    "Description",
]
_SOBJECT = {
    ObjectType.LEAD: "Lead",
    ObjectType.CONTACT: "Contact",
    ObjectType.ACCOUNT: "Account",
    ObjectType.OPPORTUNITY: "Opportunity",
    ObjectType.TASK: "Task",
    ObjectType.NOTE: "Task",
    ObjectType.OWNER: "User",
}
# Key prefixes: the first three characters of every Salesforce id name its object.
_KEY_PREFIX = {
    "00Q": ObjectType.LEAD,
    "003": ObjectType.CONTACT,
    "001": ObjectType.ACCOUNT,
    "006": ObjectType.OPPORTUNITY,
}
_WRITTEN_TYPES = frozenset({ObjectType.LEAD, ObjectType.CONTACT, ObjectType.TASK, ObjectType.NOTE})
_PARENT_ORDER = (ObjectType.LEAD, ObjectType.CONTACT, ObjectType.ACCOUNT, ObjectType.OPPORTUNITY)
_DUPLICATE = re.compile(r"duplicates value on record with id: ?(\w+)")
_T = TypeVar("_T")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _salesforce_time(value: str) -> datetime:
    return _as_utc(datetime.fromisoformat(value))


def _messages(error: SalesforceError) -> str:
    content = error.content
    if isinstance(content, list):
        return "; ".join(
            f"{item.get('errorCode')}: {item.get('message')}" for item in content if isinstance(item, dict)
        )
    return str(content)


def _error_codes(error: SalesforceError) -> set[str]:
    content = error.content if isinstance(error.content, list) else []
    return {str(item.get("errorCode")) for item in content if isinstance(item, dict)}


def domain_of(website: str | None) -> str | None:
    """`https://www.Acme.com/about` -> `acme.com`: how an Account's Website compares with a lead's domain."""
    if not website:
        return None
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    return host.removeprefix("www.") or None


class SalesforceTransientError(CrmTransientError):
    """A retryable Salesforce failure; `retry_after` is the server's Retry-After in seconds if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Duplicate(CrmPermanentError):
    def __init__(self, existing_id: str | None, message: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class _TimedSession(requests.Session):
    """Every request gets a timeout (simple-salesforce sets none) and the last Retry-After is kept."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self._timeout = timeout_seconds
        self.last = threading.local()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        response = super().request(method, url, *args, **kwargs)
        self.last.retry_after = response.headers.get("Retry-After")
        return response


class SalesforceCrm:
    """`CrmPort` on a Salesforce org, logging in with client credentials at `login_url`."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        login_url: str = DEFAULT_LOGIN_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._login_url = login_url.rstrip("/")
        self._api_version = api_version
        self._session = _TimedSession(timeout_seconds)
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SalesforceCrm(login_url={self._login_url!r})"

    # ---- transport ---------------------------------------------------------------------------------------

    def _login(self) -> Salesforce:
        try:
            response = self._session.post(
                f"{self._login_url}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
            )
        except requests.RequestException as error:
            raise SalesforceTransientError(f"Salesforce login: no answer ({type(error).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise SalesforceTransientError(f"Salesforce login: HTTP {response.status_code}")
        if response.status_code != 200:
            try:
                detail = response.json().get("error_description") or response.json().get("error")
            except ValueError:
                detail = response.text[:200]
            raise CrmPermanentError(f"Salesforce refused the client credentials: {detail}")
        token = response.json()
        return Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            version=self._api_version,
            session=self._session,
            object_pairs_hook=dict,
        )

    def _client(self, *, renew: bool = False) -> Salesforce:
        with self._lock:
            if self._sf is None or renew:
                self._sf = self._login()
            return self._sf

    def _call(self, what: str, operation: Callable[[Salesforce], _T]) -> _T:
        for attempt in (1, 2):
            try:
                return operation(self._client(renew=attempt == 2))
            except SalesforceExpiredSession as error:
                if attempt == 2:
                    raise CrmPermanentError(
                        f"Salesforce refused the session twice ({what}): {_messages(error)}"
                    ) from error
            except requests.RequestException as error:
                raise SalesforceTransientError(
                    f"Salesforce {what}: no answer ({type(error).__name__})"
                ) from error
            except SalesforceError as error:
                raise self._translate(what, error) from error
        raise AssertionError("unreachable")

    def _translate(self, what: str, error: SalesforceError) -> CrmPermanentError | CrmTransientError:
        message = _messages(error)
        codes = _error_codes(error)
        if "DUPLICATE_VALUE" in codes:
            found = _DUPLICATE.search(message)
            return _Duplicate(found.group(1) if found else None, message)
        if error.status == 429 or "REQUEST_LIMIT_EXCEEDED" in codes or error.status >= 500:
            raw = getattr(self._session.last, "retry_after", None)
            retry_after = float(raw) if raw and raw.replace(".", "", 1).isdigit() else None
            return SalesforceTransientError(
                f"Salesforce {what}: HTTP {error.status}: {message}", retry_after=retry_after
            )
        if "UNABLE_TO_LOCK_ROW" in codes:
            return SalesforceTransientError(f"Salesforce {what}: {message}")
        if isinstance(error, SalesforceResourceNotFound):
            return CrmPermanentError(f"Salesforce {what}: not found: {message}")
        return CrmPermanentError(f"Salesforce {what}: HTTP {error.status}: {message}")

    def _query(self, what: str, soql: str) -> list[dict[str, Any]]:
        return self._call(what, lambda sf: sf.query_all(soql)["records"])

    def _get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        try:
            return self._call(f"read {sobject} {record_id}", lambda sf: getattr(sf, sobject).get(record_id))
        except CrmPermanentError as error:
            cause = error.__cause__
            # A string that is no Salesforce id at all answers 400 MALFORMED_ID or 404: either way, no record.
            if isinstance(cause, SalesforceResourceNotFound) or (
                isinstance(cause, SalesforceMalformedRequest)
                and {"MALFORMED_ID", "INVALID_ID_FIELD"} & _error_codes(cause)
            ):
                return None
            raise

    def _get_by_external_id(self, sobject: str, stored_id: str) -> dict[str, Any] | None:
        try:
            return self._call(
                f"read {sobject} {stored_id}",
                lambda sf: getattr(sf, sobject).get_by_custom_id(EXTERNAL_ID, stored_id),
            )
        except CrmPermanentError as error:
            if isinstance(error.__cause__, SalesforceResourceNotFound):
                return None
            raise

    # ---- conversions ------------------------------------------------------------------------------------

    @staticmethod
    def _field_map(object_type: ObjectType) -> dict[str, str]:
        return LEAD_FIELDS if object_type is ObjectType.LEAD else CONTACT_FIELDS

    @staticmethod
    def _stored_external_id(object_type: ObjectType, external_id: str) -> str:
        # Tasks and notes share the Task object: the prefix keeps their external ids apart.
        if object_type in (ObjectType.TASK, ObjectType.NOTE):
            return f"{object_type}:{external_id}"
        return external_id

    def _record(
        self, object_type: ObjectType, row: dict[str, Any], *, created: bool, changed: bool
    ) -> CrmRecord:
        stored = row.get(EXTERNAL_ID)
        if object_type is ObjectType.ACCOUNT:
            external_id = None
            fields = self._account(row).model_dump(mode="json", exclude={"account_id"}, exclude_none=True)
        elif object_type is ObjectType.OPPORTUNITY:
            external_id = None
            fields = merge_fields(
                {},
                {
                    "account_id": row.get("AccountId"),
                    "stage": row.get("StageName"),
                    "owner_id": row.get("OwnerId"),
                },
            )
        elif object_type in (ObjectType.TASK, ObjectType.NOTE):
            external_id = stored.partition(":")[2] if stored else None
            parent_id = row.get("WhoId") or row.get("WhatId")
            related = {}
            if parent_id:
                related = {
                    "related_object_type": str(self._parent_type(parent_id)),
                    "related_record_id": parent_id,
                }
            if object_type is ObjectType.NOTE:
                fields = {"body": row.get("Description"), **related}
            else:
                fields = merge_fields(
                    {},
                    {
                        "subject": row.get("Subject"),
                        "due_at": self._due_at(row),
                        "owner_id": row.get("OwnerId"),
                        "status": "done" if row.get("Status") == "Completed" else "open",
                        **related,
                    },
                )
        else:
            external_id = stored
            required = _REQUIRED.get(object_type, ())
            fields = {
                field: row[name]
                for field, name in self._field_map(object_type).items()
                if row.get(name) not in (None, "") and not (name in required and row[name] == NOT_PROVIDED)
            }
        return CrmRecord(
            object_type=object_type,
            record_id=row["Id"],
            external_id=external_id,
            fields=fields,
            version=int(row.get(VERSION) or 1),
            created_at=_salesforce_time(row["CreatedDate"]),
            updated_at=_salesforce_time(row["LastModifiedDate"]),
            created=created,
            changed=changed,
        )

    @staticmethod
    def _due_at(row: dict[str, Any]) -> str | None:
        # The reminder carries the due time; a rep who turned it off leaves the date (midnight UTC).
        if row.get("ReminderDateTime"):
            return _salesforce_time(row["ReminderDateTime"]).isoformat()
        if row.get("ActivityDate"):
            return datetime.fromisoformat(row["ActivityDate"]).replace(tzinfo=UTC).isoformat()
        return None

    def _parent_type(self, record_id: str) -> ObjectType:
        known = _KEY_PREFIX.get(record_id[:3])
        if known is not None:
            return known
        return self._parent(record_id)[0]

    def _parent(self, record_id: str) -> tuple[ObjectType, dict[str, Any]]:
        hinted = _KEY_PREFIX.get(record_id[:3])
        for object_type in (hinted,) if hinted else _PARENT_ORDER:
            row = self._get(_SOBJECT[object_type], record_id)
            if row is not None:
                return object_type, row
        raise CrmPermanentError(f"no lead, contact, account or opportunity with id {record_id}")

    # ---- checks -----------------------------------------------------------------------------------------

    def _check_owner(self, owner_id: str | None) -> None:
        if owner_id is None:
            return
        rows = self._query("read owner", format_soql("SELECT Id, IsActive FROM User WHERE Id = {}", owner_id))
        if not rows:
            raise CrmPermanentError(f"unknown owner {owner_id}")
        if not rows[0].get("IsActive"):
            raise CrmPermanentError(f"owner {owner_id} is inactive (deactivated user in Salesforce)")

    def _check_reference(self, record_id: str | None, expected: ObjectType) -> None:
        if record_id is not None and self.get_record(expected, record_id=record_id) is None:
            raise CrmPermanentError(f"unknown {expected} {record_id}")

    # ---- reads ------------------------------------------------------------------------------------------

    _OWNER_SOQL = "SELECT Id, Name, Email, IsActive, Department, SystemModstamp FROM User"

    @staticmethod
    def _owner(row: dict[str, Any]) -> Owner:
        # Salesforce has no region or capacity: both come from the owners' capacity seed downstream;
        # capacity 0 keeps a user Salesforce lists from being routed to before the seed says so.
        return Owner(
            owner_id=row["Id"],
            name=row.get("Name") or row["Email"],
            email=row["Email"],
            team=row.get("Department") or "unassigned",
            region="unknown",
            active=bool(row.get("IsActive")),
            capacity=0,
        )

    def read_owners(self) -> list[Owner]:
        return [self._owner(row) for row in self._query("read users", self._OWNER_SOQL)]

    _ACCOUNT_SOQL = (
        "SELECT Id, Name, Website, BillingCountry, NumberOfEmployees, Industry, Type, OwnerId, SystemModstamp"
        " FROM Account"
    )

    @staticmethod
    def _account(row: dict[str, Any]) -> Account:
        return Account(
            account_id=row["Id"],
            name=row["Name"],
            domain=domain_of(row.get("Website")),
            country=row.get("BillingCountry"),
            employees=row.get("NumberOfEmployees"),
            industry=row.get("Industry"),
            status="customer" if (row.get("Type") or "").lower().startswith("customer") else "prospect",
            owner_id=row.get("OwnerId"),
        )

    def read_accounts(self) -> list[Account]:
        return [self._account(row) for row in self._query("read accounts", self._ACCOUNT_SOQL)]

    def find_account_by_domain(self, domain: str) -> Account | None:
        """The account whose Website is on `domain` (Website is free text: compared by its host name)."""
        domain = domain.strip().lower()
        soql = self._ACCOUNT_SOQL + format_soql(" WHERE Website LIKE '%{:like}%'", domain)
        matches = [
            row for row in self._query("find account", soql) if domain_of(row.get("Website")) == domain
        ]
        return self._account(matches[0]) if matches else None

    _CONTACT_SOQL = (
        f"SELECT Id, {', '.join(CONTACT_FIELDS.values())}, {EXTERNAL_ID}, {VERSION}, CreatedDate,"
        " LastModifiedDate, SystemModstamp FROM Contact"
    )

    def _contact(self, row: dict[str, Any]) -> Contact:
        record = self._record(ObjectType.CONTACT, row, created=False, changed=False)
        return Contact(contact_id=record.record_id, **record.fields)

    def read_contacts(self) -> list[Contact]:
        return [self._contact(row) for row in self._query("read contacts", self._CONTACT_SOQL)]

    _OPPORTUNITY_SOQL = (
        "SELECT Id, AccountId, StageName, IsClosed, IsWon, OwnerId, SystemModstamp FROM Opportunity"
    )

    @staticmethod
    def _opportunity(row: dict[str, Any]) -> Opportunity:
        # Stage names are the org's own; a closed one is named as the snapshot names closed stages.
        stage = row["StageName"]
        if row.get("IsClosed"):
            stage = "closed_won" if row.get("IsWon") else "closed_lost"
        return Opportunity(
            opportunity_id=row["Id"], account_id=row["AccountId"], stage=stage, owner_id=row.get("OwnerId")
        )

    def read_open_opportunities(self) -> list[Opportunity]:
        rows = self._query("read opportunities", self._OPPORTUNITY_SOQL + " WHERE IsClosed = false")
        return [self._opportunity(row) for row in rows if row.get("AccountId")]

    def read_updated(self, object_type: ObjectType, since: datetime | None = None) -> list[UpdatedRecord]:
        """One SOQL query per object type, `WHERE SystemModstamp >= since`: SystemModstamp is indexed and
        also moves on changes made by automation (a user deactivated by a flow), which LastModifiedDate
        misses. Without `since`, everything (opportunities: the open ones)."""
        object_type = ObjectType(object_type)
        readers: dict[ObjectType, tuple[str, Callable[[dict[str, Any]], AdminRecord]]] = {
            ObjectType.OWNER: (self._OWNER_SOQL, self._owner),
            ObjectType.ACCOUNT: (self._ACCOUNT_SOQL, self._account),
            ObjectType.CONTACT: (self._CONTACT_SOQL, self._contact),
            ObjectType.OPPORTUNITY: (self._OPPORTUNITY_SOQL, self._opportunity),
        }
        if object_type not in readers:
            raise ValueError(f"read_updated serves {', '.join(UPDATABLE_TYPES)}, not {object_type}")
        soql, convert = readers[object_type]
        if since is not None:
            # SOQL datetime literals are unquoted and take whole seconds: rounding down re-reads at most
            # one second of changes, which the caller's upsert absorbs.
            soql += f" WHERE SystemModstamp >= {_as_utc(since):%Y-%m-%dT%H:%M:%SZ}"
        elif object_type is ObjectType.OPPORTUNITY:
            soql += " WHERE IsClosed = false"
        rows = self._query(f"read updated {object_type}s", soql)
        if object_type is ObjectType.OPPORTUNITY:
            rows = [row for row in rows if row.get("AccountId")]
        return [UpdatedRecord(convert(row), _salesforce_time(row["SystemModstamp"])) for row in rows]

    def _select(self, object_type: ObjectType) -> str:
        if object_type in (ObjectType.TASK, ObjectType.NOTE):
            names = [*TASK_FIELDS, EXTERNAL_ID]
        else:
            names = [*self._field_map(object_type).values(), EXTERNAL_ID, VERSION]
        return f"SELECT Id, {', '.join(names)}, CreatedDate, LastModifiedDate"

    def get_record(
        self, object_type: ObjectType, *, record_id: str | None = None, external_id: str | None = None
    ) -> CrmRecord | None:
        if (record_id is None) == (external_id is None):
            raise ValueError("get_record takes exactly one of record_id and external_id")
        object_type = ObjectType(object_type)
        if object_type is ObjectType.OWNER or (external_id is not None and object_type not in _WRITTEN_TYPES):
            # Users, accounts and opportunities carry no LeadOps external id: LeadOps never creates them.
            return None
        sobject = _SOBJECT[object_type]
        if external_id is not None:
            row = self._get_by_external_id(sobject, self._stored_external_id(object_type, external_id))
        else:
            hinted = _KEY_PREFIX.get((record_id or "")[:3])
            if hinted is not None and hinted is not object_type:
                return None
            row = self._get(sobject, record_id or "")
        if row is None:
            return None
        if object_type in (ObjectType.TASK, ObjectType.NOTE):
            kind = (row.get(EXTERNAL_ID) or "").partition(":")[0]
            if kind != object_type:
                return None
        return self._record(object_type, row, created=False, changed=False)

    def read_by_external_ids(
        self, object_type: ObjectType, external_ids: Sequence[str]
    ) -> dict[str, CrmRecord]:
        object_type = ObjectType(object_type)
        if object_type not in _WRITTEN_TYPES:
            return {}
        stored = {self._stored_external_id(object_type, e): e for e in dict.fromkeys(external_ids)}
        found: dict[str, CrmRecord] = {}
        keys = list(stored)
        # 200 quoted ids keep one SOQL statement far under Salesforce's 100,000-character limit.
        for start in range(0, len(keys), 200):
            soql = self._select(object_type) + format_soql(
                f" FROM {_SOBJECT[object_type]} WHERE {EXTERNAL_ID} IN {{}}", keys[start : start + 200]
            )
            for row in self._query(f"read {object_type}s by external id", soql):
                record = self._record(object_type, row, created=False, changed=False)
                found[stored[row[EXTERNAL_ID]]] = record
        return {e: found[e] for e in stored.values() if e in found}

    def count(self, object_type: ObjectType) -> int:
        object_type = ObjectType(object_type)
        soql = f"SELECT COUNT() FROM {_SOBJECT[object_type]}"
        if object_type in (ObjectType.TASK, ObjectType.NOTE):
            soql += format_soql(f" WHERE {EXTERNAL_ID} LIKE '{{:like}}%'", f"{object_type}:")
        return self._call(f"count {object_type}s", lambda sf: int(sf.query(soql)["totalSize"]))

    # ---- writes -----------------------------------------------------------------------------------------

    def upsert_lead(self, external_id: str, fields: LeadFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        self._check_owner(changes.get("owner_id"))
        self._check_reference(changes.get("contact_id"), ObjectType.CONTACT)
        if changes.get("account_id") is not None and self._get("Account", changes["account_id"]) is None:
            raise CrmPermanentError(f"unknown account {changes['account_id']}")
        return self._upsert(ObjectType.LEAD, external_id, changes)

    def upsert_contact(self, external_id: str, fields: ContactFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        self._check_owner(changes.get("owner_id"))
        if changes.get("account_id") is not None and self._get("Account", changes["account_id"]) is None:
            raise CrmPermanentError(f"unknown account {changes['account_id']}")
        return self._upsert(ObjectType.CONTACT, external_id, changes)

    def _salesforce_values(self, object_type: ObjectType, changes: dict[str, Any]) -> dict[str, Any]:
        mapping = self._field_map(object_type)
        values = {mapping[field]: value for field, value in changes.items()}
        for name in _REQUIRED.get(object_type, ()):
            if name in values and values[name] is None:
                values[name] = NOT_PROVIDED
        return values

    def _upsert(self, object_type: ObjectType, external_id: str, changes: dict[str, Any]) -> CrmRecord:
        if not external_id.strip():
            raise CrmPermanentError(f"a {object_type} upsert needs a non-empty external id")
        sobject = _SOBJECT[object_type]
        current = self.get_record(object_type, external_id=external_id)
        if current is not None:
            merged = merge_fields(current.fields, changes)
            if merged == current.fields:
                return current
            delta = {
                k: merged.get(k) for k in {*merged, *current.fields} if merged.get(k) != current.fields.get(k)
            }
            values = {**self._salesforce_values(object_type, delta), VERSION: current.version + 1}
        else:
            values = {**self._salesforce_values(object_type, changes), VERSION: 1}
            for name in _REQUIRED.get(object_type, ()):
                values.setdefault(name, NOT_PROVIDED)
        # Upsert by the external-id field: 201 created, 200 updated; a retried create updates the same row.
        path = f"{EXTERNAL_ID}/{quote(external_id, safe='')}"
        response = self._call(
            f"upsert {sobject} {external_id}",
            lambda sf: getattr(sf, sobject).upsert(path, values, raw_response=True),
        )
        record_id = response.json()["id"]
        row = self._get(sobject, record_id)
        if row is None:
            raise SalesforceTransientError(f"Salesforce {sobject} {record_id} did not read back")
        return self._record(object_type, row, created=response.status_code == 201, changed=True)

    def assign_owner(self, object_type: ObjectType, record_id: str, owner_id: str) -> CrmRecord:
        object_type = ObjectType(object_type)
        if object_type not in OWNABLE_TYPES:
            raise CrmPermanentError(f"records of type {object_type} have no owner")
        sobject = _SOBJECT[object_type]
        current = self.get_record(object_type, record_id=record_id)
        if current is None:
            raise CrmPermanentError(f"no {object_type} with id {record_id}")
        self._check_owner(owner_id)
        if current.fields.get("owner_id") == owner_id:
            return current
        values: dict[str, Any] = {"OwnerId": owner_id}
        if object_type in (ObjectType.LEAD, ObjectType.CONTACT):
            # Accounts and opportunities are the org's own records: LeadOps keeps no version on them.
            values[VERSION] = current.version + 1
        self._call(
            f"assign owner of {sobject} {record_id}",
            lambda sf: getattr(sf, sobject).update(record_id, values),
        )
        updated = self.get_record(object_type, record_id=record_id)
        if updated is None:
            raise SalesforceTransientError(f"Salesforce {sobject} {record_id} did not read back")
        return updated.model_copy(update={"changed": True})

    def create_task(
        self, external_id: str, record_id: str, subject: str, due_at: datetime, owner_id: str | None
    ) -> CrmRecord:
        if not subject.strip():
            raise CrmPermanentError("a task needs a subject")
        existing = self.get_record(ObjectType.TASK, external_id=external_id)
        if existing is not None:
            return existing
        parent_type, _ = self._parent(record_id)
        self._check_owner(owner_id)
        due = _as_utc(due_at)
        values = {
            "Subject": subject.strip(),
            "ActivityDate": due.date().isoformat(),
            "ReminderDateTime": due.isoformat(),
            "IsReminderSet": True,
            "Status": "Not Started",
        }
        if owner_id is not None:
            values["OwnerId"] = owner_id
        return self._create_task(ObjectType.TASK, external_id, values, record_id, parent_type)

    def add_note(self, external_id: str, record_id: str, body: str) -> CrmRecord:
        """A completed Task whose Description is `body`: the decision's reason, rule and evidence."""
        if not body.strip():
            raise CrmPermanentError("a note needs a body")
        existing = self.get_record(ObjectType.NOTE, external_id=external_id)
        if existing is not None:
            return existing
        parent_type, _ = self._parent(record_id)
        values = {"Subject": "LeadOps note", "Description": body, "Status": "Completed"}
        return self._create_task(ObjectType.NOTE, external_id, values, record_id, parent_type)

    def _create_task(
        self,
        object_type: ObjectType,
        external_id: str,
        values: dict[str, Any],
        parent_id: str,
        parent_type: ObjectType,
    ) -> CrmRecord:
        parent_field = "WhoId" if parent_type in (ObjectType.LEAD, ObjectType.CONTACT) else "WhatId"
        values = {
            **values,
            parent_field: parent_id,
            EXTERNAL_ID: self._stored_external_id(object_type, external_id),
        }
        try:
            result = self._call(f"create {object_type}", lambda sf: sf.Task.create(values))
        except _Duplicate as duplicate:
            # Another worker's create (or our own whose answer was lost) holds the external id: return that
            # record, untouched. DUPLICATE_VALUE names it; the external id finds it otherwise.
            existing = (
                self.get_record(object_type, record_id=duplicate.existing_id)
                if duplicate.existing_id
                else self.get_record(object_type, external_id=external_id)
            )
            if existing is None:
                raise SalesforceTransientError(
                    f"Salesforce reported {object_type} {external_id} exists but it does not read back"
                ) from None
            return existing
        created = self.get_record(object_type, record_id=result["id"])
        if created is None:
            raise SalesforceTransientError(f"Salesforce Task {result['id']} did not read back")
        return created.model_copy(update={"created": True, "changed": True})

    def import_records(self, records: Sequence[AdminRecord]) -> list[CrmRecord | CrmPermanentError]:
        # Salesforce is the system of record for users, accounts and opportunities: LeadOps reads them,
        # never loads them. The CSV import is for the embedded CRM.
        return [
            CrmPermanentError(
                f"Salesforce records are managed in Salesforce; not importing {type(r).__name__}"
            )
            for r in records
        ]
