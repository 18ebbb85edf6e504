"""The operator's overrides file: its CSV contract, validation, and appending rows to it."""
