"""Every table the Python steps own and dbt reads as a source, created empty when missing.

Each step creates its own tables before it writes; this is for code that builds dbt against a warehouse
those steps have not filled yet (tests, `dbt build` by hand against a fresh file).
"""

from assets.enrichment.domain_firmographics import ENRICHMENT_DDL
from assets.identity.warehouse import IDENTITY_DDL
from assets.interpretation.store import DDL as INTERPRETATION_DDL
from assets.overrides.tables import ENSURE_OVERRIDES_TABLES_DDL


def ensure_python_source_tables(con) -> None:
    for ddl in (IDENTITY_DDL, ENRICHMENT_DDL, INTERPRETATION_DDL, ENSURE_OVERRIDES_TABLES_DDL):
        con.execute(ddl)
