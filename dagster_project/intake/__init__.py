"""HTTP intake (`leadops serve`): signed inbound events in, atomically landed JSON Lines files out.

The service is a producer like any other: it writes into the landing zone and the new_leads sensor picks
the files up. It never opens the warehouse (DuckDB allows one writer, and that is the run).
"""
