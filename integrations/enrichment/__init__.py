"""Firmographic enrichment: the provider port, its adapters (reference file, HTTP vendor), the waterfall over
them with retries and deadlines, a TTL cache, and a fake provider for tests."""
