"""Identity stage: splink person and account models, their training, and scoring new events in the run."""
