"""`BottleCrm`: the port over BottleCRM's REST API (django-crm 1.35.0), the self-hosted CRM.

How each rule of the port is kept on a CRM we do not control:

- Lead upserts go through BottleCRM's lead intake (a webhook with its own key): it matches on
  external_source + external_id, then email, then phone, under a row lock, so a retry or 16 simultaneous
  posts of one external id give one lead. The intake only fills blanks, so fields it left as they were are
  then PATCHed. BottleCRM keeps one lead per email per org: an upsert whose email another lead holds lands
  on that lead (the intake answers "merged").
- Its lead list cannot filter by external id and does not return it, so our external id is also written as
  `source_ref` ("leadops:<id>"), which the lead list does return; look-ups by external id scan that list.
- Notes (lead comments) and tasks have no external id: each carries a marker `[leadops:<id>]` in its text,
  looked up before it is created. Sequential retries are exactly-once; two writers racing on one note can
  both create it, which the pipeline's one-writer-per-run rule excludes.
- Owners are BottleCRM profiles (`GET /api/users/`); `owner_id` is the profile id, written as
  `assigned_to: [profile_id]`. BottleCRM has no teams, regions or capacities per rep in the shape routing
  needs, so those come from the constructor.
- BottleCRM keeps no revision counter: `version` is 1 and `changed` says whether this call wrote.

Errors: 400 is permanent with BottleCRM's own message; 401/403 permanent; 404 "no such record";
429, 5xx, timeouts and refused connections are transient (the caller retries).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from integrations.crm.models import (
    Account,
    AdminRecord,
    Contact,
    ContactFields,
    CrmRecord,
    LeadFields,
    ObjectType,
    Opportunity,
    Owner,
)
from integrations.crm.port import (
    UPDATABLE_TYPES,
    CrmPermanentError,
    CrmTransientError,
    UpdatedRecord,
    updated_since,
)

MARKER_PREFIX = "leadops:"
# Our LeadFields → BottleCRM lead columns. status, team, account_id, contact_id and source have no column
# with the same meaning (BottleCRM's lead statuses are its own sales states): they stay in LeadOps' marts.
LEAD_COLUMNS = {
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company_name",
    "job_title": "job_title",
    "phone": "phone",
    "country_code": "country",
    "description": "description",
}
PAGE_SIZE = 100
CLOSED_STAGES = frozenset({"closed_won", "closed_lost", "CLOSED WON", "CLOSED LOST"})


def marker(external_id: str) -> str:
    return f"[{MARKER_PREFIX}{external_id}]"


def _optional_timestamp(value: Any) -> datetime | None:
    return _timestamp(value).astimezone(UTC) if isinstance(value, str) and value else None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("errors", "detail", "message", "error"):
            if body.get(key) not in (None, "", False, True):
                return str(body[key])
    return str(body)[:500]


class BottleCrm:
    """`CrmPort` over one BottleCRM org, as the profile whose personal access token is given."""

    def __init__(
        self,
        base_url: str,
        token: str,
        intake_id: str,
        intake_key: str,
        *,
        owner_team: str = "bottlecrm",
        owner_region: str = "global",
        owner_capacity: int = 10,
        timeout_seconds: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._intake_id = intake_id
        self._intake_key = intake_key
        self._owner_defaults = {"team": owner_team, "region": owner_region, "capacity": owner_capacity}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_seconds,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    # ---- HTTP ---------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as error:
            raise CrmTransientError(f"BottleCRM {method} {path}: {error!r}") from error
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 429 or status >= 500:
            raise CrmTransientError(f"BottleCRM {method} {path}: HTTP {status} {_message(response)}")
        if status in (401, 403):
            raise CrmPermanentError(f"BottleCRM refused the token: HTTP {status} {_message(response)}")
        if status == 404:
            raise CrmPermanentError(f"BottleCRM {method} {path}: not found")
        if status >= 400:
            raise CrmPermanentError(f"BottleCRM {method} {path}: {_message(response)}")
        body = response.json() if response.content else {}
        if isinstance(body, dict) and body.get("error") is True:
            raise CrmPermanentError(f"BottleCRM {method} {path}: {_message(response)}")
        return body

    def _pages(self, path: str, key: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            body = self._request("GET", path, params={**(params or {}), "limit": PAGE_SIZE, "offset": offset})
            rows, total = _rows(body, key)
            yield from rows
            offset += len(rows)
            if not rows or total is None or offset >= total:
                return

    # ---- owners ------------------------------------------------------------------------------------------

    def _profiles(self) -> dict[str, dict[str, Any]]:
        return {str(row["id"]): row for row in self._pages("/api/users/", "active_users")} | {
            str(row["id"]): row for row in self._pages("/api/users/", "inactive_users")
        }

    def _check_owner(self, owner_id: str | None) -> None:
        if owner_id is None:
            return
        profile = self._profiles().get(owner_id)
        if profile is None:
            raise CrmPermanentError(f"unknown owner {owner_id}")
        if not profile.get("is_active", False):
            raise CrmPermanentError(f"owner {owner_id} is inactive")

    def read_owners(self) -> list[Owner]:
        owners = []
        for profile_id, profile in sorted(self._profiles().items()):
            user = profile.get("user_details") or profile.get("user") or {}
            email = user.get("email") or profile.get("email")
            owners.append(
                Owner(
                    owner_id=profile_id,
                    name=user.get("name") or email,
                    email=email,
                    active=bool(profile.get("is_active", False)),
                    **self._owner_defaults,
                )
            )
        return owners

    # ---- other reads ------------------------------------------------------------------------------------

    def read_accounts(self) -> list[Account]:
        accounts = []
        for row in self._pages("/api/accounts/", "active_accounts"):
            website = (row.get("website") or "").strip().lower()
            domain = re.sub(r"^https?://(www\.)?", "", website).split("/")[0] or None
            accounts.append(
                Account(
                    account_id=str(row["id"]),
                    name=row["name"],
                    domain=domain if domain and "." in domain else None,
                    country=row.get("country") or None,
                    industry=row.get("industry") or None,
                    status="prospect",
                    owner_id=_first_id(row.get("assigned_to")),
                )
            )
        return accounts

    @staticmethod
    def _contact(row: dict[str, Any]) -> Contact:
        return Contact(
            contact_id=str(row["id"]),
            account_id=_first_id([row.get("account")] if row.get("account") else []),
            first_name=row.get("first_name"),
            last_name=row.get("last_name"),
            email=row.get("email") or row.get("primary_email") or None,
            title=row.get("title"),
            phone=row.get("phone") or row.get("mobile_number"),
            owner_id=_first_id(row.get("assigned_to")),
        )

    def read_contacts(self) -> list[Contact]:
        return [self._contact(row) for row in self._pages("/api/contacts/", "contact_obj_list")]

    def _opportunities(self) -> Iterator[Opportunity]:
        for row in self._pages("/api/opportunities/", "opportunities"):
            account = _first_id([row.get("account")] if row.get("account") else [])
            if account is None:
                continue
            stage = str(row.get("stage") or "")
            yield Opportunity(
                opportunity_id=str(row["id"]),
                account_id=account,
                # Its closed stages named as the snapshot names closed stages ("CLOSED WON" -> closed_won).
                stage=stage.lower().replace(" ", "_") if stage in CLOSED_STAGES else stage.lower(),
                owner_id=_first_id(row.get("assigned_to")),
            )

    def read_open_opportunities(self) -> list[Opportunity]:
        return [opportunity for opportunity in self._opportunities() if opportunity.is_open]

    def read_updated(self, object_type: ObjectType, since: datetime | None = None) -> list[UpdatedRecord]:
        """BottleCRM's lists take no updated-since filter (django-crm 1.35.0), and of the four only contacts
        show their `updated_at`: every call reads the lists whole and keeps the contacts updated since;
        owners, accounts and opportunities come back whole each time, without an updated-at."""
        object_type = ObjectType(object_type)
        if object_type is ObjectType.CONTACT:
            rows = self._pages("/api/contacts/", "contact_obj_list")
            stamped = [(self._contact(row), _optional_timestamp(row.get("updated_at"))) for row in rows]
            return [UpdatedRecord(contact, at) for contact, at in stamped if updated_since(at, since)]
        if object_type is ObjectType.OWNER:
            records: list[AdminRecord] = list(self.read_owners())
        elif object_type is ObjectType.ACCOUNT:
            records = list(self.read_accounts())
        elif object_type is ObjectType.OPPORTUNITY:
            # After `since`, closed ones too, so the caller drops the opportunities that closed.
            records = [opp for opp in self._opportunities() if since is not None or opp.is_open]
        else:
            raise ValueError(f"read_updated serves {', '.join(UPDATABLE_TYPES)}, not {object_type}")
        return [UpdatedRecord(record, None) for record in records]

    # ---- leads -------------------------------------------------------------------------------------------

    def _lead(self, record_id: str) -> dict[str, Any] | None:
        body = self._request("GET", f"/api/leads/{record_id}/", missing_ok=True)
        if body is None:
            return None
        return body.get("lead_obj", body)

    def _leads(self) -> Iterator[dict[str, Any]]:
        yield from self._pages("/api/leads/", "open_leads")
        yield from self._pages("/api/leads/", "close_leads")

    def _lead_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        wanted = MARKER_PREFIX + external_id
        return next((row for row in self._leads() if row.get("source_ref") == wanted), None)

    def upsert_lead(self, external_id: str, fields: LeadFields) -> CrmRecord:
        if not external_id.strip():
            raise CrmPermanentError("a lead upsert needs a non-empty external id")
        changes = fields.model_dump(mode="json", exclude_unset=True)
        self._check_owner(changes.get("owner_id"))
        columns = {LEAD_COLUMNS[key]: value for key, value in changes.items() if key in LEAD_COLUMNS}
        post = {key: value for key, value in columns.items() if value is not None}
        if not post:
            existing = self._lead_by_external_id(external_id)
            if existing is None:
                raise CrmPermanentError(f"a new lead needs one of {', '.join(LEAD_COLUMNS)}")
            record_id, created = str(existing["id"]), False
        else:
            answer = self._intake_post({"external_id": external_id, **post})
            record_id, created = answer["lead"], answer["result"] == "created"

        current = self._lead(record_id)
        if current is None:
            raise CrmTransientError(f"lead {record_id} vanished right after the intake answered")
        patch = {key: value for key, value in columns.items() if (current.get(key) or None) != value}
        if not current.get("source_ref"):
            patch["source_ref"] = MARKER_PREFIX + external_id
        if "owner_id" in changes:
            wanted = [changes["owner_id"]] if changes["owner_id"] else []
            if sorted(_ids(current.get("assigned_to"))) != wanted:
                patch["assigned_to"] = wanted
        if patch:
            self._request("PATCH", f"/api/leads/{record_id}/", json=patch)
            current = self._lead(record_id) or current
        return self._lead_record(current, created=created, changed=created or bool(patch))

    def _intake_post(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._request(
            "POST",
            f"/api/public/leads/{self._intake_id}/",
            json=body,
            headers={"Authorization": f"Bearer {self._intake_key}"},
        )

    def _lead_record(self, lead: dict[str, Any], *, created: bool, changed: bool) -> CrmRecord:
        fields = {ours: lead.get(theirs) for ours, theirs in LEAD_COLUMNS.items()}
        owner = _first_id(lead.get("assigned_to"))
        fields["owner_id"] = owner
        source_ref = lead.get("source_ref") or ""
        return CrmRecord(
            object_type=ObjectType.LEAD,
            record_id=str(lead["id"]),
            external_id=source_ref.removeprefix(MARKER_PREFIX)
            if source_ref.startswith(MARKER_PREFIX)
            else None,
            fields={key: value for key, value in fields.items() if value not in (None, "")},
            version=1,
            created_at=_timestamp(lead.get("created_at")),
            updated_at=_timestamp(lead.get("updated_at")),
            created=created,
            changed=changed,
        )

    def assign_owner(self, object_type: ObjectType, record_id: str, owner_id: str) -> CrmRecord:
        object_type = ObjectType(object_type)
        if object_type is not ObjectType.LEAD:
            raise CrmPermanentError(f"assigning {object_type} records is not supported on BottleCRM")
        lead = self._lead(record_id)
        if lead is None:
            raise CrmPermanentError(f"no lead with id {record_id}")
        self._check_owner(owner_id)
        if _ids(lead.get("assigned_to")) == [owner_id]:
            return self._lead_record(lead, created=False, changed=False)
        self._request("PATCH", f"/api/leads/{record_id}/", json={"assigned_to": [owner_id]})
        return self._lead_record(self._lead(record_id) or lead, created=False, changed=True)

    def upsert_contact(self, external_id: str, fields: ContactFields) -> CrmRecord:
        raise CrmPermanentError("BottleCRM contacts are made by converting a lead; LeadOps writes leads only")

    # ---- tasks and notes ---------------------------------------------------------------------------------

    def _task_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        tag = marker(external_id)
        return next(
            (row for row in self._pages("/api/tasks/", "tasks", {"title": tag}) if tag in row["title"]), None
        )

    def _task_record(self, task: dict[str, Any], *, created: bool) -> CrmRecord:
        title = task.get("title") or ""
        found = re.search(r"\[leadops:([^\]]+)\]\s*$", title)
        lead = task.get("lead") or {}
        fields = {
            "subject": re.sub(r"\s*\[leadops:[^\]]+\]\s*$", "", title),
            "due_at": task.get("due_date"),
            "owner_id": _first_id(task.get("assigned_to")),
            "status": task.get("status"),
            "related_object_type": "lead" if lead else None,
            "related_record_id": str(lead["id"])
            if isinstance(lead, dict) and lead.get("id")
            else lead or None,
        }
        return CrmRecord(
            object_type=ObjectType.TASK,
            record_id=str(task["id"]),
            external_id=found.group(1) if found else None,
            fields={key: value for key, value in fields.items() if value not in (None, "")},
            version=1,
            created_at=_timestamp(task.get("created_at")),
            updated_at=_timestamp(task.get("updated_at") or task.get("created_at")),
            created=created,
            changed=created,
        )

    def create_task(
        self, external_id: str, record_id: str, subject: str, due_at: datetime, owner_id: str | None
    ) -> CrmRecord:
        if not subject.strip():
            raise CrmPermanentError("a task needs a subject")
        existing = self._task_by_external_id(external_id)
        if existing is not None:
            return self._task_record(existing, created=False)
        if self._lead(record_id) is None:
            raise CrmPermanentError(f"no lead with id {record_id}")
        self._check_owner(owner_id)
        due = due_at.replace(tzinfo=UTC) if due_at.tzinfo is None else due_at.astimezone(UTC)
        body = {
            "title": f"{subject.strip()} {marker(external_id)}",
            "status": "New",
            "priority": "Medium",
            # BottleCRM's task due date is a date (YYYY-MM-DD): the time of day is not kept.
            "due_date": due.date().isoformat(),
            "lead": record_id,
            "assigned_to": [owner_id] if owner_id else [],
        }
        # Its create answer carries no id: the task is read back by its marker, as a retry would find it.
        self._request("POST", "/api/tasks/", json=body)
        task = self._task_by_external_id(external_id)
        if task is None:
            raise CrmTransientError(f"task {external_id} was posted but is not read back yet")
        return self._task_record(task, created=True)

    def _comments(self, lead_id: str) -> list[dict[str, Any]]:
        body = self._request("GET", f"/api/leads/{lead_id}/", missing_ok=True)
        return [] if body is None else list(body.get("comments") or [])

    def _note_record(self, comment: dict[str, Any], lead_id: str, *, created: bool) -> CrmRecord:
        text = comment.get("comment") or ""
        found = re.search(r"\[leadops:([^\]]+)\]\s*$", text)
        return CrmRecord(
            object_type=ObjectType.NOTE,
            record_id=str(comment["id"]),
            external_id=found.group(1) if found else None,
            fields={
                "body": re.sub(r"\s*\[leadops:[^\]]+\]\s*$", "", text),
                "related_object_type": "lead",
                "related_record_id": lead_id,
            },
            version=1,
            created_at=_timestamp(comment.get("commented_on") or comment.get("created_at")),
            updated_at=_timestamp(comment.get("commented_on") or comment.get("created_at")),
            created=created,
            changed=created,
        )

    def add_note(self, external_id: str, record_id: str, body: str) -> CrmRecord:
        if not body.strip():
            raise CrmPermanentError("a note needs a body")
        if self._lead(record_id) is None:
            raise CrmPermanentError(f"no lead with id {record_id}")
        tag = marker(external_id)
        for comment in self._comments(record_id):
            if (comment.get("comment") or "").endswith(tag):
                return self._note_record(comment, record_id, created=False)
        self._request("POST", f"/api/leads/{record_id}/", json={"comment": f"{body}\n\n{tag}"})
        for comment in self._comments(record_id):
            if (comment.get("comment") or "").endswith(tag):
                return self._note_record(comment, record_id, created=True)
        raise CrmTransientError(f"note {external_id} was posted but is not read back yet")

    def _notes(self) -> Iterator[CrmRecord]:
        for lead in list(self._leads()):
            for comment in self._comments(str(lead["id"])):
                yield self._note_record(comment, str(lead["id"]), created=False)

    # ---- look-ups -----------------------------------------------------------------------------------------

    def get_record(
        self, object_type: ObjectType, *, record_id: str | None = None, external_id: str | None = None
    ) -> CrmRecord | None:
        if (record_id is None) == (external_id is None):
            raise ValueError("get_record takes exactly one of record_id and external_id")
        object_type = ObjectType(object_type)
        if external_id is not None:
            return self.read_by_external_ids(object_type, [external_id]).get(external_id)
        if object_type is ObjectType.LEAD:
            lead = self._lead(str(record_id))
            return None if lead is None else self._lead_record(lead, created=False, changed=False)
        if object_type is ObjectType.TASK:
            task = self._request("GET", f"/api/tasks/{record_id}/", missing_ok=True)
            return None if task is None else self._task_record(task.get("task_obj", task), created=False)
        if object_type is ObjectType.NOTE:
            return next((note for note in self._notes() if note.record_id == record_id), None)
        raise CrmPermanentError(f"reading {object_type} records by id is not supported on BottleCRM")

    def read_by_external_ids(
        self, object_type: ObjectType, external_ids: Sequence[str]
    ) -> dict[str, CrmRecord]:
        object_type = ObjectType(object_type)
        wanted = set(external_ids)
        if not wanted:
            return {}
        if object_type is ObjectType.LEAD:
            records = (self._lead_record(row, created=False, changed=False) for row in self._leads())
        elif object_type is ObjectType.TASK:
            records = (self._task_record(row, created=False) for row in self._pages("/api/tasks/", "tasks"))
        elif object_type is ObjectType.NOTE:
            records = self._notes()
        else:
            return {}
        found = {record.external_id: record for record in records if record.external_id in wanted}
        return {
            external_id: found[external_id]
            for external_id in dict.fromkeys(external_ids)
            if external_id in found
        }

    def count(self, object_type: ObjectType) -> int:
        object_type = ObjectType(object_type)
        if object_type is ObjectType.LEAD:
            return sum(1 for _ in self._leads())
        if object_type is ObjectType.TASK:
            return sum(1 for _ in self._pages("/api/tasks/", "tasks"))
        if object_type is ObjectType.NOTE:
            return sum(1 for _ in self._notes())
        if object_type is ObjectType.OWNER:
            return len(self._profiles())
        if object_type is ObjectType.ACCOUNT:
            return len(self.read_accounts())
        if object_type is ObjectType.CONTACT:
            return len(self.read_contacts())
        return len(self.read_open_opportunities())

    def import_records(self, records: Sequence[AdminRecord]) -> list[CrmRecord | CrmPermanentError]:
        # Owners, accounts and opportunities are BottleCRM's own data, kept in BottleCRM: LeadOps reads them.
        return [
            CrmPermanentError("BottleCRM's own records are kept in BottleCRM, not imported") for _ in records
        ]


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    return [str(item["id"]) if isinstance(item, dict) else str(item) for item in items]


def _first_id(value: Any) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _rows(body: Any, key: str) -> tuple[list[dict[str, Any]], int | None]:
    """The rows of one page and the total, across BottleCRM's two list shapes (DRF's `results`, or its own
    per-view keys with a count beside them)."""
    if isinstance(body, list):
        return body, len(body)
    if not isinstance(body, dict):
        return [], None
    if isinstance(body.get(key), dict):
        # Its own shape nests one level: {"active_users": {"active_users_count": 2, "active_users": [...]}}.
        return _rows(body[key], key)
    for name in (key, "results"):
        if isinstance(body.get(name), list):
            total = body.get(f"{name}_count", body.get("count"))
            return body[name], total if isinstance(total, int) else None
    return [], None
