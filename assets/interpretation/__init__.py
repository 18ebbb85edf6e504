"""Interpretation stage: what a lead message asks for, from intent rules, the local classifier or an LLM."""
