"""BottleCRM's lists take no updated-since filter: `read_updated` reads them whole and filters contacts by
the `updated_at` they show; the other types come back whole, without an updated-at (answers as django-crm
1.35.0 gives them, served by httpx's mock transport)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from integrations.crm.bottlecrm import BottleCrm
from integrations.crm.models import ObjectType

LISTS = {
    "/api/contacts/": {
        "contact_obj_list": [
            {
                "id": "c-old",
                "first_name": "Old",
                "email": "old@acme.com",
                "updated_at": "2026-12-01T09:00:00Z",
            },
            {
                "id": "c-new",
                "first_name": "New",
                "email": "new@acme.com",
                "updated_at": "2026-12-07T09:00:00Z",
            },
        ],
        "contacts_count": 2,
    },
    "/api/opportunities/": {
        "opportunities": [
            {"id": "o-open", "account": {"id": "a-1"}, "stage": "PROPOSAL"},
            {"id": "o-won", "account": {"id": "a-1"}, "stage": "CLOSED WON"},
        ],
        "opportunities_count": 2,
    },
}


def bottlecrm() -> BottleCrm:
    def answer(request: httpx.Request) -> httpx.Response:
        body = LISTS[request.url.path] if request.url.params.get("offset") == "0" else {}
        return httpx.Response(200, json=body)

    return BottleCrm("http://bottlecrm.test", "t", "i", "k", transport=httpx.MockTransport(answer))


def test_contacts_are_filtered_by_the_updated_at_bottlecrm_shows() -> None:
    since = datetime(2026, 12, 5, tzinfo=UTC)

    everyone = bottlecrm().read_updated(ObjectType.CONTACT)
    changed = bottlecrm().read_updated(ObjectType.CONTACT, since)

    assert [item.record.contact_id for item in everyone] == ["c-old", "c-new"]
    assert [(item.record.contact_id, item.updated_at) for item in changed] == [
        ("c-new", datetime(2026, 12, 7, 9, tzinfo=UTC))
    ]


def test_after_a_mark_closed_opportunities_come_back_so_the_snapshot_drops_them() -> None:
    first = bottlecrm().read_updated(ObjectType.OPPORTUNITY)
    later = bottlecrm().read_updated(ObjectType.OPPORTUNITY, datetime(2026, 12, 5, tzinfo=UTC))

    assert [(item.record.opportunity_id, item.updated_at) for item in first] == [("o-open", None)]
    assert [(item.record.opportunity_id, item.record.is_open) for item in later] == [
        ("o-open", True),
        ("o-won", False),
    ]
