"""A stateful HubSpot CRM v3 contract server for tests: the endpoints `HubSpotCrm` uses, with HubSpot's
documented shapes and error bodies.

Endpoints: owners (list, by id, `archived`), objects
(`/crm/v3/objects/{contacts|companies|deals|tasks|notes}`: list with paging and associations, read by id
or unique `idProperty`, create with inline v4 associations, PATCH, archive (DELETE), batch/read,
batch/upsert, search by EQ filters and GTE on the last-modified date, sorted and paged).

Rules it keeps like HubSpot: Bearer token or 401; unknown property or owner -> 400 VALIDATION_ERROR whose
message lists the invalid properties; a unique property value already held -> 409 "... Existing ID: N";
a write of "" clears a property; unknown id -> 404. Faults come from `FaultPlan` (see contract_server_base).

    with HubSpotServer(token="t", faults=FaultPlan(rate=0.2)) as server:
        HubSpotCrm("t", host=server.url)
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contract_server_base import ApiError, ContractServer, FaultPlan

_LEADOPS_CONTACT = {
    "leadops_external_id",
    "leadops_version",
    "leadops_status",
    "leadops_team",
    "leadops_contact_id",
    "leadops_source",
    "leadops_description",
}
PROPERTIES: dict[str, set[str]] = {
    "contacts": {
        "email",
        "firstname",
        "lastname",
        "company",
        "jobtitle",
        "phone",
        "country",
        "lifecyclestage",
        "hubspot_owner_id",
        "associatedcompanyid",
        *_LEADOPS_CONTACT,
    },
    "companies": {
        "name",
        "domain",
        "hs_additional_domains",
        "country",
        "numberofemployees",
        "industry",
        "lifecyclestage",
        "hubspot_owner_id",
    },
    "deals": {"dealname", "dealstage", "pipeline", "hubspot_owner_id"},
    "tasks": {
        "hs_task_subject",
        "hs_task_body",
        "hs_timestamp",
        "hs_task_status",
        "hubspot_owner_id",
        "leadops_external_id",
    },
    "notes": {"hs_note_body", "hs_timestamp", "hubspot_owner_id", "leadops_external_id"},
}
UNIQUE: dict[str, set[str]] = {
    "contacts": {"email", "leadops_external_id"},
    "tasks": {"leadops_external_id"},
    "notes": {"leadops_external_id"},
}
_SINGULAR = {"contacts": "Contact", "companies": "Company", "deals": "Deal", "tasks": "Task", "notes": "Note"}
# HubSpot-defined association type ids: (from, to) of each.
ASSOCIATION_TYPES = {
    204: ("tasks", "contacts"),
    192: ("tasks", "companies"),
    216: ("tasks", "deals"),
    202: ("notes", "contacts"),
    190: ("notes", "companies"),
    214: ("notes", "deals"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, category: str, message: str, **extra: Any) -> ApiError:
    body = {
        "status": "error",
        "message": message,
        "correlationId": "00000000-0000-4000-8000-000000000000",
        "category": category,
        **extra,
    }
    return ApiError(status, body)


class HubSpotServer(ContractServer):
    def __init__(
        self,
        *,
        token: str = "test-token",
        faults: FaultPlan | None = None,
        missing_properties: set[str] = frozenset(),
    ) -> None:
        super().__init__(faults=faults)
        self.token = token
        self.properties = {name: props - set(missing_properties) for name, props in PROPERTIES.items()}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in PROPERTIES}
        self.owners: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self.fault_errors = {
            "rate_limit": ApiError(
                429,
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": "00000000-0000-4000-8000-000000000429",
                    "policyName": "SECONDLY",
                },
                {"Retry-After": str(self.faults.retry_after_seconds)},
            ),
            "server_error": _error(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
        }

    # ---- seeding (Python, not HTTP: owners are HubSpot users and cannot be created through the API) ----

    def seed_owner(self, owner_id: str, email: str, name: str, team: str, *, archived: bool = False) -> None:
        first, _, last = name.partition(" ")
        self.owners[owner_id] = {
            "id": owner_id,
            "email": email,
            "firstName": first,
            "lastName": last,
            "userId": 1,
            "type": "PERSON",
            "createdAt": _now(),
            "updatedAt": _now(),
            "archived": archived,
            "teams": [{"id": "1", "name": team, "primary": True}],
        }

    def seed_object(
        self, object_name: str, object_id: str, properties: dict[str, str], associations: dict | None = None
    ) -> None:
        now = _now()
        self.objects[object_name][object_id] = {
            "id": object_id,
            "properties": {k: v for k, v in properties.items() if v not in (None, "")},
            "createdAt": now,
            "updatedAt": now,
            "associations": {k: list(v) for k, v in (associations or {}).items()},
        }

    def count(self, object_name: str, **where: str) -> int:
        return sum(
            1
            for o in self.objects[object_name].values()
            if all(o["properties"].get(k) == v for k, v in where.items())
        )

    # ---- HTTP ------------------------------------------------------------------------------------------

    def serve(self, method: str, path: str, raw: bytes, headers: Any) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can"
                " find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        segments = [s for s in parts.path.split("/") if s]
        body = json.loads(raw) if raw else {}
        return self.with_faults(
            f"{method} {parts.path}", lambda: self._route(method, segments, query, body), self.fault_errors
        )

    def _route(self, method: str, segments: list[str], query: dict, body: dict) -> tuple[int, Any]:
        match (method, segments):
            case ("GET", ["crm", "v3", "owners"]):
                return 200, self._owner_page(query)
            case ("GET", ["crm", "v3", "owners", owner_id]):
                return 200, self._owner(owner_id, query)
            case ("GET", ["crm", "v3", "objects", name]):
                return 200, self._page(self._store(name), query)
            case ("POST", ["crm", "v3", "objects", name]):
                return 201, self._create(self._store(name), body)
            case ("GET", ["crm", "v3", "objects", name, object_id]):
                return 200, self._read(self._store(name), object_id, query)
            case ("DELETE", ["crm", "v3", "objects", name, object_id]):
                # Archiving answers 204 whether or not the object existed.
                self.objects[self._store(name)].pop(object_id, None)
                return 204, None
            case ("PATCH", ["crm", "v3", "objects", name, object_id]):
                return 200, self._update(self._store(name), object_id, body)
            case ("POST", ["crm", "v3", "objects", name, "batch", "read"]):
                return self._batch_read(self._store(name), body)
            case ("POST", ["crm", "v3", "objects", name, "batch", "upsert"]):
                return 200, self._batch_upsert(self._store(name), body)
            case ("POST", ["crm", "v3", "objects", name, "search"]):
                return 200, self._search(self._store(name), body)
        raise _error(404, "OBJECT_NOT_FOUND", f"No route for {method} /{'/'.join(segments)}")

    def _store(self, name: str) -> str:
        if name not in self.objects:
            raise _error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
        return name

    @staticmethod
    def _list(query: dict, key: str) -> list[str]:
        return [item for value in query.get(key, []) for item in value.split(",") if item]

    def _owner_page(self, query: dict) -> dict[str, Any]:
        archived = query.get("archived", ["false"])[0].lower() == "true"
        owners = [o for o in self.owners.values() if o["archived"] == archived]
        return self._paged(owners, query)

    def _owner(self, owner_id: str, query: dict) -> dict[str, Any]:
        archived = query.get("archived", ["false"])[0].lower() == "true"
        owner = self.owners.get(owner_id)
        if owner is None or owner["archived"] != archived:
            raise _error(404, "OBJECT_NOT_FOUND", "Resource not found")
        return owner

    @staticmethod
    def _paged(items: list[dict[str, Any]], query: dict) -> dict[str, Any]:
        limit = min(int(query.get("limit", ["10"])[0]), 100)
        start = int(query.get("after", ["0"])[0])
        page: dict[str, Any] = {"results": items[start : start + limit]}
        if start + limit < len(items):
            page["paging"] = {"next": {"after": str(start + limit), "link": "?after=" + str(start + limit)}}
        return page

    def _view(self, name: str, obj: dict[str, Any], properties: list[str] | None, associations: list[str]):
        props = obj["properties"]
        shown = dict(props) if properties is None else {k: props[k] for k in properties if k in props}
        shown["hs_object_id"] = obj["id"]
        view = {
            "id": obj["id"],
            "properties": shown,
            "createdAt": obj["createdAt"],
            "updatedAt": obj["updatedAt"],
            "archived": False,
        }
        linked = {
            to: {"results": [{"id": i, "type": f"{_SINGULAR[name].lower()}_to_{to[:-1]}"} for i in ids]}
            for to, ids in obj["associations"].items()
            if to in associations and ids
        }
        if linked:
            view["associations"] = linked
        return view

    def _page(self, name: str, query: dict) -> dict[str, Any]:
        properties = self._list(query, "properties")
        associations = self._list(query, "associations")
        views = [self._view(name, o, properties, associations) for o in self.objects[name].values()]
        return self._paged(views, query)

    def _find(self, name: str, object_id: str, id_property: str | None) -> dict[str, Any] | None:
        if id_property in (None, "hs_object_id"):
            return self.objects[name].get(object_id)
        if id_property not in UNIQUE.get(name, set()):
            raise _error(400, "VALIDATION_ERROR", f"{id_property} is not a unique identifier property")
        return next(
            (o for o in self.objects[name].values() if o["properties"].get(id_property) == object_id), None
        )

    def _read(self, name: str, object_id: str, query: dict) -> dict[str, Any]:
        found = self._find(name, object_id, (query.get("idProperty") or [None])[0])
        if found is None:
            raise _error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
        return self._view(name, found, self._list(query, "properties"), self._list(query, "associations"))

    def _validate(self, name: str, properties: dict[str, Any], *, current_id: str | None) -> None:
        invalid = []
        for prop, value in properties.items():
            if prop not in self.properties[name]:
                invalid.append(
                    {
                        "isValid": False,
                        "message": f'Property "{prop}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": prop,
                        "localizedErrorMessage": f'Property "{prop}" does not exist',
                    }
                )
            elif prop == "hubspot_owner_id" and value and value not in self.owners:
                invalid.append(
                    {
                        "isValid": False,
                        "message": f"{value} is not a valid owner id",
                        "error": "INVALID_OWNER_ID",
                        "name": prop,
                    }
                )
        if invalid:
            raise _error(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {json.dumps(invalid)}",
                errors=[{"message": i["message"], "code": i["error"]} for i in invalid],
            )
        for prop in UNIQUE.get(name, set()):
            value = properties.get(prop)
            holder = self._find(name, value, prop) if value else None
            if holder is not None and holder["id"] != current_id:
                if name == "contacts" and prop == "email":
                    message = f"Contact already exists. Existing ID: {holder['id']}"
                else:
                    message = (
                        f"A {_SINGULAR[name]} with the value '{value}' for the unique property '{prop}'"
                        f" already exists. Existing ID: {holder['id']}"
                    )
                raise _error(409, "CONFLICT", message)

    def _write(self, obj: dict[str, Any], properties: dict[str, Any]) -> None:
        for prop, value in properties.items():
            if value in (None, ""):
                obj["properties"].pop(prop, None)
            else:
                obj["properties"][prop] = str(value)
        obj["updatedAt"] = _now()

    def _create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        properties = body.get("properties") or {}
        self._validate(name, properties, current_id=None)
        associations: dict[str, list[str]] = {}
        for association in body.get("associations") or []:
            target = str(association["to"]["id"])
            for kind in association["types"]:
                pair = ASSOCIATION_TYPES.get(kind["associationTypeId"])
                if pair is None or pair[0] != name:
                    raise _error(400, "VALIDATION_ERROR", f"invalid association type {kind}")
                if target not in self.objects[pair[1]]:
                    raise _error(
                        400,
                        "VALIDATION_ERROR",
                        f"One or more associations are invalid: no {pair[1]} with id {target}",
                    )
                associations.setdefault(pair[1], []).append(target)
        object_id = str(next(self._ids))
        now = _now()
        obj = {"id": object_id, "properties": {}, "createdAt": now, "updatedAt": now}
        obj["associations"] = associations
        self._write(obj, properties)
        obj["updatedAt"] = now
        self.objects[name][object_id] = obj
        return self._view(name, obj, None, [])

    def _update(self, name: str, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = self.objects[name].get(object_id)
        if obj is None:
            raise _error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
        properties = body.get("properties") or {}
        self._validate(name, properties, current_id=object_id)
        self._write(obj, properties)
        return self._view(name, obj, None, [])

    def _batch_read(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        started = _now()
        id_property = body.get("idProperty")
        results, missing = [], []
        for item in body.get("inputs") or []:
            found = self._find(name, str(item["id"]), id_property)
            if found is None:
                missing.append(str(item["id"]))
            else:
                results.append(self._view(name, found, body.get("properties") or [], []))
        response: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now(),
        }
        if not missing:
            return 200, response
        response["numErrors"] = 1
        response["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {_SINGULAR[name].upper()} objects, they may be deleted or not"
                " exist. Check that ids are valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
        return 207, response

    def _batch_upsert(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        started = _now()
        inputs = body.get("inputs") or []
        for item in inputs:
            if item.get("idProperty") not in UNIQUE.get(name, set()):
                raise _error(400, "VALIDATION_ERROR", f"{item.get('idProperty')} is not a unique property")
        results = []
        for item in inputs:
            properties = {**(item.get("properties") or {}), item["idProperty"]: item["id"]}
            found = self._find(name, str(item["id"]), item["idProperty"])
            self._validate(name, properties, current_id=found["id"] if found else None)
            if found is None:
                view = self._create(name, {"properties": properties})
                results.append({**view, "new": True})
            else:
                self._write(found, properties)
                results.append({**self._view(name, found, None, []), "new": False})
        return {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}

    def _search(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        matches = [
            obj
            for obj in self.objects[name].values()
            if any(
                all(self._matches(obj, f) for f in group["filters"])
                for group in body.get("filterGroups") or [{"filters": []}]
            )
        ]
        for sort in reversed(body.get("sorts") or []):
            matches.sort(
                key=lambda obj, prop=sort["propertyName"]: str(self._search_value(obj, prop) or ""),
                reverse=sort.get("direction") == "DESCENDING",
            )
        views = [self._view(name, obj, body.get("properties") or [], []) for obj in matches]
        paging = {"limit": [str(body.get("limit") or 10)], "after": [body.get("after") or "0"]}
        page = self._paged(views, paging)
        return {"total": len(matches), **page}

    # The last-modified property HubSpot indexes for search, per object (contacts name it differently).
    _MODIFIED = ("lastmodifieddate", "hs_lastmodifieddate")

    def _search_value(self, obj: dict[str, Any], prop: str) -> str | None:
        if prop in self._MODIFIED:
            return obj["updatedAt"]
        return obj["properties"].get(prop)

    def _matches(self, obj: dict[str, Any], search_filter: dict[str, Any]) -> bool:
        operator = search_filter.get("operator", "EQ")
        value = self._search_value(obj, search_filter["propertyName"])
        if operator == "EQ":
            return value == search_filter["value"]
        if operator == "GTE" and search_filter["propertyName"] in self._MODIFIED:
            # Datetime filters take epoch milliseconds, as HubSpot documents.
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return moment.timestamp() * 1000 >= int(search_filter["value"])
        raise _error(400, "VALIDATION_ERROR", f"unsupported filter {search_filter}")
