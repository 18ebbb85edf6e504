"""The landing zone: a folder where producers drop JSON Lines files with an atomic rename."""
