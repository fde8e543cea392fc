"""Reading a mailbox over IMAP without changing it: ``EXAMINE`` (read-only), ``BODY.PEEK`` (no \\Seen),
and no command that writes (no STORE, COPY, MOVE, APPEND or EXPUNGE is ever sent).

A message up to ``max_message_bytes`` is fetched whole; a bigger one in parts: its header and the text
parts its ``BODYSTRUCTURE`` names (each cut at the same size), the rest only listed by name, type and
size. The parts are put back together as a small multipart message for the one parser.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from tenure.channels.inbox.mail import Attachment
from tenure.config_channels import ImapConfig

__all__ = ["Fetched", "Mailbox", "account_of"]

_BOUNDARY = b"tenure-partial-fetch"
_CONTENT_HEADERS = re.compile(
    rb"^(content-type|content-transfer-encoding):.*(\r?\n[ \t].*)*\r?\n", re.I | re.M
)


def account_of(config: ImapConfig) -> str:
    """``user@host/folder``: the triage table's key for one mailbox folder."""
    return f"{config.username}@{config.host}/{config.folder}"


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    """The message, or its header and text parts when it was too big to fetch whole."""
    size: int
    """RFC822.SIZE: the whole message's size on the server."""
    skipped: list[Attachment] = field(default_factory=list)
    """Parts of a big message that were listed, not fetched."""
    cut: bool = False
    """Only the first ``max_message_bytes`` of a big message's body were read (no BODYSTRUCTURE)."""


def _context(config: ImapConfig) -> ssl.SSLContext:
    """TLS that verifies the server: against ``ca_file`` alone when set (Bridge's certificate, pinned),
    else the system's trust store."""
    return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def _bytes(value: object) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else b""


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | str | bytes) else 0


def _params(raw: Any) -> dict[str, str]:
    items = list(raw) if isinstance(raw, tuple | list) else []
    return {_text(k).lower(): _text(v) for k, v in zip(items[::2], items[1::2], strict=False)}


def _leaves(body: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(section, leaf) for each non-multipart part of a BODYSTRUCTURE, sections numbered as FETCH
    wants them (``1``, ``2.1``, …)."""
    if isinstance(body[0], list):
        for n, part in enumerate(body[0], 1):
            yield from _leaves(part, f"{prefix}{n}.")
    else:
        yield prefix.rstrip(".") or "1", body


def _attachment(leaf: Any) -> Attachment:
    kind = f"{_text(leaf[0]).lower()}/{_text(leaf[1]).lower()}"
    name = _params(leaf[2]).get("name")
    for item in leaf[7:]:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], tuple):
            name = _params(item[1]).get("filename") or name
    return Attachment(name, kind, int(leaf[6]) if isinstance(leaf[6], int) else 0)


class Mailbox:
    """One read-only session on one folder; ``with Mailbox(config, password) as box: …``."""

    def __init__(self, config: ImapConfig, password: str):
        self.config = config
        self._password = password
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.exists = 0

    def __enter__(self) -> Mailbox:
        c = self.config
        tls = _context(c) if c.security != "plain" else None
        client = IMAPClient(c.host, c.port, ssl=c.security == "ssl", ssl_context=tls, timeout=c.timeout)
        try:
            if c.security == "starttls":
                client.starttls(tls)
            client.login(c.username, self._password)
            selected = client.select_folder(c.folder, readonly=True)  # EXAMINE
        except BaseException:
            with contextlib.suppress(Exception):  # a failed STARTTLS leaves no socket to shut down
                client.shutdown()
            raise
        self.client = client
        self.uidvalidity = _int(selected[b"UIDVALIDITY"])
        self.exists = _int(selected.get(b"EXISTS", 0))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None):
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # the session is over either way
                with contextlib.suppress(Exception):
                    self.client.shutdown()
            self.client = None

    @property
    def _client(self) -> IMAPClient:
        if self.client is None:
            raise RuntimeError("the mailbox is not open: use it inside `with Mailbox(...)`")
        return self.client

    def uids_after(self, last: int) -> list[int]:
        """UIDs above ``last``, in order (``n:*`` also names the highest UID when none is above)."""
        if self.exists == 0:
            return []
        return sorted(u for u in self._client.search(f"UID {last + 1}:*") if u > last)

    def message_ids(self, uids: Sequence[int]) -> dict[int, bytes]:
        """Each UID's header block (for its Message-ID), to re-sync after a UIDVALIDITY change."""
        found = self._client.fetch(list(uids), ["BODY.PEEK[HEADER]"])
        return {uid: _bytes(data.get(b"BODY[HEADER]")) for uid, data in found.items()}

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        """The messages, whole when small, in parts when big (``max_message_bytes``). Only a big one's
        BODYSTRUCTURE is asked for, so a server that cannot give one still serves the rest."""
        if not uids:
            return []
        client, cap = self._client, self.config.max_message_bytes
        sizes = {
            uid: _int(data.get(b"RFC822.SIZE"))
            for uid, data in client.fetch(list(uids), ["RFC822.SIZE"]).items()
        }
        small = [u for u in uids if u in sizes and sizes[u] <= cap]
        whole = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        fetched = []
        for uid in uids:
            if uid not in sizes:
                continue  # expunged meanwhile
            if uid in whole:
                fetched.append(Fetched(uid, _bytes(whole[uid].get(b"BODY[]")), sizes[uid]))
            else:
                fetched.append(self._in_parts(uid, self._structure(uid), sizes[uid]))
        return fetched

    def _structure(self, uid: int) -> Any:
        """A message's BODYSTRUCTURE, or None when the server cannot give it (then only its header and
        the first ``max_message_bytes`` of its body are read)."""
        try:
            return self._client.fetch([uid], ["BODYSTRUCTURE"]).get(uid, {}).get(b"BODYSTRUCTURE")
        except IMAPClientError:
            return None

    def _in_parts(self, uid: int, structure: Any, size: int) -> Fetched:
        """A big message as its header and text parts (each at most ``max_message_bytes``)."""
        cap = self.config.max_message_bytes
        if not structure:
            data = self._client.fetch([uid], ["BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{cap}>"]).get(uid, {})
            head = next((_bytes(v) for k, v in data.items() if k == b"BODY[HEADER]"), b"")
            text = next(
                (_bytes(v) for k, v in data.items() if isinstance(k, bytes) and k.startswith(b"BODY[TEXT]")),
                b"",
            )
            return Fetched(uid, head.rstrip(b"\r\n") + b"\r\n\r\n" + text, size, cut=True)
        texts, skipped = [], []
        for section, leaf in _leaves(structure):
            kind = f"{_text(leaf[0]).lower()}/{_text(leaf[1]).lower()}"
            if kind in ("text/plain", "text/html") and not _attachment(leaf).name:
                texts.append(section)
            else:
                skipped.append(_attachment(leaf))
        items = ["BODY.PEEK[HEADER]"] + [f"BODY.PEEK[{s}.MIME]" for s in texts]
        items += [f"BODY.PEEK[{s}]<0.{cap}>" for s in texts]
        data = self._client.fetch([uid], items).get(uid, {})

        def part(prefix: str) -> bytes:
            key = next((k for k in data if isinstance(k, bytes) and k.startswith(prefix.encode())), None)
            return _bytes(data[key]) if key is not None else b""

        header = _CONTENT_HEADERS.sub(b"", part("BODY[HEADER]")).rstrip(b"\r\n")
        body = b"".join(
            b"--" + _BOUNDARY + b"\r\n" + part(f"BODY[{s}.MIME]").rstrip(b"\r\n") + b"\r\n\r\n"
            + part(f"BODY[{s}]") + b"\r\n"
            for s in texts
        )  # fmt: skip
        raw = (
            header + b'\r\nContent-Type: multipart/mixed; boundary="' + _BOUNDARY + b'"\r\n\r\n'
            + body + b"--" + _BOUNDARY + b"--\r\n"
        )  # fmt: skip
        return Fetched(uid, raw, size, skipped)
