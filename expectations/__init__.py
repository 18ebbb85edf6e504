"""Great Expectations 1.x suites kept as reviewed JSON, and the runner that turns one into a Dagster check."""
