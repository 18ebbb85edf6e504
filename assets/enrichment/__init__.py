"""Enrichment stage: firmographics per company domain of inbound leads, with a visible retry path."""
