"""Outside systems, one package each: the port, its adapters and its fake, in plain Python (no Dagster).

Nothing here imports a pipeline stage or the wiring; an import-linter contract keeps it so.
"""
