"""Ingest stage: the inbound event contract, normalization, the landing zone and the raw-table ingest."""
