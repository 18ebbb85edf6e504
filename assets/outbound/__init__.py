"""Outbound stage: decisions to the CRM through its port, with an outbox, then the reader copy."""
