"""The model call as a Prefect task.

The chain already retries each model and falls back; the task's own retries are the outer loop for
the case where *every* model failed (a provider-wide outage), spaced out so the outage can pass.
Configuration errors and request errors are not retried: waiting would not fix them.
"""

from __future__ import annotations

from typing import Any

from prefect import task

from tenure.models import CallFailed, CallResult, call
from tenure.runtime import runtime

__all__ = ["call_model", "is_outage"]


def is_outage(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only when every model failed on the provider side (not on a rejected request)."""
    try:
        state.result()
    except CallFailed as exc:
        return bool(exc.result.fallbacks) and not any(a.outcome == "failed" for a in exc.result.attempts)
    except Exception:
        return False
    return False


@task(
    name="call_model",
    task_run_name="call/{target}",
    retries=2,
    retry_delay_seconds=[30, 120],
    retry_condition_fn=is_outage,
)
async def call_model(prompt: str, target: str = "default", max_tokens: int | None = None) -> CallResult:
    """Ask a chain or model; config and secrets are loaded inside the task, never passed as parameters."""
    rt = runtime()
    return await call(prompt, config=rt.config, home=rt.home, target=target, max_tokens=max_tokens)
