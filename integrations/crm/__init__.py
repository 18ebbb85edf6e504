"""The CRM port (`port.CrmPort`), its record models, the embedded SQLite adapter, the in-memory fake that
passes the same contract tests, and the CSV import into the embedded CRM."""
