"""Every table the Python steps own and dbt reads, created empty when missing.

The run's first dbt step calls this: dbt reads the tables the outbound and decision steps write after it
(state log, outbox, CRM writes and conflicts, SLA steps) through relation-lookup views that are empty when
the table did not exist at build time, so creating them first makes even a new warehouse's first run show
its transitions and CRM writes in `lead_timeline`. Tests and `dbt build` by hand against a fresh file use it
too.
"""

from assets.decisions.state_machine import ensure_log_table
from assets.enrichment.domain_firmographics import ENRICHMENT_DDL
from assets.feedback.ingest import FEEDBACK_DDL
from assets.identity.warehouse import IDENTITY_DDL
from assets.interpretation.store import DDL as INTERPRETATION_DDL
from assets.outbound.crm_sync import OUTBOX_DDL
from assets.outbound.outbox import OUTBOX_ACTIONS_DDL
from assets.outbound.sla import SLA_EVENTS_DDL
from assets.overrides.tables import ENSURE_OVERRIDES_TABLES_DDL


def ensure_python_source_tables(con) -> None:
    for ddl in (
        IDENTITY_DDL,
        ENRICHMENT_DDL,
        INTERPRETATION_DDL,
        ENSURE_OVERRIDES_TABLES_DDL,
        FEEDBACK_DDL,
        OUTBOX_DDL,
        OUTBOX_ACTIONS_DDL,
        SLA_EVENTS_DDL,
    ):
        con.execute(ddl)
    ensure_log_table(con)
