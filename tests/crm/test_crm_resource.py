"""The Dagster resources hand assets a working CRM client: the embedded one, or the test's fake."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.crm.resource import CrmResource, FakeCrmResource
from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import LeadFields, ObjectType


@dg.asset
def crm_writing_asset(crm: CrmResource) -> None:
    crm.client().upsert_lead("lead-1", LeadFields(email="a@b.com", status="routed"))


def test_crm_resource_gives_assets_the_embedded_crm_at_its_path(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    EmbeddedCrm(path)  # initialised, as `leadops crm import` does; a run never creates a CRM

    result = dg.materialize([crm_writing_asset], resources={"crm": CrmResource(database_path=str(path))})

    assert result.success
    assert EmbeddedCrm(path).count(ObjectType.LEAD) == 1


def test_fake_crm_resource_lets_the_test_see_what_the_asset_wrote() -> None:
    fake = FakeCrm()

    result = dg.materialize([crm_writing_asset], resources={"crm": FakeCrmResource.holding(fake)})

    assert result.success
    assert [call.method for call in fake.calls] == ["upsert_lead"]
    assert fake.count(ObjectType.LEAD) == 1


def test_definitions_with_the_crm_resource_are_loadable(tmp_path: Path) -> None:
    defs = dg.Definitions(
        assets=[crm_writing_asset], resources={"crm": CrmResource(database_path=str(tmp_path / "c.sqlite"))}
    )

    dg.Definitions.validate_loadable(defs)


def test_contacts_carry_the_email_key_ingest_gives_leads() -> None:
    from assets.crm.assets import contacts_frame
    from integrations.crm.models import Contact

    contacts = [
        Contact(
            contact_id="con_1", email="Mary.Major+News@GoogleMail.com", first_name="Mary", last_name="Major"
        ),
        Contact(contact_id="con_2", email="jo.doe+crm@acme.com", first_name="Jo", last_name="Doe"),
    ]
    keys = dict(zip(*[contacts_frame(contacts)[c] for c in ("contact_id", "email_key")], strict=True))
    assert keys == {"con_1": "marymajor@gmail.com", "con_2": "jo.doe@acme.com"}
