"""``ask``: one prompt through a chain, as a flow run you can see and retry in the Prefect UI."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tenure.models import CallResult
from tenure.tasks.calls import call_model
from tenure.tasks.ui import label

__all__ = ["ask"]


@flow(name="ask", flow_run_name="ask/{target}")
async def ask(prompt: str, target: str = "default", max_tokens: int | None = None) -> CallResult:
    """Answer ``prompt`` with ``target`` (a chain name or a model id); returns the call's record."""
    result = await call_model(prompt, target=target, max_tokens=max_tokens)
    get_run_logger().info(
        "served by %s; %d fallback(s); cost $%.6f",
        result.served_by,
        len(result.fallbacks),
        result.cost_usd or 0,
    )
    label(source="live", model=[result.served_by] if result.served_by else [])
    return result
