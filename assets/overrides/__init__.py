"""Human overrides: the operator's CSV file, its validation, and its ingestion into the warehouse."""
