"""CRM stage: the Dagster resource over the CRM port and the snapshot of CRM state that routing reads."""
