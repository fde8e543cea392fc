"""Promotion news for the owner chat: each ``tenure.promotion.*`` Prefect event (``tenure.tasks.announce``)
becomes one short message with its evidence line.

Events that occurred while the bot was down are read back from the API first (from the newest one
already told, or the last minute), then the live event stream is followed; the ledger records each
event id before its message goes out, so a reconnect or a restart never tells one twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.events.clients import get_events_subscriber
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventOrder

from tenure.channels.telegram.commands import news_line
from tenure.store.telegram import Ledger
from tenure.tasks.announce import EVENT_PREFIX

__all__ = ["promotion_news"]

log = logging.getLogger("tenure.telegram")

RETRY_SECONDS = 30.0
"""Wait before following the event stream again after the API went away."""


async def promotion_news(ledger: Ledger, send: Callable[[str], Awaitable[bool]]) -> None:
    """Tell the owner of every promotion event, until cancelled."""

    async def tell(event: Event) -> None:
        if ledger.news_sent(str(event.id), event.occurred.isoformat()):
            await send(news_line(event.payload))

    names = EventNameFilter(prefix=[EVENT_PREFIX])
    while True:
        try:
            last = ledger.last_news()
            since = datetime.fromisoformat(last) if last else datetime.now(UTC) - timedelta(minutes=1)
            missed = EventFilter(
                event=names,
                occurred=EventOccurredFilter.model_validate({"since": since, "until": datetime.now(UTC)}),
                order=EventOrder.ASC,
            )
            async with get_client() as client:
                for event in (await client.read_events(filter=missed, limit=50)).events:
                    await tell(event)
            async with get_events_subscriber(
                filter=EventFilter(event=names), reconnect_on_clean_close=True
            ) as events:
                async for event in events:
                    await tell(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the API restarts with `tenure up`; news waits for it
            log.warning("promotion news paused: %s; trying again in %.0f s", exc, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)
