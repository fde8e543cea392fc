"""Does a mail try to steer the assistant reading it? A heuristic, so the digest can say so.

Nothing depends on it for safety: triage runs no tools and a mail's text reaches a model only as data
in a delimited block, whatever this says. It flags, with a short reason each: instructions aimed at an
assistant (in several languages), fake chat turns and tool calls, attempts to close the data block,
requests for secrets, text the HTML hid from the reader, and any of these hidden behind zero-width
characters, look-alike letters or base64.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

__all__ = ["suspicions"]

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_CONFUSABLES = str.maketrans("аеорсхуіјѕԁɡʟ", "aeopcxyijsdgl")  # Cyrillic and other look-alikes

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.I | re.M))
    for reason, pattern in (
        ("asks to ignore instructions", r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}"
         r"\b(instructions?|prompts?|rules|guidelines|directives|programming)\b"),
        ("asks to ignore instructions", r"ignorier\w*\b[^.\n]{0,40}\b(anweisungen|befehle|regeln)"
         r"|ignore[rz]?\b[^.\n]{0,40}\b(instructions|consignes|règles)"
         r"|ignora\b[^.\n]{0,40}\b(instrucciones|istruzioni|reglas)"),
        ("addresses the assistant", r"\b(you are now|from now on,? you|act as|pretend to be|new instructions"
         r"|developer mode|jailbreak|DAN\b|system prompt)"),
        ("addresses the assistant", r"\b(dear|attention|note to the|note for the|hey|hi|to the|for the)\s+"
         r"(ai|assistant|language model|llm|bot|agent|claude|gpt|chatgpt)\b|\bsystem (override|note|message)"
         r"|\b(ai|assistant|llm|language model|bot|model)\b[^.\n]{0,20}\b(reading|processing|parsing|"
         r"summari[sz]ing|triaging|handling) (this|these)\b"),
        ("tries to set its own label", r"\b(label|classify|mark|tag|file|categori[sz]e)\s+(it|this|me|all|"
         r"this (e-?mail|message|newsletter|mail))\b[^.\n]{0,15}\b(as\s+)?(urgent|important|high.priority|"
         r"reply.needed|not spam|read)\b"),
        ("fake chat turn", r"^\s*(system|assistant|user|human|ai)\s*:|\b(system|assistant)\s*:\s+\w"
         r"|<\|im_(start|end)\|>|\[/?INST\]|<\|(system|assistant|user)\|>"),
        ("imitates a tool call", r"[\"']?(tool|function|tool_name|name)[\"']?\s*:\s*[\"']?(dispatch|"
         r"memory_append|memory_read|write_file|run_python|fetch_url|send_email|forward|route_task|"
         r"vault_search)|\b(call|use|invoke|run) the \w+ tool\b"),
        ("tries to end the data block", r"</\s*(text|mail|email|data|task|document|context|input)\s*>"
         r"|\b(end of (the )?(e-?mail|message|data|document))\b|^\s*(>>>|<<<|-{5,}\s*end)"),
        ("asks for secrets", r"\b(api[ _-]?keys?|passwords?|credentials|secret keys?|access tokens?|"
         r"private keys?|2fa codes?|one-time codes?)\b[^.\n]{0,80}\b(send|reply|share|forward|paste|"
         r"include|tell|give)|\b(send|reply|share|forward|paste|include|tell|give)\b[^.\n]{0,80}"
         r"\b(api[ _-]?keys?|passwords?|credentials|secret keys?|access tokens?|private keys?)\b"),
        ("asks to forward or exfiltrate", r"\b(forward|send|e-?mail|upload|transfer)\b[^.\n]{0,60}"
         r"\b(all|every|the last|last|latest)\b[^.\n]{0,40}\b(invoices?|e-?mails?|messages?|files?|"
         r"documents?|notes?|contacts?|memory)\b[^.\n]{0,60}\bto\b"),
        ("asks to change memory or files", r"\b(add|write|save|store|append|remember)\b[^.\n]{0,40}"
         r"\b(to|in|into)\b[^.\n]{0,20}\b(your |the )?(memory|memory\.md|long-term memory|notes|vault|"
         r"file|workspace)\b"),
    )
)  # fmt: skip

_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def _normalised(text: str) -> str:
    """What a model would read: zero-width characters gone, look-alike letters and full-width forms
    folded to ASCII."""
    return unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text)).translate(_CONFUSABLES)


def _decoded_blobs(text: str) -> str:
    """The text of any base64 run that decodes to readable text (an instruction smuggled as base64)."""
    found = []
    for blob in _BASE64.findall(text):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded.isprintable() or "\n" in decoded:
            found.append(decoded)
    return "\n".join(found)


def _matches(text: str) -> list[str]:
    return [reason for reason, pattern in _PATTERNS if pattern.search(text)]


def suspicions(headers: str | None, text: str, hidden: str = "") -> list[str]:
    """Why this mail looks like it addresses an assistant rather than its reader (empty: it does not).
    ``headers`` are the ones a model is shown (sender, subject), ``hidden`` what it is not."""
    visible = _normalised(f"{headers or ''}\n{text}")
    reasons = _matches(visible)
    if len(_ZERO_WIDTH.findall(text)) >= 3 and _matches(_normalised(text)) != _matches(text):
        reasons.append("hides words with zero-width characters")
    if hidden.strip() and (hidden_reasons := _matches(_normalised(hidden))):
        reasons += [f"hidden in the HTML: {r}" for r in hidden_reasons]
    if blobs := _decoded_blobs(text):
        reasons += [f"in base64: {r}" for r in _matches(_normalised(blobs))]
    return list(dict.fromkeys(reasons))
