"""Lead decisions after dbt: the lead state machine and its append-only log."""
