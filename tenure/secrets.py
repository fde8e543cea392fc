"""Secret references and their resolution: ``env:NAME``, ``op://vault/item/field``, ``prefect-secret://name``.

tenure.toml only ever holds *references*. A reference is resolved at the moment a client needs the value,
the value is kept in memory only (as a ``SecretStr``), and every value resolved in this process is
redacted from log records by a log-record factory installed on first resolution. Errors name the
reference and how to fix it, never the value.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

__all__ = [
    "REDACTED",
    "SecretError",
    "SecretRef",
    "clear_cache",
    "install_redaction",
    "key_shape",
    "parse_secret_ref",
    "redact",
    "redact_url",
    "resolve",
    "shown",
]

REDACTED = "***"
Scheme = Literal["env", "op", "prefect-secret"]
REFERENCE_FORMS = "env:NAME, op://vault/item/field or prefect-secret://name"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OP_PATH = re.compile(r"^op://[^/\s]+/[^/\s][^/]*(/[^/\s][^/]*){1,2}$")
_BLOCK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_OP_TIMEOUT_S = 30.0
_KEY_SHAPES = (
    (re.compile(r"sk-ant-"), "an Anthropic API key"),
    (re.compile(r"sk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"), "an OpenAI API key"),
    (re.compile(r"[sp]k-lf-"), "a Langfuse key"),
    (re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}"), "a Telegram bot token"),
    (re.compile(r"(ghp_|gho_|github_pat_|xox[abp]-|AKIA|AIza|glpat-)"), "an access token"),
    (re.compile(r"[A-Za-z0-9+/_=-]{32,}"), "a secret value"),
)


class SecretError(RuntimeError):
    """A reference could not be resolved. The message names the reference and the fix, never a value."""


@dataclass(frozen=True)
class SecretRef:
    """A parsed secret reference; ``str()`` gives it back as written."""

    scheme: Scheme
    target: str

    def __str__(self) -> str:
        if self.scheme == "env":
            return f"env:{self.target}"
        if self.scheme == "op":
            return self.target
        return f"prefect-secret://{self.target}"


def key_shape(text: str) -> str | None:
    """What kind of secret ``text`` (or a part of it) looks like, if any: such text is never printed."""
    for shape, kind in _KEY_SHAPES:
        if shape.search(text):
            return kind
    return None


def shown(text: str) -> str:
    """``text`` quoted for an error message, unless it looks like a secret: then only what kind it is."""
    kind = key_shape(text)
    return f"what looks like {kind} (not shown)" if kind else f"'{text}'"


def redact_url(url: str) -> str:
    """``url`` with any password (and the user name with it) replaced by ``***``, for messages."""
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def parse_secret_ref(text: str) -> SecretRef:
    """Parse a reference, refusing anything else (a plain-text secret must never sit in a config file).
    A refusal never repeats a value that looks like a key: it says what kind of key it looks like."""
    pasted = key_shape(text)
    well_formed = (
        (text.startswith("env:") and _ENV_NAME.match(text[4:]))
        or _OP_PATH.match(text)
        or (text.startswith("prefect-secret://") and _BLOCK_NAME.match(text[len("prefect-secret://") :]))
    )
    if pasted and not well_formed:
        raise ValueError(
            f"this looks like {pasted} pasted into the file (not shown); the file holds references only: "
            f"put the key in the environment or 1Password and write {REFERENCE_FORMS}, e.g. env:MY_API_KEY"
        )
    if text.startswith("env:"):
        name = text[4:]
        if not _ENV_NAME.match(name):
            raise ValueError(
                f"{shown(text)} is not a valid env reference; expected env:NAME with NAME like MY_API_KEY"
            )
        return SecretRef("env", name)
    if text.startswith("op://"):
        if not _OP_PATH.match(text):
            raise ValueError(
                f"{shown(text)} is not a valid 1Password reference; expected op://vault/item/field"
            )
        return SecretRef("op", text)
    if text.startswith("prefect-secret://"):
        name = text[len("prefect-secret://") :]
        if not _BLOCK_NAME.match(name):
            raise ValueError(
                f"{shown(text)} is not a valid Prefect Secret reference; expected prefect-secret://name "
                "with a lower-case block name"
            )
        return SecretRef("prefect-secret", name)
    raise ValueError(f"plain-text secrets are not allowed; expected a reference: {REFERENCE_FORMS}")


_cache: dict[SecretRef, SecretStr] = {}
_known_values: set[str] = set()
_lock = threading.Lock()


def resolve(ref: SecretRef | str) -> SecretStr:
    """Resolve a reference to its value. ``op`` and Prefect reads are cached in memory for the process."""
    if isinstance(ref, str):
        ref = parse_secret_ref(ref)
    if ref.scheme == "env":  # not cached: the environment is the source of truth and is cheap to read
        value = os.environ.get(ref.target)
        if not value:
            raise SecretError(f"{ref}: {ref.target} is not set in the environment")
        return _remember(value)
    with _lock:
        if ref in _cache:
            return _cache[ref]
    value = _read_op(ref) if ref.scheme == "op" else _read_prefect_secret(ref)
    secret = _remember(value)
    with _lock:
        _cache[ref] = secret
    return secret


def clear_cache() -> None:
    """Forget cached values (e.g. after rotating a key in 1Password)."""
    with _lock:
        _cache.clear()


def _remember(value: str) -> SecretStr:
    install_redaction()
    with _lock:
        _known_values.add(value)
    return SecretStr(value)


def _read_op(ref: SecretRef) -> str:
    op = shutil.which("op")
    if op is None:
        raise SecretError(
            f"{ref}: the 1Password CLI 'op' is not on PATH; install it and sign in "
            "(or set OP_SERVICE_ACCOUNT_TOKEN), or use an env:NAME reference instead"
        )
    try:
        proc = subprocess.run(
            [op, "read", "--no-newline", ref.target],
            capture_output=True,
            text=True,
            timeout=_OP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SecretError(
            f"{ref}: 'op read' did not answer within {_OP_TIMEOUT_S:.0f} s; is 'op' signed in?"
        ) from None
    if proc.returncode != 0 or not proc.stdout:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SecretError(
            f"{ref}: 'op read' failed (exit {proc.returncode}: {redact(detail)}); check the vault/item/field "
            "names with 'op item get' and that 'op' is signed in"
        )
    return proc.stdout


def _read_prefect_secret(ref: SecretRef) -> str:
    from prefect.blocks.system import Secret

    try:
        # async_dispatch runs the sync path on _sync=True even inside an event loop; its typing hides it
        block = Secret.load(ref.target, _sync=True)  # pyright: ignore[reportCallIssue]
    except (
        Exception
    ) as exc:  # Prefect raises ValueError for a missing block and httpx errors when unreachable
        raise SecretError(
            f"{ref}: could not load the Prefect Secret block '{ref.target}' ({type(exc).__name__}); "
            "create it with 'prefect block create secret' or check PREFECT_API_URL"
        ) from None
    return str(block.get())


def redact(text: str) -> str:
    """Replace every secret value resolved in this process with ``***``."""
    with _lock:
        values = sorted(_known_values, key=len, reverse=True)
    for value in values:
        text = text.replace(value, REDACTED)
    return text


_installed = False


def install_redaction() -> None:
    """Wrap the log-record factory so no record, from any logger or handler, carries a resolved value.

    A factory rather than a handler filter: filters on a logger do not apply to its children, and Prefect
    and the SDKs install handlers of their own.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _known_values:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
