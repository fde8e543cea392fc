"""Where every entry point starts: the validated config, the home directory and the score log.

The CLI, every flow run and every Prefect task (each possibly in its own worker process) call
``runtime()``: it reads ``TENURE_HOME`` and the config file once, loads the task-type modules the config
names and checks its ``[task_types.X]`` tables against the registry, so a bad key stops every entry
point the same way, with the same one line per problem; and it turns tracing on if ``[langfuse]`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from tenure.config import Env, TenureConfig, load_config
from tenure.control import task_types

if TYPE_CHECKING:
    from tenure.store import ScoreLog

__all__ = ["Runtime", "runtime"]


@dataclass(frozen=True)
class Runtime:
    config: TenureConfig
    home: Path

    @cached_property
    def log(self) -> ScoreLog:
        from tenure.store import ScoreLog  # DuckDB and Arrow load only for what reads or writes the log

        return ScoreLog.for_home(self.home)


def runtime() -> Runtime:
    """The environment's home and config, validated (``ConfigError`` with one line per bad key)."""
    env = Env()
    config = load_config()
    task_types.check_config(config, env.config_path)
    if config.langfuse is not None:  # the model layer loads only when tracing needs it
        from tenure.models import tracing

        tracing.install(config)
    return Runtime(config, env.home)
