"""`HubSpotCrm`: the CRM port on HubSpot's CRM v3/v4 API through `hubspot-api-client`.

How the port's objects map onto HubSpot:

- leads and contacts are both HubSpot contacts (one person, one contact). The port's external id is kept in
  the unique-value property `leadops_external_id` as `lead:<id>` or `contact:<id>`, so a lead and a contact
  of the same person never collide and a contact without the property (made by a rep) reads as a contact.
- accounts are companies (found by `domain`), opportunities are deals, tasks and notes are HubSpot tasks and
  notes associated (v4 association types) with the contact, company or deal they are about.
- owners are HubSpot owners (users); an archived owner is an inactive one.

Exactly once: every write names an external id held in a unique-value property, so a retried create answers
409 with the existing id instead of making a second record; a task or note is looked up before it is
created and never changed afterwards. HubSpot keeps no version per record, so the adapter keeps one in
`leadops_version` and only writes when a field really changes (a repeat is a read, not a write).

Custom properties the portal needs (contacts: leadops_external_id [unique], leadops_version, leadops_status,
leadops_team, leadops_contact_id, leadops_source, leadops_description; tasks and notes: leadops_external_id
[unique]) are created once by an admin; a missing one surfaces as HubSpot's own 400 message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import hubspot
import urllib3
from urllib3.util.retry import Retry

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
from integrations.crm.port import (
    UPDATABLE_TYPES,
    CrmPermanentError,
    CrmTransientError,
    UpdatedRecord,
    updated_since,
)

DEFAULT_HOST = "https://api.hubapi.com"

EXTERNAL_ID = "leadops_external_id"
VERSION = "leadops_version"

# Port field -> HubSpot contact property. `associatedcompanyid` is the contact's primary company.
LEAD_PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "job_title": "jobtitle",
    "phone": "phone",
    "country_code": "country",
    "status": "leadops_status",
    "owner_id": "hubspot_owner_id",
    "team": "leadops_team",
    "account_id": "associatedcompanyid",
    "contact_id": "leadops_contact_id",
    "source": "leadops_source",
    "description": "leadops_description",
}
CONTACT_PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "title": "jobtitle",
    "phone": "phone",
    "account_id": "associatedcompanyid",
    "owner_id": "hubspot_owner_id",
}
TASK_PROPERTIES = ["hs_task_subject", "hs_timestamp", "hubspot_owner_id", "hs_task_status", EXTERNAL_ID]
NOTE_PROPERTIES = ["hs_note_body", "hs_timestamp", EXTERNAL_ID]
COMPANY_PROPERTIES = [
    "name",
    "domain",
    "hs_additional_domains",
    "country",
    "numberofemployees",
    "industry",
    "lifecyclestage",
    "hubspot_owner_id",
]
DEAL_PROPERTIES = ["dealname", "dealstage", "hubspot_owner_id"]
# HubSpot's closed deal stage ids, named as the snapshot names closed stages.
CLOSED_DEAL_STAGES = {"closedwon": "closed_won", "closedlost": "closed_lost"}

# HubSpot-defined association type ids (v4), from the "associations" reference.
ASSOCIATION_TYPE_IDS = {
    (ObjectType.TASK, "contacts"): 204,
    (ObjectType.TASK, "companies"): 192,
    (ObjectType.TASK, "deals"): 216,
    (ObjectType.NOTE, "contacts"): 202,
    (ObjectType.NOTE, "companies"): 190,
    (ObjectType.NOTE, "deals"): 214,
}
_PARENT_OBJECTS = {
    "contacts": None,  # lead or contact, told apart by the external id prefix
    "companies": ObjectType.ACCOUNT,
    "deals": ObjectType.OPPORTUNITY,
}
_HUBSPOT_OBJECT = {
    ObjectType.LEAD: "contacts",
    ObjectType.CONTACT: "contacts",
    ObjectType.ACCOUNT: "companies",
    ObjectType.OPPORTUNITY: "deals",
    ObjectType.TASK: "tasks",
    ObjectType.NOTE: "notes",
}
_WRITTEN_TYPES = frozenset({ObjectType.LEAD, ObjectType.CONTACT, ObjectType.TASK, ObjectType.NOTE})
_EXISTING_ID = re.compile(r"Existing ID: ?(\w+)")
_PAGE_SIZE = 100
# batch/read takes at most 100 inputs per call.
_BATCH_SIZE = 100

_T = TypeVar("_T")


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _error_message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            return str(json.loads(body).get("message") or body)
        except (ValueError, AttributeError):
            return str(body)
    return str(getattr(error, "reason", None) or error)


def _retry_after(error: Exception) -> float | None:
    headers = getattr(error, "headers", None) or {}
    value = next((v for k, v in dict(headers).items() if k.lower() == "retry-after"), None)
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


class HubSpotTransientError(CrmTransientError):
    """A retryable HubSpot failure; `retry_after` is HubSpot's Retry-After in seconds when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Conflict(CrmPermanentError):
    """HTTP 409: the unique value is already held; `existing_id` is HubSpot's id of the holder."""

    def __init__(self, existing_id: str | None, message: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class HubSpotCrm:
    """`CrmPort` on a HubSpot portal. `host` points the client at another server (a sandbox or a test)."""

    def __init__(self, access_token: str, *, host: str = DEFAULT_HOST, timeout_seconds: float = 10.0) -> None:
        # Retries belong to the caller's outbox, which knows whether a write may be repeated: the client's
        # own urllib3 retries are off, so one port call is at most one HTTP attempt per request.
        self._client = hubspot.Client.create(access_token=access_token, host=host, retry=Retry(total=0))
        self._timeout = timeout_seconds

    def __repr__(self) -> str:
        return f"HubSpotCrm(host={self._client.config.get('host')!r})"

    # ---- transport ---------------------------------------------------------------------------------------

    def _call(self, what: str, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        try:
            return function(*args, _request_timeout=self._timeout, **kwargs)
        except urllib3.exceptions.HTTPError as error:
            raise HubSpotTransientError(f"HubSpot {what}: no answer ({type(error).__name__})") from error
        except Exception as error:
            status = getattr(error, "status", None)
            if status is None or not hasattr(error, "reason"):
                raise
            raise self._translate(what, error, status) from error

    def _translate(self, what: str, error: Exception, status: int) -> Exception:
        message = _error_message(error)
        if status == 409:
            found = _EXISTING_ID.search(message)
            return _Conflict(found.group(1) if found else None, message)
        if status == 429:
            retry_after = _retry_after(error)
            return HubSpotTransientError(
                f"HubSpot {what}: rate limited ({message}); retry after {retry_after} s",
                retry_after=retry_after,
            )
        if status == 0 or status >= 500:
            return HubSpotTransientError(f"HubSpot {what}: HTTP {status}: {message}", retry_after=None)
        if status == 401:
            return CrmPermanentError(f"HubSpot refused the credentials ({what}): {message}")
        if status == 404:
            return CrmPermanentError(f"HubSpot {what}: not found: {message}")
        return CrmPermanentError(f"HubSpot {what}: HTTP {status}: {message}")

    def _get(self, object_name: str, record_id: str, properties: list[str]) -> Any | None:
        try:
            return self._call(
                f"read {object_name} {record_id}",
                self._client.crm.objects.basic_api.get_by_id,
                object_name,
                record_id,
                properties=properties,
            )
        except CrmPermanentError as error:
            if isinstance(error.__cause__, Exception) and getattr(error.__cause__, "status", None) == 404:
                return None
            raise

    def _batch_read_by_external_id(
        self, object_name: str, stored_ids: Sequence[str], properties: list[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(stored_ids))
        for start in range(0, len(unique), _BATCH_SIZE):
            chunk = unique[start : start + _BATCH_SIZE]
            response = self._call(
                f"batch read {object_name}",
                self._client.crm.objects.batch_api.read,
                object_name,
                {"idProperty": EXTERNAL_ID, "inputs": [{"id": i} for i in chunk], "properties": properties},
            )
            for result in response.results or []:
                key = (result.properties or {}).get(EXTERNAL_ID)
                if key in chunk:
                    found[key] = result
        return found

    def _pages(
        self, object_name: str, properties: list[str], associations: list[str] | None = None
    ) -> Iterator[Any]:
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": _PAGE_SIZE, "properties": properties}
            if associations:
                kwargs["associations"] = associations
            if after:
                kwargs["after"] = after
            page = self._call(
                f"list {object_name}", self._client.crm.objects.basic_api.get_page, object_name, **kwargs
            )
            yield from page.results or []
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return

    def _owner_pages(self, *, archived: bool) -> Iterator[Any]:
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": _PAGE_SIZE, "archived": archived}
            if after:
                kwargs["after"] = after
            page = self._call("list owners", self._client.crm.owners.owners_api.get_page, **kwargs)
            yield from page.results or []
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return

    # ---- conversions ------------------------------------------------------------------------------------

    @staticmethod
    def _property_map(object_type: ObjectType) -> dict[str, str]:
        return LEAD_PROPERTIES if object_type is ObjectType.LEAD else CONTACT_PROPERTIES

    @staticmethod
    def _stored_external_id(object_type: ObjectType, external_id: str) -> str:
        if object_type in (ObjectType.LEAD, ObjectType.CONTACT):
            return f"{object_type}:{external_id}"
        return external_id

    @staticmethod
    def _person_type(properties: dict[str, Any]) -> tuple[ObjectType, str | None]:
        stored = properties.get(EXTERNAL_ID) or ""
        kind, _, external_id = stored.partition(":")
        if kind == ObjectType.LEAD:
            return ObjectType.LEAD, external_id
        return ObjectType.CONTACT, (external_id if kind == ObjectType.CONTACT else None)

    def _record(self, object_type: ObjectType, result: Any, *, created: bool, changed: bool) -> CrmRecord:
        properties = dict(result.properties or {})
        if object_type in (ObjectType.LEAD, ObjectType.CONTACT):
            _, external_id = self._person_type(properties)
            fields = {
                field: properties[prop]
                for field, prop in self._property_map(object_type).items()
                if properties.get(prop) not in (None, "")
            }
        elif object_type is ObjectType.ACCOUNT:
            external_id = None
            fields = self._account(result).model_dump(mode="json", exclude={"account_id"}, exclude_none=True)
        elif object_type is ObjectType.OPPORTUNITY:
            external_id = None
            companies = (getattr(result, "associations", None) or {}).get("companies")
            account_ids = [str(a.id) for a in (companies.results if companies else None) or []]
            fields = merge_fields(
                {},
                {
                    "account_id": account_ids[0] if account_ids else None,
                    "stage": properties.get("dealstage"),
                    "owner_id": properties.get("hubspot_owner_id"),
                },
            )
        elif object_type is ObjectType.TASK:
            external_id = properties.get(EXTERNAL_ID) or None
            fields = {
                "subject": properties.get("hs_task_subject"),
                "due_at": (
                    _as_utc(datetime.fromisoformat(properties["hs_timestamp"])).isoformat()
                    if properties.get("hs_timestamp")
                    else None
                ),
                "owner_id": properties.get("hubspot_owner_id") or None,
                "status": "done" if properties.get("hs_task_status") == "COMPLETED" else "open",
                **self._related(result, object_type),
            }
            fields = merge_fields({}, fields)
        else:
            external_id = properties.get(EXTERNAL_ID) or None
            fields = {"body": properties.get("hs_note_body"), **self._related(result, object_type)}
        version = int(properties.get(VERSION) or 1)
        return CrmRecord(
            object_type=object_type,
            record_id=str(result.id),
            external_id=external_id,
            fields=fields,
            version=version,
            created_at=_as_utc(result.created_at),
            updated_at=_as_utc(result.updated_at),
            created=created,
            changed=changed,
        )

    def _related(self, result: Any, object_type: ObjectType) -> dict[str, str]:
        associations = getattr(result, "associations", None) or {}
        for object_name, collection in associations.items():
            for association in collection.results or []:
                parent_type = _PARENT_OBJECTS.get(object_name)
                if parent_type is None:
                    parent = self._get("contacts", association.id, [EXTERNAL_ID])
                    parent_type = self._person_type(parent.properties or {})[0] if parent else None
                if parent_type is not None:
                    return {"related_object_type": str(parent_type), "related_record_id": str(association.id)}
        return {}

    # ---- checks -----------------------------------------------------------------------------------------

    def _check_owner(self, owner_id: str | None) -> None:
        if owner_id is None:
            return
        owners_api = self._client.crm.owners.owners_api
        for archived in (False, True):
            try:
                self._call("read owner", owners_api.get_by_id, owner_id, id_property="id", archived=archived)
            except CrmPermanentError as error:
                if getattr(error.__cause__, "status", None) != 404:
                    raise
                continue
            if archived:
                raise CrmPermanentError(f"owner {owner_id} is inactive (archived in HubSpot)")
            return
        raise CrmPermanentError(f"unknown owner {owner_id}")

    def _check_reference(self, record_id: str | None, expected: ObjectType) -> None:
        if record_id is None:
            return
        found = self.get_record(expected, record_id=record_id)
        if found is None:
            raise CrmPermanentError(f"unknown {expected} {record_id}")

    def _parent(self, record_id: str) -> tuple[ObjectType, str]:
        for object_name, parent_type in _PARENT_OBJECTS.items():
            found = self._get(object_name, record_id, [EXTERNAL_ID])
            if found is not None:
                if parent_type is None:
                    parent_type = self._person_type(found.properties or {})[0]
                return parent_type, object_name
        raise CrmPermanentError(f"no lead, contact, account or opportunity with id {record_id}")

    # ---- reads ------------------------------------------------------------------------------------------

    def read_owners(self) -> list[Owner]:
        return [owner for owner, _ in self._owners()]

    def _owners(self) -> Iterator[tuple[Owner, datetime | None]]:
        for archived in (False, True):
            for owner in self._owner_pages(archived=archived):
                teams = owner.teams or []
                team = next((t.name for t in teams if t.primary), teams[0].name if teams else "unassigned")
                name = " ".join(filter(None, [owner.first_name, owner.last_name])) or owner.email
                # HubSpot has no region or capacity: both come from the owners' capacity seed downstream;
                # capacity 0 keeps an owner HubSpot lists from being routed to before the seed says so.
                yield (
                    Owner(
                        owner_id=str(owner.id),
                        name=name,
                        email=owner.email,
                        team=team,
                        region="unknown",
                        active=not archived,
                        capacity=0,
                    ),
                    _as_utc(owner.updated_at) if owner.updated_at else None,
                )

    def read_accounts(self) -> list[Account]:
        return [self._account(company) for company in self._pages("companies", COMPANY_PROPERTIES)]

    @staticmethod
    def _account(company: Any) -> Account:
        p = company.properties or {}
        return Account(
            account_id=str(company.id),
            name=p.get("name") or p.get("domain") or str(company.id),
            domain=p.get("domain") or None,
            alias_domains=p.get("hs_additional_domains") or None,
            country=p.get("country"),
            employees=p.get("numberofemployees"),
            industry=p.get("industry"),
            status="customer" if p.get("lifecyclestage") == "customer" else "prospect",
            owner_id=p.get("hubspot_owner_id"),
        )

    def find_account_by_domain(self, domain: str) -> Account | None:
        """The company whose primary domain is `domain` (HubSpot's search index lags writes by seconds)."""
        request = {
            "filterGroups": [{"filters": [{"propertyName": "domain", "operator": "EQ", "value": domain}]}],
            "properties": COMPANY_PROPERTIES,
            "limit": 1,
        }
        response = self._call(
            "search companies", self._client.crm.objects.search_api.do_search, "companies", request
        )
        return self._account(response.results[0]) if response.results else None

    def read_contacts(self) -> list[Contact]:
        properties = [*CONTACT_PROPERTIES.values(), EXTERNAL_ID]
        contacts = []
        for result in self._pages("contacts", properties):
            if self._person_type(result.properties or {})[0] is ObjectType.CONTACT:
                record = self._record(ObjectType.CONTACT, result, created=False, changed=False)
                contacts.append(Contact(contact_id=record.record_id, **record.fields))
        return contacts

    def read_open_opportunities(self) -> list[Opportunity]:
        deals = self._pages("deals", DEAL_PROPERTIES, associations=["companies"])
        return [opp for opp in map(self._opportunity, deals) if opp is not None and opp.is_open]

    @staticmethod
    def _opportunity(deal: Any) -> Opportunity | None:
        """The deal as an opportunity; None for a deal on no company (the snapshot keys deals by account)."""
        p = deal.properties or {}
        companies = (deal.associations or {}).get("companies")
        company_ids = [a.id for a in (companies.results if companies else [])]
        if not company_ids:
            return None
        stage = p.get("dealstage") or "unknown"
        return Opportunity(
            opportunity_id=str(deal.id),
            account_id=str(company_ids[0]),
            stage=CLOSED_DEAL_STAGES.get(stage, stage),
            owner_id=p.get("hubspot_owner_id"),
        )

    def read_updated(self, object_type: ObjectType, since: datetime | None = None) -> list[UpdatedRecord]:
        """Owners: the owners API has no filter by update, so the list (one call per 100 owners) is filtered
        here. Companies, contacts and deals: the search API on `hs_lastmodifieddate` (`lastmodifieddate` on
        contacts), oldest first; the first read lists them all. The search answers at most 10,000 records
        per query, far above what changes between two pulls; its index lags writes by seconds, which the
        caller's look-back covers."""
        object_type = ObjectType(object_type)
        if object_type is ObjectType.OWNER:
            return [UpdatedRecord(owner, at) for owner, at in self._owners() if updated_since(at, since)]
        if object_type is ObjectType.ACCOUNT:
            companies = self._modified("companies", COMPANY_PROPERTIES, since)
            return [UpdatedRecord(self._account(c), _as_utc(c.updated_at)) for c in companies]
        if object_type is ObjectType.CONTACT:
            updated = []
            for result in self._modified("contacts", [*CONTACT_PROPERTIES.values(), EXTERNAL_ID], since):
                if self._person_type(result.properties or {})[0] is ObjectType.CONTACT:
                    record = self._record(ObjectType.CONTACT, result, created=False, changed=False)
                    contact = Contact(contact_id=record.record_id, **record.fields)
                    updated.append(UpdatedRecord(contact, record.updated_at))
            return updated
        if object_type is ObjectType.OPPORTUNITY:
            if since is None:
                deals = list(self._pages("deals", DEAL_PROPERTIES, associations=["companies"]))
            else:
                # Search results carry no associations: each changed deal is read with its company.
                found = self._modified("deals", DEAL_PROPERTIES, since)
                deals = [d for d in (self._read_one(object_type, str(r.id)) for r in found) if d is not None]
            updated = []
            for deal in deals:
                opportunity = self._opportunity(deal)
                if opportunity is not None and (since is not None or opportunity.is_open):
                    updated.append(UpdatedRecord(opportunity, _as_utc(deal.updated_at)))
            return updated
        raise ValueError(f"read_updated serves {', '.join(UPDATABLE_TYPES)}, not {object_type}")

    def _modified(self, object_name: str, properties: list[str], since: datetime | None) -> Iterator[Any]:
        if since is None:
            yield from self._pages(object_name, properties)
            return
        modified = "lastmodifieddate" if object_name == "contacts" else "hs_lastmodifieddate"
        # HubSpot takes datetime filter values as epoch milliseconds.
        value = str(int(_as_utc(since).timestamp() * 1000))
        after: str | None = None
        while True:
            request: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": modified, "operator": "GTE", "value": value}]}
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": _PAGE_SIZE,
            }
            if after:
                request["after"] = after
            page = self._call(
                f"search {object_name}", self._client.crm.objects.search_api.do_search, object_name, request
            )
            yield from page.results or []
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return

    def _properties_for(self, object_type: ObjectType) -> list[str]:
        if object_type is ObjectType.TASK:
            return TASK_PROPERTIES
        if object_type is ObjectType.NOTE:
            return NOTE_PROPERTIES
        if object_type is ObjectType.ACCOUNT:
            return COMPANY_PROPERTIES
        if object_type is ObjectType.OPPORTUNITY:
            return DEAL_PROPERTIES
        return [*self._property_map(object_type).values(), EXTERNAL_ID, VERSION]

    def _read_one(self, object_type: ObjectType, record_id: str) -> Any | None:
        object_name = _HUBSPOT_OBJECT[object_type]
        kwargs: dict[str, Any] = {"properties": self._properties_for(object_type)}
        if object_type in (ObjectType.TASK, ObjectType.NOTE):
            kwargs["associations"] = list(_PARENT_OBJECTS)
        elif object_type is ObjectType.OPPORTUNITY:
            kwargs["associations"] = ["companies"]
        try:
            found = self._call(
                f"read {object_name} {record_id}",
                self._client.crm.objects.basic_api.get_by_id,
                object_name,
                record_id,
                **kwargs,
            )
        except CrmPermanentError as error:
            if getattr(error.__cause__, "status", None) == 404:
                return None
            raise
        if object_name == "contacts" and self._person_type(found.properties or {})[0] is not object_type:
            return None
        return found

    def get_record(
        self, object_type: ObjectType, *, record_id: str | None = None, external_id: str | None = None
    ) -> CrmRecord | None:
        if (record_id is None) == (external_id is None):
            raise ValueError("get_record takes exactly one of record_id and external_id")
        object_type = ObjectType(object_type)
        if object_type not in _HUBSPOT_OBJECT:
            return None
        if external_id is not None:
            return self.read_by_external_ids(object_type, [external_id]).get(external_id)
        found = self._read_one(object_type, record_id or "")
        return None if found is None else self._record(object_type, found, created=False, changed=False)

    def read_by_external_ids(
        self, object_type: ObjectType, external_ids: Sequence[str]
    ) -> dict[str, CrmRecord]:
        object_type = ObjectType(object_type)
        # Companies and deals carry no LeadOps external id: LeadOps never creates them.
        if object_type not in _WRITTEN_TYPES or not external_ids:
            return {}
        stored = {self._stored_external_id(object_type, e): e for e in external_ids}
        found = self._batch_read_by_external_id(
            _HUBSPOT_OBJECT[object_type], list(stored), self._properties_for(object_type)
        )
        records: dict[str, CrmRecord] = {}
        for stored_id, external_id in stored.items():
            if stored_id in found:
                result = found[stored_id]
                if object_type in (ObjectType.TASK, ObjectType.NOTE):
                    # batch/read carries no associations; the one-record read does.
                    result = self._read_one(object_type, str(result.id)) or result
                records[external_id] = self._record(object_type, result, created=False, changed=False)
        return records

    def count(self, object_type: ObjectType) -> int:
        object_type = ObjectType(object_type)
        if object_type is ObjectType.OWNER:
            return len(self.read_owners())
        object_name = _HUBSPOT_OBJECT[object_type]
        if object_name != "contacts":
            return sum(1 for _ in self._pages(object_name, [EXTERNAL_ID]))
        return sum(
            1
            for result in self._pages(object_name, [EXTERNAL_ID])
            if self._person_type(result.properties or {})[0] is object_type
        )

    # ---- writes -----------------------------------------------------------------------------------------

    def upsert_lead(self, external_id: str, fields: LeadFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        self._check_owner(changes.get("owner_id"))
        self._check_reference(changes.get("account_id"), ObjectType.ACCOUNT)
        self._check_reference(changes.get("contact_id"), ObjectType.CONTACT)
        return self._upsert_person(ObjectType.LEAD, external_id, changes)

    def upsert_contact(self, external_id: str, fields: ContactFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        self._check_owner(changes.get("owner_id"))
        self._check_reference(changes.get("account_id"), ObjectType.ACCOUNT)
        return self._upsert_person(ObjectType.CONTACT, external_id, changes)

    def _hubspot_properties(self, object_type: ObjectType, changes: dict[str, Any]) -> dict[str, str]:
        mapping = self._property_map(object_type)
        # HubSpot clears a property written as "".
        return {mapping[field]: "" if value is None else str(value) for field, value in changes.items()}

    def _upsert_person(self, object_type: ObjectType, external_id: str, changes: dict[str, Any]) -> CrmRecord:
        if not external_id.strip():
            raise CrmPermanentError(f"a {object_type} upsert needs a non-empty external id")
        current = self.get_record(object_type, external_id=external_id)
        if current is not None:
            return self._apply(current, merge_fields(current.fields, changes))
        properties = {
            **self._hubspot_properties(object_type, {k: v for k, v in changes.items() if v is not None}),
            EXTERNAL_ID: self._stored_external_id(object_type, external_id),
            VERSION: "1",
        }
        email = changes.get("email")
        if email:
            # Email is HubSpot's natural key for contacts: a batch upsert by email is one idempotent call,
            # and adopts a contact a rep already made for this address instead of failing on it.
            response = self._call(
                "upsert contact by email",
                self._client.crm.objects.batch_api.upsert,
                "contacts",
                {"inputs": [{"idProperty": "email", "id": email, "properties": properties}]},
            )
            (result,) = response.results
            created = bool(getattr(result, "new", True))
            record = self.get_record(object_type, record_id=str(result.id))
            if record is None:
                raise CrmPermanentError(f"HubSpot contact {result.id} for {email} did not read back")
            return record.model_copy(update={"created": created, "changed": True})
        try:
            result = self._call(
                "create contact",
                self._client.crm.objects.basic_api.create,
                "contacts",
                {"properties": properties, "associations": []},
            )
        except _Conflict:
            # A create whose answer was lost: the unique external id already holds it.
            current = self.get_record(object_type, external_id=external_id)
            if current is None:
                raise CrmTransientError(
                    f"HubSpot reported {external_id} exists but it does not read back"
                ) from None
            return self._apply(current, merge_fields(current.fields, changes))
        return self._record(object_type, result, created=True, changed=True)

    def _apply(self, current: CrmRecord, fields: dict[str, Any]) -> CrmRecord:
        if fields == current.fields:
            return current
        object_type = current.object_type
        changes = {
            key: fields.get(key)
            for key in {*fields, *current.fields}
            if fields.get(key) != current.fields.get(key)
        }
        properties = {**self._hubspot_properties(object_type, changes), VERSION: str(current.version + 1)}
        result = self._call(
            f"update {object_type} {current.record_id}",
            self._client.crm.objects.basic_api.update,
            _HUBSPOT_OBJECT[object_type],
            current.record_id,
            {"properties": properties},
        )
        return self._record(object_type, result, created=False, changed=True)

    def assign_owner(self, object_type: ObjectType, record_id: str, owner_id: str) -> CrmRecord:
        object_type = ObjectType(object_type)
        if object_type not in OWNABLE_TYPES:
            raise CrmPermanentError(f"records of type {object_type} have no owner")
        current = self.get_record(object_type, record_id=record_id)
        if current is None:
            raise CrmPermanentError(f"no {object_type} with id {record_id}")
        self._check_owner(owner_id)
        if object_type in (ObjectType.LEAD, ObjectType.CONTACT):
            return self._apply(current, merge_fields(current.fields, {"owner_id": owner_id}))
        if current.fields.get("owner_id") == owner_id:
            return current
        # Companies and deals are the CRM's own records: LeadOps moves their owner, keeps no version on them.
        self._call(
            f"assign owner of {object_type} {record_id}",
            self._client.crm.objects.basic_api.update,
            _HUBSPOT_OBJECT[object_type],
            record_id,
            {"properties": {"hubspot_owner_id": owner_id}},
        )
        moved = self.get_record(object_type, record_id=record_id)
        if moved is None:
            raise HubSpotTransientError(f"HubSpot {object_type} {record_id} did not read back")
        return moved.model_copy(update={"changed": True})

    def create_task(
        self, external_id: str, record_id: str, subject: str, due_at: datetime, owner_id: str | None
    ) -> CrmRecord:
        if not subject.strip():
            raise CrmPermanentError("a task needs a subject")
        existing = self.get_record(ObjectType.TASK, external_id=external_id)
        if existing is not None:
            return existing
        _, parent_object = self._parent(record_id)
        self._check_owner(owner_id)
        properties = {
            "hs_task_subject": subject.strip(),
            "hs_timestamp": _as_utc(due_at).isoformat(),
            "hs_task_status": "NOT_STARTED",
            EXTERNAL_ID: external_id,
        }
        if owner_id is not None:
            # No owner: the task lands unassigned, HubSpot's own default.
            properties["hubspot_owner_id"] = owner_id
        return self._create_engagement(ObjectType.TASK, external_id, properties, record_id, parent_object)

    def add_note(self, external_id: str, record_id: str, body: str) -> CrmRecord:
        """A note on the record; the caller puts the decision's reason, rule and evidence in `body`."""
        if not body.strip():
            raise CrmPermanentError("a note needs a body")
        existing = self.get_record(ObjectType.NOTE, external_id=external_id)
        if existing is not None:
            return existing
        _, parent_object = self._parent(record_id)
        properties = {
            "hs_note_body": body,
            "hs_timestamp": datetime.now(UTC).isoformat(),
            EXTERNAL_ID: external_id,
        }
        return self._create_engagement(ObjectType.NOTE, external_id, properties, record_id, parent_object)

    def _create_engagement(
        self,
        object_type: ObjectType,
        external_id: str,
        properties: dict[str, str],
        parent_id: str,
        parent_object: str,
    ) -> CrmRecord:
        association = {
            "to": {"id": parent_id},
            "types": [
                {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ASSOCIATION_TYPE_IDS[(object_type, parent_object)],
                }
            ],
        }
        object_name = _HUBSPOT_OBJECT[object_type]
        try:
            result = self._call(
                f"create {object_name}",
                self._client.crm.objects.basic_api.create,
                object_name,
                {"properties": properties, "associations": [association]},
            )
        except _Conflict as conflict:
            # Another worker's create (or our own whose answer was lost) holds the external id: return that
            # record, untouched. HubSpot names it in the 409; the external id finds it otherwise.
            existing = (
                self.get_record(object_type, record_id=conflict.existing_id)
                if conflict.existing_id
                else self.get_record(object_type, external_id=external_id)
            )
            if existing is None:
                raise CrmTransientError(
                    f"HubSpot reported {object_type} {external_id} exists but it does not read back"
                ) from None
            return existing
        created = self.get_record(object_type, record_id=str(result.id))
        if created is None:
            raise CrmTransientError(f"HubSpot {object_type} {result.id} did not read back")
        return created.model_copy(update={"created": True, "changed": True})

    def import_records(self, records: Sequence[AdminRecord]) -> list[CrmRecord | CrmPermanentError]:
        # HubSpot is the system of record for owners, companies and deals: LeadOps reads them, never loads
        # them. The CSV import is for the embedded CRM.
        return [
            CrmPermanentError(f"HubSpot records are managed in HubSpot; not importing {type(r).__name__}")
            for r in records
        ]
