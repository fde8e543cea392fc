"""The Dovecot fake is a real IMAP server: TLS, logins, the corpus, snapshots and UIDVALIDITY resets."""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import imaplib
import re
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .dovecot import Dovecot, DovecotError
from .mail_corpus import (
    ANCHOR,
    ATTACKER_DOMAIN,
    BIG_ATTACHMENT_SIZE,
    HTML_LEAK_SENTINELS,
    LABELS,
    RECIPIENT,
    SPAN,
    CorpusMail,
    corpus,
    write_eml_dir,
)

pytestmark = pytest.mark.slow  # without dovecot these fail, naming the package: CI must not skip them


@pytest.fixture(scope="module")
def mails() -> list[CorpusMail]:
    return corpus(big=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mails: list[CorpusMail]) -> Iterator[Dovecot]:
    """One server per module holding the (small) corpus; tests using it must not change the mailbox."""
    with Dovecot(tmp_path_factory.mktemp("dovecot")) as dovecot:
        dovecot.deliver_all([mail.raw for mail in mails])
        yield dovecot


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Dovecot]:
    """A server of its own (starting one takes a fraction of a second) for tests that change the mailbox."""
    with Dovecot(tmp_path / "dovecot") as dovecot:
        yield dovecot


def _fetch(client: imaplib.IMAP4, items: str, uids: str = "1:*") -> dict[int, tuple[bytes, bytes | None]]:
    """UID FETCH -> {uid: (response line, literal or None)}."""
    typ, data = client.uid("FETCH", uids, items)
    assert typ == "OK", data
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for item in data:
        line, literal = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
        if not isinstance(line, bytes) or line == b")":
            continue
        match = re.search(rb"\bUID (\d+)", line)
        assert match, line
        out[int(match.group(1))] = (line, literal)
    return out


# --- the corpus itself --------------------------------------------------------------------------------------


def test_corpus_has_the_promised_shape(mails: list[CorpusMail]) -> None:
    assert len(mails) >= 60
    assert len({m.name for m in mails}) == len(mails)
    assert all(m.expected_label is None or m.expected_label in LABELS for m in mails)
    assert all(b"\r\n" in m.raw and b"\n" not in m.raw.replace(b"\r\n", b"") for m in mails)  # CRLF only
    kinds = {m.kind for m in mails}
    for kind in [
        "plain",
        "alternative",
        "html_only",
        "base64",
        "quoted_printable",
        "latin1_headers",
        "shift_jis",
        "encoded_words",
        "encoded_words_malformed",
        "truncated_boundary",
        "truncated_base64",
        "duplicate_message_id",
        "no_message_id",
        "empty_body",
        "bad_charset",
        "invalid_utf8",
        "deeply_nested",
        "forwarded",
        "calendar",
        "injection",
        "newsletter",
        "receipt",
        "urgent",
        "spam",
    ]:
        assert kind in kinds, kind
    assert {m.expected_label for m in mails} >= set(LABELS)
    assert "big_attachment" not in kinds


def test_corpus_is_deterministic_and_dumpable(mails: list[CorpusMail], tmp_path: Path) -> None:
    assert [m.raw for m in corpus(big=False)] == [m.raw for m in mails]
    written = write_eml_dir(tmp_path / "eml", mails)
    assert len(written) == len(mails)
    assert written[0].read_bytes() == mails[0].raw
    assert written[0].name.startswith("00-") and written[0].suffix == ".eml"


def test_corpus_dates_spread_over_the_last_days(mails: list[CorpusMail]) -> None:
    dates = []
    for mail in mails:
        header = email.message_from_bytes(mail.raw)["Date"]
        if header is not None:
            dates.append(email.utils.parsedate_to_datetime(header))
    assert len(dates) == len(mails) - 1  # one mail has no Date on purpose
    assert dates == sorted(dates)  # delivery order is date order
    assert dates[0] >= ANCHOR - SPAN and dates[-1] <= ANCHOR
    assert (dates[-1] - dates[0]).days >= 7
    assert len({d.utcoffset() for d in dates}) > 3  # senders in several time zones


def test_corpus_injections(mails: list[CorpusMail]) -> None:
    injections = [m for m in mails if m.injection]
    assert len(injections) >= 12
    assert all(m.kind == "injection" and m.canary for m in injections)
    assert len({m.canary for m in injections}) == len(injections)
    assert all(m.canary is None for m in mails if not m.injection)
    names = {m.name for m in injections}
    for style in [
        "direct",
        "fake_turns",
        "html_comment",
        "hidden_css",
        "base64_payload",
        "subject",
        "tool_call_json",
        "dan",
        "delimiter_escape",
        "multilingual",
        "unicode_obfuscated",
        "api_key",
        "memory_file",
    ]:
        assert f"injection_{style}" in names, style
    escape = next(m for m in injections if m.name == "injection_delimiter_escape").raw
    for marker in (b">>>", b"</mail>", b"```", b"END OF EMAIL"):
        assert marker in escape
    for mail in mails:  # the attacker's domain is only ever inside injected text, never an address
        parsed = email.message_from_bytes(mail.raw, policy=email.policy.compat32)
        addresses = email.utils.getaddresses(
            [str(v) for k in ("From", "To", "Cc") for v in parsed.get_all(k, [])]
        )
        assert not any(addr.endswith(ATTACKER_DOMAIN) for _, addr in addresses), mail.name


def test_corpus_special_cases(mails: list[CorpusMail]) -> None:
    by_name = {m.name: m for m in mails}
    dup_a, dup_b = by_name["duplicate_message_id_a"], by_name["duplicate_message_id_b"]
    assert dup_a.message_id == dup_b.message_id == "<dup-4711@northwind.test>"
    assert dup_a.raw != dup_b.raw
    assert by_name["no_message_id"].message_id is None
    assert b"\x00" in by_name["invalid_utf8_nul"].raw
    assert b'charset="x-unknown"' in by_name["bad_charset"].raw
    assert "Réunion".encode("iso-8859-1") in by_name["latin1_headers"].raw.split(b"\r\n\r\n")[0]
    assert "会議".encode("shift_jis") in by_name["shift_jis_raw"].raw.split(b"\r\n\r\n")[0]
    html = by_name["html_only_offsite"].raw
    assert all(s.encode() in html for s in HTML_LEAK_SENTINELS)
    assert b"text/calendar" in by_name["calendar_invite"].raw
    assert b"message/rfc822" in by_name["forwarded_rfc822"].raw
    assert not by_name["truncated_boundary"].raw.rstrip().endswith(b"--")
    assert all(m.message_id is None or m.message_id.startswith("<") for m in mails)
    assert all(RECIPIENT in m.raw.decode("latin-1") for m in mails)


# --- logins and TLS -----------------------------------------------------------------------------------------


def test_starttls_login_verifies_against_the_test_ca(server: Dovecot) -> None:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        assert "STARTTLS" in client.capabilities
        assert "LOGINDISABLED" not in client.capabilities
        client.starttls(ssl.create_default_context(cafile=str(server.ca_file)))
        sock = client.sock
        assert isinstance(sock, ssl.SSLSocket)
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        cert = sock.getpeercert()
        assert cert is not None
        names = list(cert.get("subjectAltName", ()))
        assert ("DNS", "localhost") in names
        assert ("IP Address", "127.0.0.1") in names
        typ, _ = client.login(server.username, server.password)
        assert typ == "OK"
    finally:
        client.logout()


def test_the_certificate_is_not_trusted_without_the_test_ca(server: Dovecot) -> None:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(ssl.create_default_context())
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()


def test_plain_login_on_loopback(server: Dovecot) -> None:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        assert client.login(server.username, server.password)[0] == "OK"
        assert client.select("INBOX", readonly=True)[0] == "OK"
    finally:
        client.logout()


def test_implicit_tls_login_on_the_ssl_port(server: Dovecot) -> None:
    assert server.ssl_port is not None and server.ssl_port != server.port
    context = ssl.create_default_context(cafile=str(server.ca_file))
    client = imaplib.IMAP4_SSL(server.host, server.ssl_port, ssl_context=context, timeout=10)
    try:
        assert client.login(server.username, server.password)[0] == "OK"
    finally:
        client.logout()
    # localhost is in the certificate too
    with imaplib.IMAP4_SSL("localhost", server.ssl_port, ssl_context=context, timeout=10) as named:
        assert named.login(server.username, server.password)[0] == "OK"


def test_wrong_credentials_fail_fast_and_do_not_slow_later_logins(server: Dovecot) -> None:
    started = time.monotonic()
    for user, password in ((server.username, "wrong"), ("nobody@example.test", server.password)):
        client = server.connect("plain", login=False)
        try:
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                client.login(user, password)
        finally:
            client.shutdown()
    server.connect("starttls").logout()
    assert time.monotonic() - started < 2.0  # no auth failure delay, no anvil penalty


def test_connect_helper_for_every_security(server: Dovecot) -> None:
    for security in ("starttls", "imaps", "plain"):
        client = server.connect(security)
        try:
            assert client.state == "AUTH"
            assert isinstance(client.sock, ssl.SSLSocket) == (security != "plain")
        finally:
            client.logout()


# --- the corpus on the server -------------------------------------------------------------------------------


def test_every_mail_is_delivered_in_order(server: Dovecot, mails: list[CorpusMail]) -> None:
    snap = server.snapshot()
    assert snap["count"] == len(mails)
    assert list(snap["sizes"]) == list(range(1, len(mails) + 1))
    assert snap["uidnext"] == len(mails) + 1
    assert list(snap["sizes"].values()) == [len(m.raw) for m in mails]  # CRLF mail: RFC822.SIZE == bytes
    assert all(flags == () for flags in snap["flags"].values())


def test_messages_round_trip_byte_for_byte(server: Dovecot, mails: list[CorpusMail]) -> None:
    client = server.connect("plain")
    try:
        client.select("INBOX", readonly=True)
        fetched = _fetch(client, "(BODY.PEEK[])")
    finally:
        client.logout()
    for uid, mail in enumerate(mails, start=1):
        body = fetched[uid][1]
        if b"\x00" in mail.raw:  # IMAP cannot carry NUL in a literal: Dovecot sends 0x80 instead
            assert body == mail.raw.replace(b"\x00", b"\x80"), mail.name
        else:
            assert body == mail.raw, mail.name


def test_envelopes_carry_the_message_ids(server: Dovecot, mails: list[CorpusMail]) -> None:
    client = server.connect("plain")
    try:
        client.select("INBOX", readonly=True)
        fetched = _fetch(client, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    finally:
        client.logout()
    for uid, mail in enumerate(mails, start=1):
        header = (fetched[uid][1] or b"").decode().strip()
        found = re.sub(r"\s+", "", header.partition(":")[2]) or None
        assert found == mail.message_id, mail.name


def test_examine_leaves_seen_unset(server: Dovecot, mails: list[CorpusMail]) -> None:
    before = server.snapshot()
    client = server.connect("starttls")
    try:
        assert client.select("INBOX", readonly=True)[0] == "OK"  # EXAMINE
        fetched = _fetch(client, "(FLAGS BODY[])", uids=f"1:{len(mails)}")  # not PEEK: would set \Seen
        assert len(fetched) == len(mails)
        assert not any(b"\\Seen" in line for line, _ in fetched.values())
    finally:
        client.logout()
    after = server.snapshot()
    assert after == before
    assert not any("\\Seen" in flags for flags in after["flags"].values())


def test_snapshot_is_stable(server: Dovecot) -> None:
    first = server.snapshot()
    assert server.snapshot() == first
    assert first["uidvalidity"] > 0 and first["highestmodseq"] > 0


# --- helpers that change the mailbox ------------------------------------------------------------------------


def test_snapshot_notices_a_changed_flag_but_not_a_peek(fresh: Dovecot, mails: list[CorpusMail]) -> None:
    fresh.deliver_all([m.raw for m in mails[:3]])
    before = fresh.snapshot()
    client = fresh.connect("plain")
    try:
        client.select("INBOX")  # read-write: clears \Recent, which the snapshot ignores
        _fetch(client, "(BODY.PEEK[])")
        assert fresh.snapshot() == before
        assert client.uid("STORE", "2", "+FLAGS", "(\\Flagged)")[0] == "OK"
    finally:
        client.logout()
    after = fresh.snapshot()
    assert after["flags"][2] == ("\\Flagged",)
    assert after["highestmodseq"] > before["highestmodseq"]
    assert {**after, "flags": before["flags"], "highestmodseq": 0} == {**before, "highestmodseq": 0}


def test_deliver_with_flags_and_dates(fresh: Dovecot, mails: list[CorpusMail]) -> None:
    dated = next(m for m in mails if m.name == "fyi_team_update")
    fresh.deliver(dated.raw)
    fresh.deliver(mails[1].raw, flags="S")
    fresh.deliver(mails[2].raw, flags="FS")
    with pytest.raises(ValueError, match="DFPRST"):
        fresh.deliver(b"x", flags="\\Seen")
    snap = fresh.snapshot()
    assert snap["flags"] == {1: (), 2: ("\\Seen",), 3: ("\\Flagged", "\\Seen")}
    assert sorted(p.parent.name for p in fresh.maildir.glob("*/*") if p.is_file()) == ["cur", "cur", "new"]

    client = fresh.connect("plain")
    try:
        client.select("INBOX", readonly=True)
        line = _fetch(client, "(INTERNALDATE)", uids="1")[1][0]
    finally:
        client.logout()
    internal = imaplib.Internaldate2tuple(line)
    assert internal is not None
    header_date = email.utils.parsedate_to_datetime(email.message_from_bytes(dated.raw)["Date"])
    assert time.mktime(internal) == header_date.timestamp()

    fresh.deliver(mails[3].raw)  # a delivery between two looks is picked up at once
    assert fresh.snapshot()["count"] == 4


def test_reset_uidvalidity_keeps_the_messages(fresh: Dovecot, mails: list[CorpusMail]) -> None:
    fresh.deliver_all([m.raw for m in mails[:5]])
    fresh.deliver(mails[5].raw, flags="S")
    before = fresh.snapshot()
    new = fresh.reset_uidvalidity()
    after = fresh.snapshot()
    assert new == after["uidvalidity"] != before["uidvalidity"]
    assert after["count"] == before["count"] == 6
    assert after["flags"] == before["flags"] and after["sizes"] == before["sizes"]
    assert fresh.reset_uidvalidity() != new  # and again


def test_the_big_message_is_stored(fresh: Dovecot) -> None:
    big_corpus = corpus(big=True)
    big = next(m for m in big_corpus if m.kind == "big_attachment")
    assert len(big.raw) > 34_000_000
    started = time.monotonic()
    fresh.deliver_all([m.raw for m in big_corpus])
    snap = fresh.snapshot()
    assert snap["count"] == len(big_corpus)
    uid = [m.name for m in big_corpus].index(big.name) + 1
    assert snap["sizes"][uid] == len(big.raw) > 25_000_000
    assert time.monotonic() - started < 60
    message = email.message_from_bytes(big.raw, policy=email.policy.default)
    attachment = next(iter(message.iter_attachments()))
    assert len(attachment.get_content()) == BIG_ATTACHMENT_SIZE


# --- lifecycle ----------------------------------------------------------------------------------------------


def test_context_manager_stops_the_server_and_removes_its_directory() -> None:
    with Dovecot(imaps=False) as dovecot:
        assert dovecot.ssl_port is None
        assert dovecot.running
        port, directory = dovecot.port, dovecot.directory
        assert "starting up" in dovecot.log_text()
    assert not dovecot.running
    assert not directory.exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_openssl_certificates_work_too(tmp_path: Path) -> None:
    with Dovecot(tmp_path / "d", certificates="openssl") as dovecot:
        assert (dovecot.directory / "tls" / "ca.key").exists()  # made by the openssl CLI
        dovecot.connect("starttls").logout()
        dovecot.connect("imaps").logout()


def test_a_server_that_cannot_start_raises_with_the_log_tail(tmp_path: Path) -> None:
    directory = tmp_path / "broken"
    Dovecot(directory).start().stop()  # a directory keeps its CA and certificate across restarts...
    (directory / "tls" / "server.pem").write_text("not a certificate\n")  # ...now a broken one
    dovecot = Dovecot(directory, start_timeout=10)
    try:
        with pytest.raises(DovecotError, match=r"TLS handshake(.|\n)*Can't load SSL certificate"):
            dovecot.start()
        assert not dovecot.running
    finally:
        dovecot.stop()
