"""Prefect flows: composition only; the domain logic lives in models/, control/, memory/ and agents/."""
