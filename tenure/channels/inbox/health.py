"""``tenure doctor``'s inbox rows: can tenure log in to the IMAP server, over TLS it trusts?"""

from __future__ import annotations

import ssl

from imapclient.exceptions import IMAPClientError

from tenure.channels.inbox.imap import Mailbox
from tenure.config import TenureConfig
from tenure.doctor import Check
from tenure.secrets import SecretError, resolve

__all__ = ["check_inbox"]


def check_inbox(config: TenureConfig) -> list[Check]:
    """Log in and examine the folder (read-only), as a triage pass would; nothing when not configured."""
    settings = config.channels.imap
    if settings is None:
        return []
    where = f"{settings.host}:{settings.port}"
    try:
        password = resolve(settings.password).get_secret_value()
    except SecretError as exc:
        return [
            Check("inbox", "fail", f"channels.imap.password: {exc}", "store the password where it points")
        ]
    trust = f"the certificate in {settings.ca_file}" if settings.ca_file else "the system's trust store"
    try:
        with Mailbox(settings, password) as box:
            held = f"{settings.folder} holds {box.exists} message(s)"
    except ssl.SSLCertVerificationError as exc:
        fix = "set channels.imap.ca_file to the server's certificate (Proton Bridge: export TLS certificates)"
        return [Check("inbox", "fail", f"{where}: certificate not trusted ({exc.verify_message})", fix)]
    except ssl.SSLError as exc:
        return [Check("inbox", "fail", f"{where}: TLS failed ({exc})", "check channels.imap.security")]
    except IMAPClientError as exc:
        return [
            Check("inbox", "fail", f"{where}: {exc}", "check channels.imap.username, password and folder")
        ]
    except OSError as exc:
        return [
            Check("inbox", "warn", f"{where} not reachable ({exc})", "start Proton Bridge (or the server)")
        ]
    security = (
        "no TLS (loopback)" if settings.security == "plain" else f"{settings.security}, verified with {trust}"
    )
    return [Check("inbox", "ok", f"logged in as {settings.username} on {where} ({security}); {held}")]
