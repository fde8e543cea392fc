"""Service definitions rendered as files: a launchd agent (macOS) or a systemd user unit (Linux) per
service, and where each supervisor looks for them. Pure: nothing is written or started here."""

from __future__ import annotations

import os
import plistlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Platform", "Service", "ServiceFile", "default_dir", "launchd_plist", "plan", "systemd_unit"]

Platform = Literal["launchd", "systemd"]


@dataclass(frozen=True)
class Service:
    """One long-running tenure process, described once and rendered for either supervisor."""

    name: str
    """``tenure-server``: the systemd unit's stem and the log files' stem."""
    argv: tuple[str, ...]
    env: dict[str, str]
    home: Path
    """TENURE_HOME, absolute: the working directory and the parent of ``logs/``."""
    description: str
    after: tuple[str, ...] = ()
    """Services (by name) this one needs started first; systemd honours it, launchd has no ordering."""

    @property
    def label(self) -> str:
        """The launchd label: ``tenure-server`` → ``dev.tenure.server``."""
        return "dev.tenure." + self.name.removeprefix("tenure-")

    @property
    def unit(self) -> str:
        return f"{self.name}.service"

    @property
    def log(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    @property
    def err_log(self) -> Path:
        return self.home / "logs" / f"{self.name}.err.log"


def launchd_plist(service: Service) -> bytes:
    """A LaunchAgent: started at login and kept alive (launchd restarts it whenever it exits)."""
    return plistlib.dumps(
        {
            "Label": service.label,
            "ProgramArguments": list(service.argv),
            "EnvironmentVariables": dict(service.env),
            "WorkingDirectory": str(service.home),
            "RunAtLoad": True,
            "KeepAlive": True,
            "StandardOutPath": str(service.log),
            "StandardErrorPath": str(service.err_log),
        },
        sort_keys=False,
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NEEDS_QUOTES = re.compile(r"""[\s"'\\;]""")


def _plain(value: str) -> str:
    """A value systemd takes to the end of the line (paths, descriptions): only ``%`` is special."""
    if _CONTROL.search(value):
        raise ValueError(f"a control character cannot go into a unit file: {value!r}")
    return value.replace("%", "%%")


def _quoted(value: str) -> str:
    """A double-quoted systemd word: backslash and quote escaped, ``%`` doubled (a specifier otherwise)."""
    return '"' + _plain(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exec_word(arg: str) -> str:
    """One ExecStart argument: ``$`` doubled (variable expansion otherwise), quoted only when needed."""
    arg = arg.replace("$", "$$")
    return _quoted(arg) if not arg or _NEEDS_QUOTES.search(arg) else _plain(arg)


def systemd_unit(service: Service) -> str:
    """A user unit: restarted 5 s after a failure, logs appended under TENURE_HOME/logs."""
    unit = ["[Unit]", f"Description={_plain(service.description)}"]
    if service.after:
        needs = " ".join(f"{name}.service" for name in service.after)
        unit += [f"After={needs}", f"Wants={needs}"]
    unit += [
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_exec_word(a) for a in service.argv),
        *(f"Environment={_quoted(f'{k}={v}')}" for k, v in service.env.items()),
        f"WorkingDirectory={_plain(str(service.home))}",
        "Restart=on-failure",
        "RestartSec=5",
        f"StandardOutput=append:{_plain(str(service.log))}",
        f"StandardError=append:{_plain(str(service.err_log))}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(unit)


@dataclass(frozen=True)
class ServiceFile:
    service: Service
    path: Path
    content: bytes


def default_dir(platform: Platform) -> Path:
    """Where the supervisor looks for a user's services."""
    if platform == "launchd":
        return Path.home() / "Library" / "LaunchAgents"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def plan(svcs: Sequence[Service], platform: Platform, directory: Path | None = None) -> list[ServiceFile]:
    """The files ``install`` would write, with their content; nothing is written."""
    folder = directory or default_dir(platform)
    if platform == "launchd":
        return [ServiceFile(s, folder / f"{s.label}.plist", launchd_plist(s)) for s in svcs]
    return [ServiceFile(s, folder / s.unit, systemd_unit(s).encode()) for s in svcs]
