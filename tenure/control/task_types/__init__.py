"""The commodity task types, one module each, and the registry that finds them by name.

A task type is a module with a module-level ``TASK_TYPE`` (a ``TaskType``): every module of this package
is one (``classify.py``, ``extract.py``, …), and a module of your own joins them when tenure.toml names
it in ``task_type_modules``. Everything else (routing, shadowing, judging, the golden set, the
config's ``[task_types.X]`` tables) asks the registry, so adding a type is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from pathlib import Path
from typing import Any

from tenure.config import ConfigError, TenureConfig
from tenure.control.task_types.base import TaskError, TaskInput, TaskType

__all__ = ["TaskError", "TaskInput", "TaskType", "check_config", "get", "load_module", "names", "register"]

_registry: dict[str, TaskType[Any]] = {}
_lock = threading.RLock()
_builtins_loaded = False


def _ensure_builtins() -> None:
    """Import this package's type modules once (sorted by name, so the order is stable)."""
    global _builtins_loaded
    with _lock:  # another thread waits here until every built-in type is registered
        if not _builtins_loaded:
            _builtins_loaded = True
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
                if info.name != "base":
                    load_module(f"{__name__}.{info.name}")


def register(task_type: TaskType[Any]) -> TaskType[Any]:
    """Add a type; registering the same object again is a no-op, another type under a taken name fails."""
    _ensure_builtins()  # the built-in types come first in ``names()``
    with _lock:
        known = _registry.get(task_type.name)
        if known is not None and known is not task_type:
            raise ValueError(f"task type '{task_type.name}' is defined twice")
        _registry[task_type.name] = task_type
    return task_type


def load_module(name: str) -> TaskType[Any]:
    """Import ``name`` and register its ``TASK_TYPE``."""
    module = importlib.import_module(name)
    task_type = getattr(module, "TASK_TYPE", None)
    if not isinstance(task_type, TaskType):
        raise TypeError(f"module {name} has no TASK_TYPE (a tenure.control.task_types.TaskType)")
    return register(task_type)


def names() -> tuple[str, ...]:
    """Every known task type's name: the built-in ones, then those loaded from ``task_type_modules``."""
    _ensure_builtins()
    return tuple(_registry)


def get(name: str) -> TaskType[Any]:
    """The type called ``name``; an unknown name is a ``TaskError`` listing the known ones."""
    _ensure_builtins()
    try:
        return _registry[name]
    except KeyError:
        raise TaskError(f"unknown task type '{name}'; expected one of {', '.join(names())}") from None


def check_config(config: TenureConfig, path: Path | None = None) -> None:
    """Load the modules the config names and check that every ``[task_types.X]`` table is a known type.

    Raises ``ConfigError`` with one line per bad key (``path`` is the file it came from), like every
    other config check."""
    problems = []
    for i, module in enumerate(config.task_type_modules):
        try:
            load_module(module)
        except (ImportError, TypeError, ValueError) as exc:
            problems.append(f"task_type_modules[{i}]: cannot load {module!r}: {exc}")
    known = names()
    problems += [
        f"task_types.{name}: unknown task type; expected one of {', '.join(known)}"
        for name in config.task_types
        if name not in known
    ]
    if problems:
        raise ConfigError(path, problems)
