"""Where tenure's Prefect API is and whether it answers: light (no Prefect import), so every command
can ask before it decides how to run its flows."""

from __future__ import annotations

import os

import httpx

from tenure.config import PrefectConfig, ui_url

__all__ = ["answers", "api_url", "ui_url"]


def api_url(prefect: PrefectConfig) -> str:
    """The Prefect API tenure talks to: ``PREFECT_API_URL`` if set (a shared or remote server), else
    the one tenure serves itself."""
    return os.environ.get("PREFECT_API_URL") or prefect.api_url


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check at ``url``."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
