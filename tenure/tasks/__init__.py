"""Prefect tasks: thin wrappers that give the domain functions retries, caching and names in the UI."""
