"""The CRM port, its adapters (embedded SQLite, in-memory fake), the CSV import and the Dagster resources."""

from dagster_project.resources.crm.csv_import import (
    CsvFormatError,
    FileReport,
    ImportReport,
    Rejection,
    import_crm_csvs,
)
from dagster_project.resources.crm.embedded import EmbeddedCrm
from dagster_project.resources.crm.fake import FakeCall, FakeCrm
from dagster_project.resources.crm.models import (
    Account,
    AdminRecord,
    Contact,
    ContactFields,
    CrmRecord,
    LeadFields,
    LeadStatus,
    ObjectType,
    Opportunity,
    Owner,
)
from dagster_project.resources.crm.port import CrmError, CrmPermanentError, CrmPort, CrmTransientError
from dagster_project.resources.crm.resource import CrmResource, FakeCrmResource

__all__ = [
    "Account",
    "AdminRecord",
    "Contact",
    "ContactFields",
    "CrmError",
    "CrmPermanentError",
    "CrmPort",
    "CrmRecord",
    "CrmResource",
    "CrmTransientError",
    "CsvFormatError",
    "EmbeddedCrm",
    "FakeCall",
    "FakeCrm",
    "FakeCrmResource",
    "FileReport",
    "ImportReport",
    "LeadFields",
    "LeadStatus",
    "ObjectType",
    "Opportunity",
    "Owner",
    "Rejection",
    "import_crm_csvs",
]
