"""Identity stage in the pipeline: who each new event's person is and which CRM account it belongs to."""
