"""Each model's run of failed calls and cooldown, shared by every process using one tenure home.

Under a Prefect process worker each flow run is its own process, so a cooldown kept in memory would end
with the flow run that earned it and the next one would try the failing model again. The table lives in
one small JSON file instead, ``{"model id": {"failures": 3, "until": 1767225600.0}, ...}`` with ``until``
in wall-clock epoch seconds (a monotonic clock means nothing to another process). Only models with
failures have an entry.

Readers take no lock: writers replace the file whole (temp file, fsync, rename), so a reader sees the
old table or the new one, never half of one. Writers read, change and replace it under an exclusive
``flock`` on a lock file beside it, so concurrent processes lose no update. The file is bookkeeping,
never a reason for a model call to fail: a missing file is an empty table; a corrupt or unreadable one
is treated as empty, logged and replaced by an empty table when first read; a failed write is logged and
the call carries on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["HEALTHY", "Health", "HealthStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    """One model's entry in the table (``HEALTHY``, the default, is what a model without one has)."""

    failures: int = 0
    """Failed calls in a row (the next success resets it)."""
    until: float = 0.0
    """Epoch seconds (``time.time()``) until which the model is skipped; in the past when not cooling down."""


HEALTHY = Health()
_TABLE = TypeAdapter(dict[str, Health])


class HealthStore:
    """The health table of one tenure home (``state/model_health.json``)."""

    def __init__(self, home: Path):
        self.path = home / "state" / "model_health.json"
        self._lock = self.path.with_name(self.path.name + ".lock")
        self._temp = self.path.with_name(self.path.name + ".tmp")  # only the lock holder writes it

    def get(self, model_id: str) -> Health:
        """One lock-free read: the model's health now. An unusable file is replaced with an empty table
        at once, so it is reported once rather than on every call."""
        table = self._read()
        if table is None:
            self._update(lambda _: False)
        return (table or {}).get(model_id, HEALTHY)

    def failed(self, model_id: str, cooldown_after: int, cooldown_seconds: float) -> None:
        """Count a failed call; from the ``cooldown_after``-th in a row, each one (re)starts the cooldown."""

        def change(table: dict[str, Health]) -> bool:
            failures = table.get(model_id, HEALTHY).failures + 1
            until = time.time() + cooldown_seconds if failures >= cooldown_after else 0.0
            table[model_id] = Health(failures, until)
            return True

        self._update(change)

    def succeeded(self, model_id: str) -> None:
        """End the model's run of failures. Callers that read no failures before the call skip this, so a
        healthy model's calls write nothing."""
        self._update(lambda table: table.pop(model_id, None) is not None)

    def _read(self) -> dict[str, Health] | None:
        """The table; ``{}`` if there is no file yet, ``None`` if it cannot be used."""
        try:
            return _TABLE.validate_json(self.path.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return {}
        except (OSError, ValueError):  # unreadable, or not the table (pydantic's ValidationError)
            return None

    def _update(self, change: Callable[[dict[str, Health]], bool]) -> None:
        """Apply ``change`` to the table under the lock; write it if it changed (or was unusable)."""
        try:
            with self._locked():
                table = self._read()
                if unusable := table is None:
                    log.warning(
                        "model health file %s is unreadable or not the JSON table: emptying it", self.path
                    )
                if change(table := table or {}) or unusable:
                    self._write(table)
        except OSError as exc:
            log.warning("could not update model health file %s: %s", self.path, exc)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("a") as lock:  # closing the file releases the lock
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, table: dict[str, Health]) -> None:
        with self._temp.open("wb") as temp:
            temp.write(_TABLE.dump_json(table))
            temp.flush()
            os.fsync(temp.fileno())
        self._temp.replace(self.path)
