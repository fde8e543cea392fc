"""Reading what tenure told a real Prefect server, the way another process would: over its HTTP API."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx


async def events(
    api: str, prefix: str, since: datetime, expect: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The events named ``prefix…`` since ``since``, oldest first, from ``POST /events/filter``; polls
    until ``expect`` have arrived (events reach the server asynchronously) or ``timeout`` passes."""
    body = {"filter": {"event": {"prefix": [prefix]}, "occurred": {"since": since.isoformat()}}, "limit": 50}
    deadline, found = time.monotonic() + timeout, []
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        while time.monotonic() < deadline:
            response = await client.post("/events/filter", json=body)
            response.raise_for_status()
            found = sorted(response.json()["events"], key=lambda e: e["occurred"])
            if len(found) >= expect:
                break
            await asyncio.sleep(0.5)
    return found
