"""A real, throwaway Dovecot IMAP server on loopback, for tests of code that reads a mailbox.

:class:`Dovecot` writes a self-contained ``dovecot.conf`` into a temporary directory (no ``!include
conf.d``, no system paths besides the binaries and their plugin directory) and runs ``dovecot -F`` in its
own process group, as the current user, so it works as root and as an ordinary user::

    with Dovecot() as server:
        server.deliver(raw_message_bytes)
        before = server.snapshot()  # count, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, flags and size per UID
        run_triage(host=server.host, port=server.port, ca_file=server.ca_file, ...)
        assert server.snapshot() == before  # the code under test changed nothing

:meth:`Dovecot.connect` gives a logged-in :mod:`imaplib` client (STARTTLS verified against ``ca_file``,
implicit TLS, or plain) for checks of your own; :meth:`Dovecot.reset_uidvalidity` renumbers the mailbox
the way a rebuilt server index does.

It listens on 127.0.0.1 only: IMAP on ``port`` (plaintext login allowed, STARTTLS offered) and, unless
``imaps=False``, implicit-TLS IMAPS on ``ssl_port``. The certificate is for ``localhost`` and
``127.0.0.1``, signed by a test CA generated at start (``ca_file``; with the ``cryptography`` package when
importable, else the ``openssl`` CLI). One user (``username`` / ``password``) with its Maildir INBOX at
``maildir``.

Requires Dovecot 2.3 (Debian/Ubuntu: ``apt-get install dovecot-imapd``); :func:`dovecot_binary` returns
``None`` when it is missing so test modules can skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import grp
import imaplib
import importlib.util
import ipaddress
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Literal, TypedDict

__all__ = ["Dovecot", "DovecotError", "InboxSnapshot", "dovecot_binary"]

Security = Literal["starttls", "imaps", "plain"]

_SOCKET_PATH_BUDGET = 70  # AF_UNIX paths are limited to 107 bytes; dovecot appends up to ~30
_LOG_TAIL_LINES = 40
_STOP_TIMEOUT = 10.0


class DovecotError(RuntimeError):
    """Dovecot failed to start, or a helper's command against it failed."""


class InboxSnapshot(TypedDict):
    """The server's view of INBOX (see :meth:`Dovecot.snapshot`)."""

    count: int
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    flags: dict[int, tuple[str, ...]]
    """Each UID's flags, sorted, without the session-specific ``\\Recent``."""
    sizes: dict[int, int]
    """Each UID's RFC822.SIZE."""


def dovecot_binary() -> str | None:
    """Path of the ``dovecot`` master binary, or ``None`` if Dovecot is not installed."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(p).is_file()), None
    )


def _doveadm_binary() -> str:
    found = shutil.which("doveadm") or next(
        (p for p in ("/usr/bin/doveadm", "/usr/local/bin/doveadm") if Path(p).is_file()), None
    )
    if found is None:
        raise DovecotError("doveadm not found (install dovecot-core)")
    return found


def _unprivileged_user() -> str:
    """For a server started by root: login processes refuse to run as root."""
    for name in ("dovenull", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise DovecotError("running as root, but there is neither a dovenull nor a nobody user for imap-login")


def _mail_ids() -> tuple[int, int]:
    """uid and gid for mail processes of a server started by root (Dovecot refuses uid 0 for mail)."""
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    return 65534, 65534


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# --- the test CA and server certificate ---------------------------------------------------------------------


def _write_certificates_cryptography(directory: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tenure test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (directory / "server.pem").write_bytes(cert.public_bytes(pem))
    key_path = directory / "server.key"
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)


def _write_certificates_openssl(directory: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DovecotError("neither the cryptography package nor the openssl CLI is available")

    def run(*args: str) -> None:
        done = subprocess.run([openssl, *args], cwd=directory, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DovecotError(f"openssl {args[0]} failed: {done.stderr.strip()}")

    (directory / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj",
        "/CN=tenure test CA", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")  # fmt: skip
    run("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "30", "-sha256", "-extfile", "server.ext")  # fmt: skip
    (directory / "server.key").chmod(0o600)


def _write_certificates(directory: Path, backend: str = "auto") -> None:
    """``ca.pem``, ``server.pem`` and ``server.key`` in ``directory``, made with ``backend``:
    ``"cryptography"``, ``"openssl"`` (the CLI) or ``"auto"`` (the package when importable)."""
    if backend == "auto":
        backend = "cryptography" if importlib.util.find_spec("cryptography") is not None else "openssl"
    if backend == "cryptography":
        _write_certificates_cryptography(directory)
    else:
        _write_certificates_openssl(directory)


# --- the server ---------------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    """A dovecot.conf value in double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dovecot:
    """A real Dovecot IMAP server on 127.0.0.1 with one Maildir user, all state under one directory.

    ``directory`` (created if missing) holds the configuration, certificates, log, state and the user's
    home; by default a fresh temporary directory that :meth:`stop` removes (a given directory is kept, and
    a later instance on it reuses its CA and certificate). Two exceptions go to a short scratch directory
    that :meth:`stop` removes: ``base_dir`` (the unix sockets) when ``directory``'s path is too long for
    them, and, when running as root with a given ``directory``, the home: Dovecot refuses to run mail
    processes as root, so they run as ``nobody``, who must be able to reach the home (pytest's tmp_path
    lies inside a 0700 directory). ``mail_uid`` / ``mail_gid`` say who owns the Maildir.

    An instance starts once; start a new one (on the same ``directory``) to restart.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        username: str = "me@example.test",
        password: str = "s3cret",
        imaps: bool = True,
        certificates: Literal["auto", "cryptography", "openssl"] = "auto",
        start_timeout: float = 30.0,
    ) -> None:
        self.host = "127.0.0.1"
        self.username = username
        self.password = password
        self.start_timeout = start_timeout
        self._imaps = imaps
        self._certificates = certificates
        self._owns_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="dovecot-")) if directory is None else Path(directory)
        self.port = 0
        self.ssl_port: int | None = None
        self.conf_path = self.directory / "dovecot.conf"
        self.log_path = self.directory / "dovecot.log"
        self.ca_file = self.directory / "tls" / "ca.pem"
        self._as_root = os.geteuid() == 0
        self.mail_uid, self.mail_gid = _mail_ids() if self._as_root else (os.getuid(), os.getgid())
        if self._owns_directory:
            self.directory.chmod(0o711)
        run_dir = self.directory / "run"
        need_short_run = len(str(run_dir)) > _SOCKET_PATH_BUDGET
        need_reachable_home = self._as_root and not self._owns_directory
        self._scratch = (
            Path(tempfile.mkdtemp(prefix="dovecot-")) if need_short_run or need_reachable_home else None
        )
        if self._scratch is not None:
            self._scratch.chmod(0o711)
        self.base_dir = self._scratch / "run" if need_short_run and self._scratch else run_dir
        home_root = self._scratch if need_reachable_home and self._scratch else self.directory
        self.home = home_root / "home" / username
        self.maildir = self.home / "Maildir"
        self._process: subprocess.Popen[bytes] | None = None
        self._sequence = itertools.count()
        self._last_stamp = 0
        self._lock = threading.Lock()

    # -- lifecycle --

    @property
    def running(self) -> bool:
        """The master process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Dovecot:
        """Write the configuration and start the server; return once it greets on ``port``."""
        binary = dovecot_binary()
        if binary is None:
            raise DovecotError("dovecot not found (install dovecot-imapd)")
        if self._process is not None:
            raise DovecotError("already started")
        tls_dir = self.directory / "tls"
        for path in (self.directory, tls_dir, self.directory / "state", self.base_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._prepare_maildir()
        if not self.ca_file.exists():
            _write_certificates(tls_dir, self._certificates)
        passwd = self.directory / "users.passwd"
        passwd.write_text(f"{self.username}:{{PLAIN}}{self.password}::::::\n")
        passwd.chmod(0o600)

        last_error: DovecotError | None = None
        for _attempt in range(3):  # a port picked by _free_ports can be taken before dovecot binds it
            ports = _free_ports(2 if self._imaps else 1)
            self.port, self.ssl_port = ports[0], (ports[1] if self._imaps else None)
            self.conf_path.write_text(self._config())
            self.log_path.write_bytes(b"")
            self._process = subprocess.Popen(
                [binary, "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                self._wait_ready()
                return self
            except DovecotError as exc:
                self._terminate()
                last_error = exc
                if "in use" not in str(exc):
                    break
        assert last_error is not None
        raise last_error

    def _prepare_maildir(self) -> None:
        paths = [
            self.home.parent,
            self.home,
            self.maildir,
            *(self.maildir / s for s in ("cur", "new", "tmp")),
        ]
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if self._as_root:
                os.chown(path, self.mail_uid, self.mail_gid)

    def stop(self) -> None:
        """Terminate the server's process group and wait; remove the directory if it was ours."""
        self._terminate()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # children outlive a master killed hard; take the rest of the group down too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> Dovecot:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise DovecotError(
                    f"dovecot exited with status {self._process.returncode}:\n{self._log_tail()}"
                )
            if "Fatal: " in self.log_text():
                raise DovecotError(f"dovecot failed to start:\n{self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    sock.settimeout(max(0.5, deadline - time.monotonic()))
                    greeting = sock.makefile("rb").readline()
                if greeting.startswith(b"* OK"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DovecotError(f"dovecot did not greet on port {self.port}:\n{self._log_tail()}")
            time.sleep(0.05)
        self._check_tls()

    def _check_tls(self) -> None:
        """One verified TLS handshake (IMAPS, else STARTTLS), so a broken certificate fails start()."""
        try:
            self.connect("imaps" if self.ssl_port else "starttls", login=False, timeout=10).logout()
        except (OSError, imaplib.IMAP4.error) as exc:  # ssl.SSLError is an OSError
            time.sleep(0.1)  # let the login process's error reach the log
            raise DovecotError(f"TLS handshake with dovecot failed ({exc}):\n{self._log_tail()}") from exc

    def _config(self) -> str:
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        login_user = _unprivileged_user() if os.getuid() == 0 else user
        tls, home = self.directory / "tls", self.home.parent
        imaps = (
            f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.ssl_port}\n"
            "    ssl = yes\n  }\n"
            if self.ssl_port
            else "  inet_listener imaps {\n    port = 0\n  }\n"
        )
        return f"""# written by tests/fakes/dovecot.py
protocols = imap
listen = 127.0.0.1
base_dir = {_quote(str(self.base_dir))}
state_dir = {_quote(str(self.directory / "state"))}
instance_name = {_quote("dovecot-test-" + self.directory.name)}
log_path = {_quote(str(self.log_path))}
info_log_path = {_quote(str(self.log_path))}
debug_log_path = {_quote(str(self.log_path))}
log_timestamp = "%Y-%m-%d %H:%M:%S "

default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = {min(self.mail_uid, os.getuid()) or 1}
last_valid_uid = 0
first_valid_gid = {min(self.mail_gid, os.getgid()) or 1}
last_valid_gid = 0

ssl = yes
ssl_cert = <{tls / "server.pem"}
ssl_key = <{tls / "server.key"}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
auth_cache_size = 0

# Fail wrong logins at once, with no anvil penalty (which would delay every later login from 127.0.0.1 by
# seconds): this passdb only adds the "nodelay" field, then the lookup continues to the real one.
passdb {{
  driver = static
  args = noauthenticate nodelay=yes
  result_success = continue
  result_failure = continue
  result_internalfail = continue
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.directory / "users.passwd"}
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={home}/%u
}}

mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
{imaps}}}
service anvil {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
"""

    # -- observation --

    def log_text(self) -> str:
        """Everything Dovecot has logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self) -> str:
        return "\n".join(self.log_text().splitlines()[-_LOG_TAIL_LINES:]) or "(log is empty)"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA (hostname checking on)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def connect(
        self, security: Security = "starttls", *, login: bool = True, timeout: float = 30.0
    ) -> imaplib.IMAP4:
        """An :mod:`imaplib` client: ``"starttls"`` (verified against ``ca_file``), ``"imaps"`` on
        ``ssl_port``, or ``"plain"`` (no TLS, allowed on loopback); logged in unless ``login=False``."""
        if security == "imaps":
            if self.ssl_port is None:
                raise DovecotError("started with imaps=False")
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                self.host, self.ssl_port, ssl_context=self.ssl_context(), timeout=timeout
            )
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=timeout)
            if security == "starttls":
                client.starttls(self.ssl_context())
        if login:
            try:
                client.login(self.username, self.password)
            except BaseException:
                with contextlib.suppress(Exception):
                    client.logout()
                raise
        return client

    def snapshot(self) -> InboxSnapshot:
        """The server's view of INBOX over IMAP, without changing it (STATUS, EXAMINE, UID FETCH).

        ``\\Recent`` is left out of the flags: it is per session, and a client's SELECT legitimately clears
        it. Everything else (count, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, flags and sizes) changes when a
        client stores a flag, appends, copies, moves or expunges.
        """
        client = self.connect("plain")
        try:
            typ, data = client.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
            _check(typ, data, "STATUS")
            status = _parse_status(data[0])
            typ, data = client.select("INBOX", readonly=True)
            _check(typ, data, "EXAMINE")
            count = int(data[0] or b"0")
            flags: dict[int, tuple[str, ...]] = {}
            sizes: dict[int, int] = {}
            if count:
                typ, data = client.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE)")
                _check(typ, data, "UID FETCH")
                for item in data:
                    line = item[0] if isinstance(item, tuple) else item
                    if not isinstance(line, bytes):
                        continue
                    uid, message_flags, size = _parse_fetch(line)
                    flags[uid] = message_flags
                    sizes[uid] = size
            return InboxSnapshot(
                count=count,
                uidvalidity=status["UIDVALIDITY"],
                uidnext=status["UIDNEXT"],
                highestmodseq=status.get("HIGHESTMODSEQ", 0),
                flags=dict(sorted(flags.items())),
                sizes=dict(sorted(sizes.items())),
            )
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    # -- mutation --

    def deliver(self, raw: bytes, flags: str = "", *, received: dt.datetime | None = None) -> str:
        """Write one message into the INBOX Maildir, atomically (``tmp/`` then rename), and return its file
        name; Dovecot assigns UIDs in delivery order when a client next looks.

        Without ``flags`` it lands in ``new/`` (unseen, recent); with Maildir info flags (letters from
        ``DFPRST``, e.g. ``"S"`` for ``\\Seen``, ``"FS"``) in ``cur/`` as ``<name>:2,<flags>``. The file's
        mtime, which Dovecot reports as INTERNALDATE, is ``received`` or else the ``Date:`` header.
        """
        if set(flags) - set("DFPRST"):
            raise ValueError(f"Maildir flags are letters from DFPRST, got {flags!r}")
        if not (self.maildir / "tmp").is_dir():
            self._prepare_maildir()
        name = self._unique_name()
        tmp = self.maildir / "tmp" / name
        with tmp.open("xb") as handle:
            handle.write(raw)
        if self._as_root:
            os.chown(tmp, self.mail_uid, self.mail_gid)
        when = received or _header_date(raw)
        if when is not None:
            stamp = when.timestamp()
            os.utime(tmp, (stamp, stamp))
        if flags:
            final = self.maildir / "cur" / f"{name}:2,{''.join(sorted(set(flags)))}"
        else:
            final = self.maildir / "new" / name
        tmp.rename(final)
        return final.name

    def deliver_all(self, raws: Iterable[bytes]) -> None:
        """:meth:`deliver` each message, in order."""
        for raw in raws:
            self.deliver(raw)

    def _unique_name(self) -> str:
        # Dovecot numbers new files in the order of the <secs>.M<usecs> prefix (then by plain string
        # comparison), so keep that prefix strictly increasing: UIDs then follow delivery order.
        with self._lock:
            stamp = max(time.time_ns() // 1000, self._last_stamp + 1)
            self._last_stamp = stamp
            secs, usecs = divmod(stamp, 1_000_000)
            return f"{secs}.M{usecs}P{os.getpid()}Q{next(self._sequence)}.dovecot-test"

    def doveadm(self, *args: str, stdin: bytes | None = None) -> str:
        """Run ``doveadm -c <conf> <args...>`` and return its stdout; raise with stderr on failure."""
        command = [_doveadm_binary(), "-c", str(self.conf_path), *args]
        done = subprocess.run(command, input=stdin, capture_output=True, check=False, timeout=120)
        if done.returncode != 0:
            raise DovecotError(
                f"{' '.join(command[3:])} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
            )
        return done.stdout.decode(errors="replace")

    def uidvalidity(self) -> int:
        """INBOX's UIDVALIDITY, over IMAP."""
        return self.snapshot()["uidvalidity"]

    def reset_uidvalidity(self) -> int:
        """Give INBOX a new UIDVALIDITY (same messages, same UIDs) and return it, as a server would after
        its index was rebuilt; a client that cached UIDs must notice and resync."""
        old = self.uidvalidity()
        new = old + 1 if old < 0xFFFF_FFFF else 1
        self.doveadm("mailbox", "update", "-u", self.username, "--uid-validity", str(new), "INBOX")
        current = self.uidvalidity()
        if current != new:
            raise DovecotError(f"UIDVALIDITY is {current} after setting it to {new} (was {old})")
        return current


# --- IMAP response parsing ----------------------------------------------------------------------------------


def _check(typ: str, data: list, what: str) -> None:
    if typ != "OK":
        raise DovecotError(f"{what} failed: {typ} {data!r}")


def _parse_status(line: bytes) -> dict[str, int]:
    inner = line[line.index(b"(") + 1 : line.rindex(b")")].split()
    return {inner[i].decode().upper(): int(inner[i + 1]) for i in range(0, len(inner) - 1, 2)}


_FETCH_UID = re.compile(rb"\bUID (\d+)")
_FETCH_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _parse_fetch(line: bytes) -> tuple[int, tuple[str, ...], int]:
    uid, flags, size = _FETCH_UID.search(line), _FETCH_FLAGS.search(line), _FETCH_SIZE.search(line)
    if uid is None or flags is None or size is None:
        raise DovecotError(f"unexpected FETCH response {line!r}")
    names = sorted(f for f in flags.group(1).decode().split() if f != "\\Recent")
    return int(uid.group(1)), tuple(names), int(size.group(1))


def _header_date(raw: bytes) -> dt.datetime | None:
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"^Date:[ \t]*(.+(?:\r?\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
    if match is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(match.group(1).decode("ascii", "replace").strip())
    except (TypeError, ValueError, IndexError):
        return None
