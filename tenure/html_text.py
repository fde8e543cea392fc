"""HTML as plain text, for the mail triage reads and the pages ``fetch_url`` brings: markup, scripts
and styles dropped, and text a reader would not see (comments, invisibly styled or hidden elements) kept
apart, since that is where instructions aimed at a model hide."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment

__all__ = ["html_to_text"]

_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0(?![.\d]*[1-9])"
    r"|color\s*:\s*(#fff\b|#ffffff\b|white\b)",
    re.I,
)


def html_to_text(html: str) -> tuple[str, str]:
    """(visible text, hidden text) of an HTML body: markup, scripts and styles dropped; comments and
    invisibly styled elements moved to the hidden text."""
    soup = BeautifulSoup(html, "html.parser")
    hidden: list[str] = []
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        hidden.append(str(comment))
        comment.extract()
    for tag in soup.find_all(["script", "style", "head", "title", "template"]):
        tag.decompose()
    for tag in soup.find_all(style=_HIDDEN_STYLE):
        hidden.append(tag.get_text(" "))
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        hidden.append(tag.get_text(" "))
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    text = soup.get_text("\n")
    return _tidy(text), _tidy("\n".join(hidden))


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
