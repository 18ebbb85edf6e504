"""The LLM port for lead interpretation: the validated output schema, the OpenAI-compatible client."""
