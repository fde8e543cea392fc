"""Reading a markdown vault: which files count, and each note's frontmatter, links and date.

A vault is any folder tree of ``.md`` files (Obsidian's layout works as is). Dot folders such as
``.obsidian/``, ``.trash/`` and ``.git/`` are never read, nor is anything matching a user glob.
Bad files never stop a run: binary files are skipped, invalid UTF-8 is replaced, huge notes are
truncated and broken frontmatter is ignored, each with a warning that names the file. Only regular
files are read: a FIFO or device named ``*.md`` is skipped (reading one would block or never end), and
so is a link that dangles, loops or leads out of the vault (a link to ``/etc/passwd`` must not make
that file searchable). Links within the vault are followed unless ``vault.follow_links`` is off;
linked folders are never entered.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["FileState", "Note", "Unreadable", "file_digest", "read_note", "scan", "split_frontmatter"]

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_WIKILINK = re.compile(r"\[\[([^\]|#\n]+)(?:#[^\]|\n]*)?(?:\|[^\]\n]*)?\]\]")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_SNIFF = 8192


@dataclass(frozen=True)
class FileState:
    """What the file system says about a note, enough to tell that it has not changed."""

    path: str
    """Relative to the vault root, with ``/`` separators."""
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class Note:
    """One readable note: metadata for filters and the body the chunker cuts."""

    path: str
    folder: str
    """The top-level folder (``daily``, ``projects``, …); empty for notes at the root."""
    title: str
    date: dt.date | None
    tags: tuple[str, ...]
    aliases: tuple[str, ...]
    links: tuple[str, ...]
    body: str
    digest: str
    """SHA-256 of the whole file: a note whose bytes did not change is never re-chunked."""
    mtime_ns: int
    size: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    """A file that is skipped, and why (the index remembers it so it is not re-read every run)."""

    path: str
    digest: str
    mtime_ns: int
    size: int
    reason: str


def _ignored(rel: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p.rstrip("/")) or fnmatch.fnmatch(rel + "/", p) for p in patterns)


def scan(
    root: Path, ignore: Iterable[str] = (), *, follow_links: bool = True, warnings: list[str] | None = None
) -> Iterator[FileState]:
    """Every ``.md`` note under ``root`` (folder by folder), minus dot folders and ``ignore`` globs; a file
    that is not a note to read (see above) is left out, with a warning added to ``warnings``."""
    patterns = list(ignore)
    inside = root.resolve()
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        base = "" if base == "." else base + "/"
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _ignored(base + d, patterns))
        for name in sorted(files):
            rel = base + name
            if name.endswith(".md") and not name.startswith(".") and not _ignored(rel, patterns):
                st, problem = _regular(Path(folder) / name, inside, follow_links)
                if st is not None:
                    yield FileState(rel, st.st_mtime_ns, st.st_size)
                elif warnings is not None:
                    warnings.append(f"{rel}: not read: {problem}")


def _regular(path: Path, inside: Path, follow_links: bool) -> tuple[os.stat_result | None, str]:
    """The file's stat if it is a note to read (a regular file, or a link to one within the vault)."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            if not follow_links:
                return None, "a link, and vault.follow_links is off"
            try:
                target = path.resolve(strict=True)
            except FileNotFoundError:
                return None, f"a link to {path.readlink()}, which does not exist"
            except (OSError, RuntimeError):
                return None, "a link that loops"
            if not target.is_relative_to(inside):
                return None, f"a link out of the vault (to {target})"
            st = target.stat()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket or device"
        return None, f"{kind}, not a regular file"
    return st, ""


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _as_list(value: object, split: str) -> tuple[str, ...]:
    """Tags and aliases as Obsidian accepts them: a list, or one string cut at ``split``."""
    if value is None:
        return ()
    items = (
        re.split(split, value) if isinstance(value, str) else value if isinstance(value, list) else [value]
    )
    return tuple(dict.fromkeys(str(i).strip().lstrip("#") for i in items if str(i).strip().lstrip("#")))


def _date(value: object, stem: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    for candidate in (str(value) if value is not None else "", stem):
        if m := _ISO_DATE.search(candidate):
            try:
                return dt.date.fromisoformat(m.group(1))
            except ValueError:
                continue
    return None


def split_frontmatter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(frontmatter, body, what was wrong with the frontmatter): a markdown file's leading ``---`` YAML
    block as a mapping, and the text after it; a block that is not a YAML mapping counts as none."""
    m = _FRONTMATTER.match(text)
    if not m:
        return {}, text, None
    body = text[m.end() :]
    try:
        loaded = yaml.safe_load(m.group(1))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return {}, body, "frontmatter is not valid YAML" + (f" (line {mark.line + 2})" if mark else "")
    if isinstance(loaded, dict):
        return loaded, body, None
    return {}, body, None if loaded is None else "frontmatter is not a mapping of keys"


def read_note(root: Path, state: FileState, max_bytes: int) -> Note | Unreadable:
    """Read and parse one note; never raises for bad content (only for I/O errors)."""
    file = root / state.path
    digest = file_digest(file)
    with file.open("rb") as f:
        raw = f.read(max_bytes + 1)
    if b"\x00" in raw[:_SNIFF]:
        return Unreadable(
            state.path, digest, state.mtime_ns, state.size, "binary content (NUL bytes), not text"
        )
    warnings = []
    if len(raw) > max_bytes:
        cut = raw.rfind(b"\n", 0, max_bytes)
        raw = raw[: cut if cut > 0 else max_bytes]
        warnings.append(f"{state.path}: truncated to the first {len(raw):,} of {state.size:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        text = raw.decode("utf-8", errors="replace")
        warnings.append(f"{state.path}: invalid UTF-8 at byte {err.start}; undecodable bytes replaced")
    text = text.removeprefix("\ufeff")

    meta, body, problem = split_frontmatter(text)
    if problem:
        warnings.append(f"{state.path}: {problem}; indexed without it")

    stem = Path(state.path).stem
    title = str(meta.get("title") or stem).strip() or stem
    folder = state.path.split("/", 1)[0] if "/" in state.path else ""
    links = tuple(dict.fromkeys(link.strip() for link in _WIKILINK.findall(body)))
    return Note(
        path=state.path,
        folder=folder,
        title=title,
        date=_date(meta.get("date"), stem),
        tags=_as_list(meta.get("tags"), r"[,\s]+"),
        aliases=_as_list(meta.get("aliases"), r","),
        links=links,
        body=body,
        digest=digest,
        mtime_ns=state.mtime_ns,
        size=state.size,
        warnings=tuple(warnings),
    )
