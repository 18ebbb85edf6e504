"""Pipeline stages, one package each: ingest, identity, enrichment, intent, decisions, outbound.

Asset modules do not use `from __future__ import annotations`: Dagster 1.13 resolves `Config` and context
annotations when the decorator runs, and string annotations make it reject them.
"""
