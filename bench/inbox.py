"""Benchmark: inbox triage over IMAP, the whole pass and what parsing adds to fetching.

Run from the repository root::

    .venv/bin/python bench/inbox.py [--rounds N] [--fetch-rounds N] [--big-rounds N] [--markdown]

One run, against a real throwaway Dovecot on loopback (``tests/fakes/dovecot.py``, STARTTLS verified
against its test CA) holding the hostile corpus (``tests/fakes/mail_corpus.py``, ``corpus(big=False)``:
67 messages), a loopback fake Anthropic answering every request at once (``tests/fakes/llm_server.py``)
and a real temporary Prefect server (``prefect_test_harness``, SQLite):

* (1) messages per minute: the ``inbox_triage`` flow over the 67 messages (batches of 25, the default),
  on a fresh ``TENURE_HOME`` each round (so every round triages all of them, with an empty score log),
  after one warm-up pass of 5 messages on a home of its own. Each message is three ``route_task`` runs
  (classify, extract, summarize), so the fake Anthropic should see 3 requests a message; the rows the
  round wrote are counted in its score log (``triage`` and ``runs``).
* (2) IMAP fetch + parse against fetch alone, on one ``Mailbox`` session: all 67 UIDs in batches of 25
  through ``Mailbox.fetch``, (a) alone, (b) each message then parsed (``parse_mail(raw, 12_000,
  skipped)``) and checked (``suspicions``) as ``triage_message`` does; the two alternate round by round
  (order rotating) after 2 warm-up rounds each. The parse overhead is the difference of the medians,
  and, timed inside (b), the parse and check alone.
* (3) the ~36 MB message (``corpus(big=True)``'s ``big_attachment``, alone in a second Dovecot):
  ``Mailbox.fetch`` (above ``max_message_bytes``, so header and text parts only) against a raw
  imapclient ``BODY.PEEK[]`` of the whole message, each in a session of its own, alternating after one
  warm-up each. Bytes: the size of what each returned, and what Dovecot logged it sent in the session
  (``out=`` at logout: the IMAP stream before TLS, LOGIN and EXAMINE included).

No target is set; nothing fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
# `python bench/inbox.py` puts bench/, not the repo root, on sys.path, and there bench/telegram.py would be
# what `import telegram` finds (the inbox flows import tenure.channels.telegram) instead of
# python-telegram-bot
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import Row, context_line, p90, positive, show  # noqa: E402

if TYPE_CHECKING:
    from tenure.channels.inbox.imap import Mailbox
    from tenure.config_channels import ImapConfig
    from tenure.store.rows import Table
    from tests.fakes.dovecot import Dovecot
    from tests.fakes.llm_server import FakeLLMServer, Reply

LIBRARIES = ("imapclient", "prefect", "pydantic-ai", "beautifulsoup4")
BATCH = 25
MAX_CHARS = 12_000
WARMUP_MESSAGES = 5
FETCH_WARMUP = 2
_LOGGED_OUT = re.compile(r"Logged out in=(\d+) out=(\d+)")


def _config(path: Path, llm_url: str, dovecot: Dovecot) -> None:
    path.write_text(
        f"""[providers.anthropic]
base_url = "{llm_url}"
[retry]
retries = 0
[chains]
default = ["anthropic:claude-opus-4-6"]
[channels.imap]
host = "127.0.0.1"
port = {dovecot.port}
username = "{dovecot.username}"
password = "env:IMAP_PASSWORD"
security = "starttls"
ca_file = "{dovecot.ca_file}"
batch = {BATCH}
"""
    )


def _respond(body: dict[str, Any]) -> Reply:
    """The three task types' answers, at once (the test's ``responder`` without matching the mail)."""
    from tests.fakes.llm_server import ok, tool

    text = json.dumps(body)
    if "exactly one of the allowed labels" in text:
        return tool("final_result", {"label": "fyi"})
    if "Extract the requested fields" in text:
        fields = {"intent": "inform", "dates": None, "amounts": None, "action_items": ["read it"]}
        return tool("final_result", fields)
    return ok("A message worth a glance.")


def _imap(dovecot: Dovecot) -> ImapConfig:
    from tenure.config_channels import ImapConfig

    return ImapConfig.model_validate(
        {"host": dovecot.host, "port": dovecot.port, "username": dovecot.username,
         "password": "env:IMAP_PASSWORD", "security": "starttls", "ca_file": str(dovecot.ca_file)}
    )  # fmt: skip


def _dovecot_version() -> str:
    from tests.fakes.dovecot import dovecot_binary

    binary = dovecot_binary()
    if binary is None:
        raise SystemExit("Dovecot is not installed (apt-get install dovecot-imapd)")
    run = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return run.stdout.split(" ")[0].strip() or "?"


def _median_min(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):,.0f} {unit} median · {min(values):,.0f} min"


# --- (1) the inbox_triage flow ------------------------------------------------------------------------------


def _stored(home: Path, table: Table) -> int:
    from tenure.store import ScoreLog

    log = ScoreLog.for_home(home)
    if not log.segments(table):
        return 0
    _, [(count,)] = log.query(f"SELECT count(*) FROM {table}")
    return int(count)


def _answered(home: Path) -> list[datetime]:
    """When each message's answers were all in: the ``runs`` rows' append times, every third (a
    message's three tasks are answered together, the messages one after the other)."""
    from tenure.store import ScoreLog

    _, rows = ScoreLog.for_home(home).query("SELECT ts FROM runs ORDER BY ts")
    return [ts if ts.tzinfo else ts.replace(tzinfo=UTC) for (ts,) in rows][2::3]


def _triage(tmp: Path, llm: FakeLLMServer, rounds: int, messages: int) -> tuple[list[Row], int, int]:
    from tenure.flows.inbox import inbox_triage

    os.environ["TENURE_HOME"] = str(tmp / "home-warmup")
    warm = asyncio.run(inbox_triage(limit=WARMUP_MESSAGES))
    assert len(warm) == WARMUP_MESSAGES, len(warm)
    seconds: list[float] = []
    requests: list[int] = []
    rows_triage: list[int] = []
    rows_runs: list[int] = []
    errors: list[int] = []
    flagged: set[int] = set()
    first: list[float] = []
    last: list[float] = []
    boundary: list[float] = []
    lead: list[float] = []
    tail: list[float] = []
    for n in range(rounds):
        home = tmp / f"home-{n}"
        os.environ["TENURE_HOME"] = str(home)
        asked = len(llm.completion_requests)
        began = datetime.now(UTC)
        started = time.perf_counter()
        rows = asyncio.run(inbox_triage())
        seconds.append(time.perf_counter() - started)
        ended = datetime.now(UTC)
        requests.append(len(llm.completion_requests) - asked)
        assert len(rows) == messages, (len(rows), messages)
        errors.append(sum(r.error is not None for r in rows))
        flagged.add(sum(r.suspected_injection for r in rows))
        rows_triage.append(_stored(home, "triage"))
        rows_runs.append(_stored(home, "runs"))
        done = _answered(home)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(done)]
        edges = set(range(BATCH - 1, len(gaps), BATCH))  # the last message of a batch → the next's first
        boundary += [g for i, g in enumerate(gaps) if i in edges]
        inside = [g for i, g in enumerate(gaps) if i not in edges]
        first += inside[:10]
        last += inside[-10:]
        lead.append((done[0] - began).total_seconds())
        tail.append((ended - done[-1]).total_seconds())
    per_minute = [messages / s * 60 for s in seconds]
    per_message = [s / messages * 1000 for s in seconds]
    return (
        [
            Row(
                "(1) inbox_triage flow: messages triaged per minute (instant loopback model)",
                _median_min(per_minute, "msg/min"),
                notes=f"{rounds} passes over the {messages}-message corpus, each on a fresh TENURE_HOME "
                f"(after a {WARMUP_MESSAGES}-message warm-up pass), batches of {BATCH}; a pass took "
                f"{statistics.median(seconds):.2f} s median ({min(seconds):.2f}–{max(seconds):.2f} s), "
                f"flow call to return; rows with an error: {', '.join(map(str, errors))}; flagged as "
                f"possible injection: {', '.join(map(str, sorted(flagged)))} a pass",
            ),
            Row(
                "(1) per message, through the flow",
                f"{statistics.median(per_message):.0f} ms median · {max(per_message):.0f} ms max",
                notes=f"pass time / {messages}. From one message's answers to the next's (from the runs "
                f"rows' times), within a batch: {statistics.median(first) * 1000:.0f} ms p50 over a pass's "
                f"first 10, {statistics.median(last) * 1000:.0f} ms over its last 10 (p90 "
                f"{p90(first) * 1000:.0f} / {p90(last) * 1000:.0f} ms); from a batch to the next (fetch, "
                f"rows appended, task run): {statistics.median(boundary) * 1000:.0f} ms p50; from the flow "
                f"call to the first answer {statistics.median(lead):.2f} s p50 (flow run, EXAMINE, plan, "
                f"first fetch, task run), from the last answer to the return {statistics.median(tail):.2f} "
                "s p50 (triage rows appended, logout, digest artifact). Model requests a pass: "
                f"{', '.join(map(str, requests))} (expected "
                f"{3 * messages}); rows written a pass: triage {', '.join(map(str, rows_triage))}, runs "
                f"{', '.join(map(str, rows_runs))}",
            ),
        ],
        len(llm.completion_requests),
        sum(rows_triage),
    )


# --- (2) fetch against fetch + parse ------------------------------------------------------------------------


def _fetch_parse(dovecot: Dovecot, names: list[str], rounds: int) -> list[Row]:
    from tenure.channels.inbox.imap import Mailbox
    from tenure.channels.inbox.injection import suspicions
    from tenure.channels.inbox.mail import parse_mail

    parse_ms: dict[int, list[float]] = {}
    parse_total: list[float] = []
    sizes: list[int] = []

    def fetch(box: Mailbox, uids: list[int]) -> int:
        got = 0
        for start in range(0, len(uids), BATCH):
            got += sum(len(f.raw) for f in box.fetch(uids[start : start + BATCH]))
        return got

    def fetch_parse(box: Mailbox, uids: list[int]) -> int:
        got, spent = 0, 0.0
        for start in range(0, len(uids), BATCH):
            for f in box.fetch(uids[start : start + BATCH]):
                got += len(f.raw)
                began = time.perf_counter()
                mail = parse_mail(f.raw, MAX_CHARS, f.skipped)
                suspicions(f"{mail.sender or ''}\n{mail.subject or ''}", mail.text, mail.hidden)
                took = time.perf_counter() - began
                parse_ms.setdefault(f.uid, []).append(took * 1000)
                spent += took
        parse_total.append(spent)
        return got

    variants: dict[str, Callable[[Mailbox, list[int]], int]] = {"fetch": fetch, "parse": fetch_parse}
    times: dict[str, list[float]] = {name: [] for name in variants}
    with Mailbox(_imap(dovecot), dovecot.password) as box:
        uids = box.uids_after(0)
        assert len(uids) == len(names), (len(uids), len(names))
        for fn in variants.values():
            for _ in range(FETCH_WARMUP):
                fn(box, uids)
        parse_total.clear()
        parse_ms.clear()
        order = list(variants)
        for n in range(rounds):
            for name in order[n % 2 :] + order[: n % 2]:
                started = time.perf_counter()
                sizes.append(variants[name](box, uids))
                times[name].append(time.perf_counter() - started)
    assert len(set(sizes)) == 1, set(sizes)
    total, count = sizes[0], len(uids)
    fetch_s, parse_s = statistics.median(times["fetch"]), statistics.median(times["parse"])
    slowest = sorted(parse_ms, key=lambda uid: statistics.median(parse_ms[uid]), reverse=True)[:3]
    slow = ", ".join(f"{names[uid - 1]} {statistics.median(parse_ms[uid]):.1f} ms" for uid in slowest)
    inside = statistics.median(parse_total) / count * 1000

    def rate(s: float) -> str:
        return f"{count / s:,.0f} msg/s · {total / s / 1e6:.2f} MB/s"

    return [
        Row(
            "(2a) IMAP fetch alone (baseline)",
            rate(fetch_s),
            notes=f"{count} messages, {total:,} bytes, in batches of {BATCH} through Mailbox.fetch on one "
            f"STARTTLS session; {rounds} rounds after {FETCH_WARMUP} warm-up, a round "
            f"{fetch_s * 1000:.1f} ms p50 · {p90(times['fetch']) * 1000:.1f} ms p90",
        ),
        Row(
            "(2b) IMAP fetch + parse_mail + suspicions",
            rate(parse_s),
            notes=f"the same, each message parsed (max {MAX_CHARS:,} chars) and checked; {rounds} rounds "
            f"alternating with (a), a round {parse_s * 1000:.1f} ms p50 · "
            f"{p90(times['parse']) * 1000:.1f} ms p90",
        ),
        Row(
            "(2) parse overhead per message",
            f"{(parse_s - fetch_s) / count * 1000:.2f} ms",
            notes=f"difference of the medians / {count}; ×{parse_s / fetch_s:.1f} the fetch alone; timed "
            f"inside (b), parse + check alone {inside:.2f} ms a message (p50 of the rounds); slowest "
            f"(p50): {slow}",
        ),
    ]


# --- (3) the big message ------------------------------------------------------------------------------------


def _sent(dovecot: Dovecot, before: int) -> tuple[int, int]:
    """(bytes in, bytes out) Dovecot logged for the session that logged out after the first ``before``."""
    deadline = time.monotonic() + 10
    while True:
        found = _LOGGED_OUT.findall(dovecot.log_text())
        if len(found) > before:
            return int(found[before][0]), int(found[before][1])
        if time.monotonic() > deadline:
            raise SystemExit("Dovecot logged no logout line for the session")
        time.sleep(0.02)


def _big(dovecot: Dovecot, size: int, rounds: int) -> list[Row]:
    from tenure.channels.inbox.imap import Mailbox
    from tenure.channels.inbox.mail import parse_mail

    config = _imap(dovecot)

    def parts(box: Mailbox, uid: int) -> int:
        [fetched] = box.fetch([uid])
        assert fetched.skipped, "the big message was fetched whole"
        return len(fetched.raw)

    def whole(box: Mailbox, uid: int) -> int:
        assert box.client is not None
        body = box.client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        assert isinstance(body, bytes)
        return len(body)

    variants: dict[str, Callable[[Mailbox, int], int]] = {"parts": parts, "whole": whole}
    times: dict[str, list[float]] = {name: [] for name in variants}
    returned: dict[str, int] = {}
    out: dict[str, list[int]] = {name: [] for name in variants}
    cold: dict[str, float] = {}
    order = list(variants)
    for n in range(rounds + 1):  # round 0: warm-up (Dovecot parses the message for BODYSTRUCTURE once)
        for name in order[n % 2 :] + order[: n % 2]:
            logged = len(_LOGGED_OUT.findall(dovecot.log_text()))
            with Mailbox(config, dovecot.password) as box:
                [uid] = box.uids_after(0)
                started = time.perf_counter()
                returned[name] = variants[name](box, uid)
                took = time.perf_counter() - started
            sent = _sent(dovecot, logged)[1]
            if n:
                times[name].append(took)
                out[name].append(sent)
            else:
                cold[name] = took
    with Mailbox(config, dovecot.password) as box:
        [fetched] = box.fetch(box.uids_after(0))
    started = time.perf_counter()
    mail = parse_mail(fetched.raw, MAX_CHARS, fetched.skipped)
    parse_ms = (time.perf_counter() - started) * 1000
    listed = ", ".join(f"{a.name} ({a.content_type}, {a.size:,} bytes)" for a in fetched.skipped)

    def ms(name: str) -> str:
        return f"{statistics.median(times[name]) * 1000:,.1f} ms p50 · {max(times[name]) * 1000:,.1f} ms max"

    return [
        Row(
            f"(3) {size / 1e6:.0f} MB message: Mailbox.fetch (in parts)",
            ms("parts"),
            notes=f"{rounds} fetches after 1 warm-up, a session each, alternating with the whole fetch (the "
            f"warm-up, the message's first fetch, when Dovecot computes its BODYSTRUCTURE, took "
            f"{cold['parts'] * 1000:,.0f} ms); "
            f"returned {returned['parts']:,} bytes (header + text part); Dovecot sent "
            f"{statistics.median(out['parts']):,.0f} bytes in the session; listed, not fetched: {listed}; "
            f"parse_mail of the parts {parse_ms:.1f} ms, truncated={mail.truncated or bool(fetched.skipped)}",
        ),
        Row(
            f"(3) {size / 1e6:.0f} MB message: BODY.PEEK[] whole (raw imapclient)",
            ms("whole"),
            notes=f"returned {returned['whole']:,} bytes (RFC822.SIZE {size:,}); Dovecot sent "
            f"{statistics.median(out['whole']):,.0f} bytes in the session; ×"
            f"{statistics.median(times['whole']) / statistics.median(times['parts']):,.0f} the time and ×"
            f"{statistics.median(out['whole']) / statistics.median(out['parts']):,.0f} the bytes of the "
            "fetch in parts",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=3, help="inbox_triage passes over the corpus")
    parser.add_argument("--fetch-rounds", type=positive, default=20, help="rounds of fetch / fetch+parse")
    parser.add_argument("--big-rounds", type=positive, default=5, help="fetches of the big message, each way")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    started, load = time.perf_counter(), os.getloadavg()[0]
    from tests.fakes.dovecot import Dovecot
    from tests.fakes.llm_server import FakeLLMServer
    from tests.fakes.mail_corpus import corpus

    dovecot_version = _dovecot_version()
    mails = corpus(big=False)
    names = [m.name for m in mails]
    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with Dovecot(tmp / "dovecot") as dovecot:
            dovecot.deliver_all(m.raw for m in mails)
            os.environ["IMAP_PASSWORD"] = dovecot.password
            rows = _fetch_parse(dovecot, names, args.fetch_rounds)
            with FakeLLMServer(responder=_respond) as llm:
                _config(tmp / "tenure.toml", llm.url, dovecot)
                os.environ.update(
                    TENURE_CONFIG=str(tmp / "tenure.toml"),
                    ANTHROPIC_API_KEY="sk-ant-bench",
                    PREFECT_LOGGING_LEVEL="WARNING",
                )
                os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
                from prefect.testing.utilities import prefect_test_harness

                server_started = time.perf_counter()
                with prefect_test_harness(server_startup_timeout=120):
                    server_s = time.perf_counter() - server_started
                    triaged, requests, written = _triage(tmp, llm, args.rounds, len(mails))
                rows = triaged + rows
        [big] = [m for m in corpus(big=True) if m.kind == "big_attachment"]
        with Dovecot(tmp / "dovecot-big") as dovecot:
            dovecot.deliver(big.raw)
            rows += _big(dovecot, len(big.raw), args.big_rounds)
    elapsed = time.perf_counter() - started
    expected = 3 * (len(mails) * args.rounds + WARMUP_MESSAGES)
    context = (
        context_line(load, LIBRARIES)
        + f" · Dovecot {dovecot_version}"
        + f" · temporary Prefect server start {server_s:.0f} s (not counted)"
        + f" · fake Anthropic saw {requests} requests (expected {expected})"
        + f" · {written} triage rows written"
        + f" · total bench time {elapsed:.0f} s"
    )
    show(rows, context, "Inbox triage: messages per minute; fetch + parse against fetch alone", args.markdown)


if __name__ == "__main__":
    main()
