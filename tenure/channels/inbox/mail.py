"""One message, as triage sees it: decoded headers, its text, its attachments listed (never read).

Parsed with the standard library's ``email`` (``policy.default``), defensively: a header that does not
decode, a charset nobody knows, a truncated boundary or 8-bit bytes where 7-bit belong are replaced
characters and a noted defect, never an exception. The text is the text/plain parts, or the HTML ones
rendered as text (scripts, styles and markup dropped) when a message has no plain part; what HTML hid
(comments, invisible elements) is kept apart for the injection check, never shown to a model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from tenure.html_text import html_to_text

__all__ = ["HTML_PER_TEXT", "Attachment", "Mail", "parse_mail"]

HTML_PER_TEXT = 10
"""HTML characters read per character of text kept: markup rarely outweighs text tenfold, and parsing
a 2 MB HTML body whole takes seconds for text that is cut to ``max_chars`` anyway."""


@dataclass(frozen=True)
class Attachment:
    name: str | None
    content_type: str
    size: int
    """Bytes as sent (encoded), so nothing is decoded to list it."""


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str | None
    subject: str | None
    date: datetime | None
    text: str
    """What the models see: at most ``max_chars`` characters."""
    hidden: str = ""
    """What the models are not shown but the injection check reads: text the HTML hid (comments,
    invisible elements), ``X-`` headers and calendar invitations."""
    attachments: list[Attachment] = field(default_factory=list)
    truncated: bool = False
    defects: list[str] = field(default_factory=list)
    size: int = 0


def _repaired(text: str, charsets: tuple[str, ...] = ()) -> str:
    """Undo the parser's surrogate escapes of raw 8-bit bytes: UTF-8 if they are, else the first
    charset the message declares that decodes them, else Latin-1 (which decodes anything)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    for charset in ("utf-8", *charsets):
        try:
            return raw.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")


def _charsets(msg: Message) -> tuple[str, ...]:
    """The charsets a message's parts declare (8-bit headers are most likely in one of them)."""
    found = [part.get_content_charset() for part in msg.walk()]
    return tuple(dict.fromkeys(c for c in found if c and c not in ("us-ascii", "utf-8")))


def _header(msg: Message, name: str) -> str | None:
    """A header's decoded value, whatever its encoding (RFC 2047 words, or raw 8-bit bytes that the
    parser would turn into replacement characters); None when absent."""
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return None
    value: str | None = None
    if not any("\udc80" <= ch <= "\udcff" for ch in raw):
        try:
            value = str(msg.get(name))
        except Exception:  # a malformed header can fail in policy.default's parser
            value = None
    if value is None:
        repaired = _repaired(raw, _charsets(msg))
        try:
            value = str(make_header(decode_header(repaired)))
        except Exception:
            value = repaired
    return " ".join(value.split())


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "Date")
    try:
        return parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None


def _payload_text(part: Message) -> str:
    """A text part decoded with its charset (or UTF-8), bad bytes replaced; never raises."""
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return _repaired(content)
        except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
            pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or (
        part.get_filename() is not None and part.get_content_maintype() != "text"
    )


def _fallback_id(msg: Message) -> str:
    """An id for a message without a Message-ID, from its headers alone, so a header-only fetch (a
    re-sync after a UIDVALIDITY change) finds the same one."""
    basis = "\n".join(str(_header(msg, h)) for h in ("From", "To", "Date", "Subject", "Received"))
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def parse_mail(raw: bytes, max_chars: int, extra_attachments: list[Attachment] | None = None) -> Mail:
    """Parse ``raw`` (RFC 5322 bytes); ``extra_attachments`` are those a partial fetch listed but did
    not download. Never raises on bad mail: what was wrong is in ``defects``."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    defects = sorted({type(d).__name__ for part in msg.walk() for d in part.defects})
    plain: list[str] = []
    html: list[str] = []
    attachments = list(extra_attachments or [])
    unseen = [
        f"{name}: {_repaired(str(value))}" for name, value in msg.raw_items() if name.lower().startswith("x-")
    ]
    for part in msg.walk():
        if part.is_multipart():
            continue
        if _is_attachment(part):
            payload = part.get_payload()
            size = len(payload) if isinstance(payload, str | bytes) else 0
            attachments.append(Attachment(part.get_filename(), part.get_content_type(), size))
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(_payload_text(part))
        elif kind == "text/html":
            html.append(_payload_text(part))
        elif part.get_content_maintype() != "text" or kind == "text/calendar":
            if kind == "text/calendar":
                unseen.append(_payload_text(part))
            payload = part.get_payload()
            size = len(payload) if isinstance(payload, str | bytes) else 0
            attachments.append(Attachment(part.get_filename(), kind, size))
    rendered = [html_to_text(h[: max_chars * HTML_PER_TEXT]) for h in html]
    text = "\n\n".join(p.strip() for p in plain if p.strip()) or "\n\n".join(r[0] for r in rendered)
    text = text.replace("\x00", "")
    hidden = "\n".join([r[1] for r in rendered if r[1]] + unseen)
    message_id = (_header(msg, "Message-ID") or "").strip() or _fallback_id(msg)
    return Mail(
        message_id=message_id,
        sender=_header(msg, "From"),
        subject=_header(msg, "Subject"),
        date=_date(msg),
        text=text[:max_chars],
        hidden=hidden[:max_chars],
        attachments=attachments,
        truncated=len(text) > max_chars,
        defects=defects,
        size=len(raw),
    )
