"""Feedback stage: what happened to a lead after routing (owner changes, statuses, meetings, first touch,
opportunities, reps' marks) lands as outcome events; the outcome marts and the report learn from them."""
