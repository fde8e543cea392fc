"""How tenure's server and worker are launched: the command and the environment. One owner for both,
used by ``tenure up`` (background processes) and ``tenure service install`` (launchd/systemd), so the
two cannot drift apart. Light: no Prefect import."""

from __future__ import annotations

import sys

from tenure.config import Env

__all__ = ["serve_argv", "service_environment"]


def serve_argv(role: str, *extra: str, python: str | None = None) -> list[str]:
    """The command that runs one role (``server`` or ``worker``) in the foreground."""
    return [python or sys.executable, "-m", "tenure.cli", "serve", role, *extra]


def service_environment(env: Env, api: str) -> dict[str, str]:
    """What tenure's server and worker need in their environment (every flow run inherits it): where
    tenure's state and config are, where Prefect keeps its database, and which API to use."""
    values = {
        "TENURE_HOME": str(env.home),
        "PREFECT_HOME": str(env.prefect_home),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if env.config is not None or env.config_path.exists():
        values["TENURE_CONFIG"] = str(env.config_path)
    return values
