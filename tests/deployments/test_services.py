"""Service files for launchd and systemd: what they say, that the supervisor would accept them, and what
install/uninstall/status ask of it. Every supervisor command goes to a recording runner and every file
to a temporary folder: no test touches the real home, systemctl or launchctl."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tenure.cli.service import service_app
from tenure.config import TenureConfig, parse_config
from tenure.deployments.services import (
    Ran,
    Service,
    install,
    launchd_plist,
    plan,
    services,
    status,
    systemd_unit,
    uninstall,
    worker_only,
)

PYTHON = sys.executable
REMOTE = "http://first-machine.lan:4200/api"
"""The first machine's API, as a second machine's PREFECT_API_URL names it (docs/scale-out.md)."""


class Recorder:
    """A supervisor stand-in: records each command and answers from ``replies`` (argv prefix → reply)."""

    def __init__(self, replies: dict[tuple[str, ...], tuple[int, str]] | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.replies = replies or {}

    def __call__(self, argv: Sequence[str]) -> Ran:
        argv = tuple(argv)
        self.calls.append(argv)
        for prefix, (code, output) in self.replies.items():
            if argv[: len(prefix)] == prefix:
                return Ran(argv, code, output)
        return Ran(argv, 0, "")


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section → key → values (a key may repeat, as Environment= does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif line.strip() and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def unquote(words: str) -> list[str]:
    """Undo systemd's quoting for the subset services.py writes: "…" with \\\\ and \\" escapes (the
    shell's double-quote rules agree on those), then %% and $$ (specifier and variable escapes)."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(words)]


def environment(unit: dict[str, dict[str, list[str]]]) -> dict[str, str]:
    pairs = [unquote(v)[0].partition("=") for v in unit["Service"]["Environment"]]
    return {k: v for k, _, v in pairs}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "tenure home"


@pytest.fixture
def pair(home: Path) -> tuple[Service, Service]:
    server, worker = services(TenureConfig(), home, platform="systemd")
    return server, worker


def test_launchd_plists_round_trip_with_label_argv_env_and_logs(home: Path):
    server, worker = services(TenureConfig(), home, platform="launchd")
    for service, label, role in (
        (server, "dev.tenure.server", "server"),
        (worker, "dev.tenure.worker", "worker"),
    ):
        plist = plistlib.loads(launchd_plist(service))
        assert plist["Label"] == label
        assert plist["ProgramArguments"] == [PYTHON, "-m", "tenure.cli", "serve", role]
        env = plist["EnvironmentVariables"]
        assert env["TENURE_HOME"] == str(home)
        assert env["PREFECT_HOME"] == str(home / "prefect")
        assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4200/api"
        assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["HF_HUB_OFFLINE"] == "1"
        assert "TENURE_CONFIG" not in env  # not set: the service finds $TENURE_HOME/tenure.toml itself
        assert env["PATH"].split(os.pathsep)[0] == str(Path(PYTHON).parent)
        assert plist["RunAtLoad"] is True and plist["KeepAlive"] is True
        assert plist["WorkingDirectory"] == str(home)
        assert plist["StandardOutPath"] == str(home / "logs" / f"tenure-{role}.log")
        assert plist["StandardErrorPath"] == str(home / "logs" / f"tenure-{role}.err.log")


def test_systemd_units_restart_on_failure_and_start_the_worker_after_the_server(
    pair: tuple[Service, Service],
):
    server, worker = (parse_unit(systemd_unit(s)) for s in pair)
    assert "After" not in server["Unit"]
    assert worker["Unit"]["After"] == worker["Unit"]["Wants"] == ["tenure-server.service"]
    for unit, role in ((server, "server"), (worker, "worker")):
        assert unit["Service"]["Restart"] == ["on-failure"] and unit["Service"]["RestartSec"] == ["5"]
        assert unquote(unit["Service"]["ExecStart"][0]) == [PYTHON, "-m", "tenure.cli", "serve", role]
        env = environment(unit)
        assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4200/api"
        assert env["TENURE_HOME"] == str(pair[0].home)
        assert unit["Service"]["StandardOutput"] == [f"append:{pair[0].home}/logs/tenure-{role}.log"]
        assert unit["Service"]["StandardError"] == [f"append:{pair[0].home}/logs/tenure-{role}.err.log"]
        assert unit["Install"]["WantedBy"] == ["default.target"]


def test_paths_with_spaces_quotes_percent_and_dollar_survive_systemd_quoting(tmp_path: Path):
    odd_home = tmp_path / 'my "100%" $HOME'
    odd_python = str(tmp_path / "py dir" / "bin" / "python")
    config_file = tmp_path / "conf dir" / "tenure.toml"
    server, _ = services(
        TenureConfig(), odd_home, config_file=config_file, python=odd_python, platform="systemd"
    )
    unit = parse_unit(systemd_unit(server))
    exec_start = unit["Service"]["ExecStart"][0]
    assert exec_start.startswith(f'"{odd_python}" ')  # the path with a space is one quoted word
    assert unquote(exec_start) == [odd_python, "-m", "tenure.cli", "serve", "server"]
    env = environment(unit)
    assert env["TENURE_HOME"] == str(odd_home) and env["TENURE_CONFIG"] == str(config_file)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(odd_python).parent)
    assert unit["Service"]["WorkingDirectory"] == [str(odd_home).replace("%", "%%")]


def test_a_control_character_in_a_path_is_refused_rather_than_written(tmp_path: Path):
    server, _ = services(TenureConfig(), tmp_path / "bad\nhome", platform="systemd")
    with pytest.raises(ValueError, match="control character"):
        systemd_unit(server)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on PATH")
@pytest.mark.parametrize("alone", [False, True], ids=["server-and-worker", "worker-only"])
def test_systemd_analyze_verifies_the_units(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alone: bool):
    """systemd's own parser: the executable must exist (a python behind a path with a space) and every
    line must parse; a bad line is only a warning on stderr, so the output is checked too."""
    python = tmp_path / "py dir" / "python"
    python.parent.mkdir()
    python.symlink_to(PYTHON)
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    svcs = (
        (worker_only(TenureConfig(), tmp_path / "home 100%", platform="systemd"),)
        if alone
        else services(TenureConfig(), tmp_path / "home 100%", python=str(python), platform="systemd")
    )
    files = plan(svcs, "systemd", tmp_path / "units")
    (tmp_path / "units").mkdir()
    for f in files:
        f.path.write_bytes(f.content)
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}
    paths = [str(f.path) for f in files]
    run = subprocess.run(
        ["systemd-analyze", "verify", "--user", *paths], capture_output=True, text=True, env=env, timeout=60
    )
    if "Failed to initialize manager" in run.stderr:  # no user manager possible here: the system one
        run = subprocess.run(
            ["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60
        )
    complaints = [line for line in (run.stdout + run.stderr).splitlines() if "tenure-" in line]
    assert run.returncode == 0 and complaints == [], run.stdout + run.stderr


def test_install_writes_both_units_then_reloads_and_enables_them(
    tmp_path: Path, pair: tuple[Service, Service]
):
    runner = Recorder()
    outcome = install(pair, platform="systemd", directory=tmp_path / "units", runner=runner)
    assert outcome.ok and outcome.manual == []
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == [
        "tenure-server.service",
        "tenure-worker.service",
    ]
    assert outcome.files == [
        tmp_path / "units" / "tenure-server.service",
        tmp_path / "units" / "tenure-worker.service",
    ]
    assert (pair[0].home / "logs").is_dir()
    assert runner.calls == [
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "enable", "--now", "tenure-server.service", "tenure-worker.service"),
    ]


def test_reinstalling_a_changed_unit_restarts_the_running_services(tmp_path: Path, home: Path):
    install(
        services(TenureConfig(), home, platform="systemd"),
        platform="systemd",
        directory=tmp_path,
        runner=Recorder(),
    )
    moved = services(parse_config({"prefect": {"port": 4300}}), home, platform="systemd")
    runner = Recorder()
    install(moved, platform="systemd", directory=tmp_path, runner=runner)
    assert [c[2] for c in runner.calls] == ["daemon-reload", "try-restart", "enable"]
    assert "4300" in (tmp_path / "tenure-worker.service").read_text()
    unchanged = Recorder()
    install(moved, platform="systemd", directory=tmp_path, runner=unchanged)
    assert [c[2] for c in unchanged.calls] == ["daemon-reload", "enable"]


def test_without_systemctl_install_writes_the_files_and_says_what_to_run(
    tmp_path: Path, pair: tuple[Service, Service]
):
    runner = Recorder({("systemctl",): (127, "systemctl not found on PATH")})
    outcome = install(pair, platform="systemd", directory=tmp_path, runner=runner)
    assert not outcome.ok and "systemctl not found on PATH" in outcome.problems[0]
    assert outcome.manual == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now tenure-server.service tenure-worker.service",
    ]
    assert len(runner.calls) == 1 and len(outcome.files) == 2


def test_launchd_install_boots_each_agent_out_then_in_and_falls_back_to_load(tmp_path: Path, home: Path):
    svcs = services(TenureConfig(), home, platform="launchd")
    runner = Recorder(
        {("launchctl", "bootstrap", "gui/501", str(tmp_path / "dev.tenure.worker.plist")): (5, "I/O error")}
    )
    outcome = install(svcs, platform="launchd", directory=tmp_path, runner=runner, uid=501)
    server, worker = (str(tmp_path / f"dev.tenure.{r}.plist") for r in ("server", "worker"))
    assert runner.calls == [
        ("launchctl", "bootout", "gui/501/dev.tenure.server"),
        ("launchctl", "bootstrap", "gui/501", server),
        ("launchctl", "bootout", "gui/501/dev.tenure.worker"),
        ("launchctl", "bootstrap", "gui/501", worker),
        ("launchctl", "load", "-w", worker),
    ]
    assert outcome.ok
    assert plistlib.loads(Path(server).read_bytes())["Label"] == "dev.tenure.server"


def test_without_launchctl_install_says_what_to_run(tmp_path: Path, home: Path):
    svcs = services(TenureConfig(), home, platform="launchd")
    outcome = install(
        svcs, platform="launchd", directory=tmp_path, runner=Recorder({(): (127, "no launchctl")}), uid=501
    )
    assert outcome.manual == [
        f"launchctl bootstrap gui/501 {tmp_path / f'dev.tenure.{r}.plist'}" for r in ("server", "worker")
    ]


def test_uninstall_stops_the_units_and_removes_their_files_but_not_the_logs(
    tmp_path: Path, pair: tuple[Service, Service]
):
    install(pair, platform="systemd", directory=tmp_path / "units", runner=Recorder())
    runner = Recorder()
    outcome = uninstall(pair, platform="systemd", directory=tmp_path / "units", runner=runner)
    assert outcome.ok and list((tmp_path / "units").iterdir()) == []
    assert len(outcome.files) == 2 and (pair[0].home / "logs").is_dir()
    assert runner.calls == [
        ("systemctl", "--user", "disable", "--now", "tenure-server.service", "tenure-worker.service"),
        ("systemctl", "--user", "daemon-reload"),
    ]


def test_uninstall_keeps_the_files_when_systemd_refuses_to_stop_them(
    tmp_path: Path, pair: tuple[Service, Service]
):
    install(pair, platform="systemd", directory=tmp_path, runner=Recorder())
    refused = Recorder({("systemctl",): (1, "Failed to connect to bus: No medium found")})
    outcome = uninstall(pair, platform="systemd", directory=tmp_path, runner=refused)
    assert not outcome.ok and outcome.manual == [
        "systemctl --user disable --now tenure-server.service tenure-worker.service"
    ]
    assert len(list(tmp_path.glob("*.service"))) == 2


def test_launchd_uninstall_boots_out_only_loaded_agents(tmp_path: Path, home: Path):
    svcs = services(TenureConfig(), home, platform="launchd")
    install(svcs, platform="launchd", directory=tmp_path, runner=Recorder(), uid=501)
    runner = Recorder({("launchctl", "print", "gui/501/dev.tenure.worker"): (113, "Could not find service")})
    outcome = uninstall(svcs, platform="launchd", directory=tmp_path, runner=runner, uid=501)
    assert outcome.ok and list(tmp_path.glob("*.plist")) == []
    assert ("launchctl", "bootout", "gui/501/dev.tenure.server") in runner.calls
    assert ("launchctl", "bootout", "gui/501/dev.tenure.worker") not in runner.calls


def test_status_reports_file_and_supervisor_state_and_tolerates_no_supervisor(
    tmp_path: Path, pair: tuple[Service, Service]
):
    install(pair[:1], platform="systemd", directory=tmp_path, runner=Recorder())
    runner = Recorder({("systemctl", "--user", "is-active", "tenure-worker.service"): (3, "inactive")})
    runner.replies[("systemctl", "--user", "is-active", "tenure-server.service")] = (0, "active")
    server, worker = status(pair, platform="systemd", directory=tmp_path, runner=runner)
    assert (server.installed, server.state, server.running) == (True, "active", True)
    assert (worker.installed, worker.state, worker.running) == (False, "inactive", False)
    missing = status(
        pair,
        platform="systemd",
        directory=tmp_path,
        runner=Recorder({(): (127, "systemctl not found on PATH")}),
    )
    assert [(s.state, s.detail) for s in missing] == [(None, "systemctl not found on PATH")] * 2


def test_launchd_status_reads_the_state_from_launchctl_print(tmp_path: Path, home: Path):
    svcs = services(TenureConfig(), home, platform="launchd")
    runner = Recorder(
        {
            ("launchctl", "print", "gui/501/dev.tenure.server"): (
                0,
                "gui/501/dev.tenure.server = {\n\tstate = running\n",
            )
        }
    )
    runner.replies[("launchctl", "print", "gui/501/dev.tenure.worker")] = (113, "Could not find service")
    server, worker = status(svcs, platform="launchd", directory=tmp_path, runner=runner, uid=501)
    assert (server.state, server.running, worker.state, worker.running) == (
        "running",
        True,
        "not loaded",
        False,
    )


# ---- worker only: a second machine joining another's Prefect API (docs/scale-out.md) ----------------


def test_worker_only_unit_uses_prefect_api_url_and_waits_on_no_server(
    monkeypatch: pytest.MonkeyPatch, home: Path
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    worker = worker_only(TenureConfig(), home, platform="systemd")
    unit = parse_unit(systemd_unit(worker))
    assert "After" not in unit["Unit"] and "Wants" not in unit["Unit"]
    assert REMOTE in unit["Unit"]["Description"][0]
    assert unquote(unit["Service"]["ExecStart"][0]) == [PYTHON, "-m", "tenure.cli", "serve", "worker"]
    assert unit["Service"]["Restart"] == ["on-failure"]
    env = environment(unit)
    assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == REMOTE
    assert env["TENURE_HOME"] == str(home) and env["PREFECT_HOME"] == str(home / "prefect")
    assert unit["Service"]["StandardOutput"] == [f"append:{home}/logs/tenure-worker.log"]


def test_worker_only_plist_round_trips_with_the_remote_api(monkeypatch: pytest.MonkeyPatch, home: Path):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    plist = plistlib.loads(launchd_plist(worker_only(TenureConfig(), home, platform="launchd")))
    assert plist["Label"] == "dev.tenure.worker"
    assert plist["ProgramArguments"] == [PYTHON, "-m", "tenure.cli", "serve", "worker"]
    env = plist["EnvironmentVariables"]
    assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == REMOTE
    assert env["TENURE_HOME"] == str(home)
    assert plist["KeepAlive"] is True
    assert plist["StandardOutPath"] == str(home / "logs" / "tenure-worker.log")


def test_worker_only_without_prefect_api_url_uses_the_config_address(home: Path):
    worker = worker_only(parse_config({"prefect": {"port": 4300}}), home, platform="systemd")
    env = environment(parse_unit(systemd_unit(worker)))
    assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4300/api"


def test_the_full_install_keeps_the_config_address_whatever_prefect_api_url_says(
    monkeypatch: pytest.MonkeyPatch, home: Path
):
    """The server serves the config's address, so the worker beside it uses that one."""
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    for service in services(TenureConfig(), home, platform="systemd"):
        assert service.env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"


def test_worker_only_install_writes_and_enables_only_the_worker_unit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    runner = Recorder()
    units = tmp_path / "units"
    worker = worker_only(TenureConfig(), home, platform="systemd")
    outcome = install([worker], platform="systemd", directory=units, runner=runner)
    assert outcome.ok and outcome.files == [units / "tenure-worker.service"]
    assert [p.name for p in units.iterdir()] == ["tenure-worker.service"]
    assert "tenure-server" not in (units / "tenure-worker.service").read_text()
    assert runner.calls == [
        ("systemctl", "--user", "daemon-reload"),
        ("systemctl", "--user", "enable", "--now", "tenure-worker.service"),
    ]


def test_launchd_worker_only_install_boots_in_only_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    runner = Recorder()
    worker = worker_only(TenureConfig(), home, platform="launchd")
    outcome = install([worker], platform="launchd", directory=tmp_path, runner=runner, uid=501)
    plist = tmp_path / "dev.tenure.worker.plist"
    assert outcome.ok and outcome.files == [plist] and list(tmp_path.glob("*.plist")) == [plist]
    assert plistlib.loads(plist.read_bytes())["EnvironmentVariables"]["PREFECT_API_URL"] == REMOTE
    assert runner.calls == [
        ("launchctl", "bootout", "gui/501/dev.tenure.worker"),
        ("launchctl", "bootstrap", "gui/501", str(plist)),
    ]


def test_status_of_a_worker_only_install_finds_the_worker_file_and_no_server_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pair: tuple[Service, Service]
):
    """status and uninstall are given both services (the CLI passes the pair): the files tell which
    are installed."""
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    worker = worker_only(TenureConfig(), pair[0].home, platform="systemd")
    install([worker], platform="systemd", directory=tmp_path, runner=Recorder())
    runner = Recorder({("systemctl", "--user", "is-active", "tenure-server.service"): (3, "inactive")})
    runner.replies[("systemctl", "--user", "is-active", "tenure-worker.service")] = (0, "active")
    server, worker_state = status(pair, platform="systemd", directory=tmp_path, runner=runner)
    assert (server.installed, server.state, server.running) == (False, "inactive", False)
    assert (worker_state.installed, worker_state.state, worker_state.running) == (True, "active", True)


def test_uninstall_of_a_worker_only_install_disables_and_removes_only_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pair: tuple[Service, Service]
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    worker = worker_only(TenureConfig(), pair[0].home, platform="systemd")
    install([worker], platform="systemd", directory=tmp_path, runner=Recorder())
    runner = Recorder()
    outcome = uninstall(pair, platform="systemd", directory=tmp_path, runner=runner)
    assert outcome.ok and outcome.files == [tmp_path / "tenure-worker.service"]
    assert list(tmp_path.glob("*.service")) == []
    assert runner.calls == [
        ("systemctl", "--user", "disable", "--now", "tenure-worker.service"),
        ("systemctl", "--user", "daemon-reload"),
    ]


def test_launchd_uninstall_of_a_worker_only_install_boots_out_only_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    worker = worker_only(TenureConfig(), home, platform="launchd")
    install([worker], platform="launchd", directory=tmp_path, runner=Recorder(), uid=501)
    runner = Recorder({("launchctl", "print", "gui/501/dev.tenure.server"): (113, "Could not find service")})
    svcs = services(TenureConfig(), home, platform="launchd")
    outcome = uninstall(svcs, platform="launchd", directory=tmp_path, runner=runner, uid=501)
    assert outcome.ok and outcome.files == [tmp_path / "dev.tenure.worker.plist"]
    assert list(tmp_path.glob("*.plist")) == []
    assert runner.calls == [
        ("launchctl", "print", "gui/501/dev.tenure.server"),
        ("launchctl", "print", "gui/501/dev.tenure.worker"),
        ("launchctl", "bootout", "gui/501/dev.tenure.worker"),
    ]


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(service_app, name="service")
    return app


@pytest.mark.parametrize("platform", ["systemd", "launchd"])
def test_install_dry_run_prints_both_files_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str
):
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    run = CliRunner().invoke(cli(), ["service", "install", "--dry-run", "--platform", platform])
    assert run.exit_code == 0, run.output
    names = (
        ("tenure-server.service", "tenure-worker.service")
        if platform == "systemd"
        else ("dev.tenure.server.plist", "dev.tenure.worker.plist")
    )
    for name in names:
        assert f"# {fake_home}" in run.output and name in run.output
    assert run.output.count("PREFECT_API_URL") == 2 and "nothing was written" in run.output
    assert ("caffeinate -s" in run.output) == (platform == "launchd")
    assert list(fake_home.iterdir()) == [] and not (tmp_path / "tenure-home").exists()


def test_platform_without_dry_run_is_bad_input():
    run = CliRunner().invoke(cli(), ["service", "install", "--platform", "launchd"])
    assert run.exit_code == 2 and "--dry-run" in run.output


def test_a_port_from_tenure_toml_reaches_the_services(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    toml = tmp_path / "my config" / "tenure.toml"
    toml.parent.mkdir()
    toml.write_text("[prefect]\nport = 4300\n")
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    run = CliRunner().invoke(cli(), ["service", "install", "--dry-run", "--platform", "systemd"])
    assert run.exit_code == 0, run.output
    units = [parse_unit(u) for u in run.output.split("# ")[1:]]
    for unit in units:
        env = environment(unit)
        assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4300/api"
        assert env["TENURE_CONFIG"] == str(toml)


def test_a_bad_config_stops_install_with_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    toml = tmp_path / "tenure.toml"
    toml.write_text("[prefect]\nport = 0\n")
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    run = CliRunner().invoke(cli(), ["service", "install", "--dry-run"])
    assert run.exit_code == 2 and "prefect.port" in run.output


@pytest.fixture
def refused() -> Iterator[str]:
    """An API address where a socket is bound but not listening: a connection is refused at once, so
    the CLI's check whether the API answers is instant and stays on this machine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api"


@pytest.mark.parametrize(
    ("platform", "name"), [("systemd", "tenure-worker.service"), ("launchd", "dev.tenure.worker.plist")]
)
def test_worker_only_dry_run_prints_the_worker_alone_with_prefect_api_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refused: str, platform: str, name: str
):
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("PREFECT_API_URL", refused)
    argv = ["service", "install", "--worker-only", "--dry-run", "--platform", platform]
    run = CliRunner().invoke(cli(), argv)
    assert run.exit_code == 0, run.output
    said = " ".join(run.output.split())
    assert f"the worker will use the Prefect API at {refused} (PREFECT_API_URL)" in said
    assert f"nothing answers at {refused} now" in said
    assert f"# {fake_home}" in run.output and name in run.output
    assert "tenure-server" not in run.output and "dev.tenure.server" not in run.output
    if platform == "systemd":
        unit = parse_unit(run.output.split("# ")[1])
        assert "After" not in unit["Unit"] and environment(unit)["PREFECT_API_URL"] == refused
        assert "systemctl --user enable --now tenure-worker.service\n" in run.output
    else:
        assert run.output.count("<key>PREFECT_API_URL</key>") == 1
        assert f"<string>{refused}</string>" in run.output
    assert "nothing was written" in run.output
    assert list(fake_home.iterdir()) == [] and not (tmp_path / "tenure-home").exists()


def test_worker_only_without_prefect_api_url_says_it_uses_the_config_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refused: str
):
    toml = tmp_path / "tenure.toml"
    port = refused.split(":")[2].removesuffix("/api")
    toml.write_text(f"[prefect]\nport = {port}\n")
    monkeypatch.setenv("TENURE_CONFIG", str(toml))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    argv = ["service", "install", "--worker-only", "--dry-run", "--platform", "systemd"]
    run = CliRunner().invoke(cli(), argv)
    assert run.exit_code == 0, run.output
    said = " ".join(run.output.split())
    assert f"the worker will use the Prefect API at {refused}, this machine's [prefect]" in said
    assert "export PREFECT_API_URL=http://<first-machine>:4200/api" in said
    assert environment(parse_unit(run.output.split("# ")[1]))["PREFECT_API_URL"] == refused


def test_worker_only_says_when_a_server_unit_is_still_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refused: str
):
    units = tmp_path / "xdg" / "systemd" / "user"
    units.mkdir(parents=True)
    (units / "tenure-server.service").write_text("[Unit]\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PREFECT_API_URL", refused)
    argv = ["service", "install", "--worker-only", "--dry-run", "--platform", "systemd"]
    run = CliRunner().invoke(cli(), argv)
    assert run.exit_code == 0, run.output
    said = " ".join(run.output.split())
    assert "tenure-server is still installed here" in said and "tenure service uninstall" in said
    assert (units / "tenure-server.service").read_text() == "[Unit]\n"


def test_install_help_explains_worker_only():
    run = CliRunner().invoke(cli(), ["service", "install", "--help"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    said = " ".join(run.output.replace("│", " ").split())
    assert "--worker-only" in said and "second machine joining another's Prefect API" in said
    assert "docs/scale-out.md" in said


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the CLI asks this machine's supervisor: systemd"
)


@pytest.fixture
def systemctl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A stand-in ``systemctl`` first on PATH: logs its arguments to the returned file and answers
    ``is-active`` with $FAKE_SERVER / $FAKE_WORKER. Unit files go under a temporary XDG_CONFIG_HOME."""
    calls = tmp_path / "systemctl.log"
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        'case "$*" in\n'
        '  *"is-active tenure-server.service") state=$FAKE_SERVER ;;\n'
        '  *"is-active tenure-worker.service") state=$FAKE_WORKER ;;\n'
        "  *) exit 0 ;;\n"
        "esac\n"
        'echo "$state"\n'
        '[ "$state" = active ]\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "systemd" / "user").mkdir(parents=True)
    return calls


@linux_only
@pytest.mark.parametrize(
    ("installed", "server", "worker", "code"),
    [
        (("server", "worker"), "active", "active", 0),
        (("server", "worker"), "inactive", "active", 1),  # the full install: both must run
        (("server", "worker"), "active", "failed", 1),
        (("worker",), "inactive", "active", 0),  # worker only: nothing else to run here
        (("worker",), "inactive", "failed", 1),
        (("server",), "active", "inactive", 1),  # a server without its worker runs no flows
        ((), "inactive", "inactive", 1),
    ],
)
def test_status_exits_0_when_the_worker_is_installed_and_all_installed_run(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    systemctl: Path,
    installed: tuple[str, ...],
    server: str,
    worker: str,
    code: int,
):
    for role in installed:
        (tmp_path / "xdg" / "systemd" / "user" / f"tenure-{role}.service").write_text("")
    monkeypatch.setenv("FAKE_SERVER", server)
    monkeypatch.setenv("FAKE_WORKER", worker)
    run = CliRunner().invoke(cli(), ["service", "status"])
    assert run.exit_code == code, run.output
    said = " ".join(run.output.split())
    assert ("worker only" in said) == (installed == ("worker",))
    assert ("install them with tenure service install" in said) == (installed == ())


@linux_only
def test_cli_uninstall_of_a_worker_only_install_removes_the_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, systemctl: Path
):
    monkeypatch.setenv("PREFECT_API_URL", REMOTE)
    units = tmp_path / "xdg" / "systemd" / "user"
    worker = worker_only(TenureConfig(), tmp_path / "tenure-home", platform="systemd")
    install([worker], platform="systemd", directory=units, runner=Recorder())
    run = CliRunner().invoke(cli(), ["service", "uninstall"])
    assert run.exit_code == 0, run.output
    assert f"removed {units / 'tenure-worker.service'}" in " ".join(run.output.split())
    assert list(units.iterdir()) == []
    assert systemctl.read_text().splitlines() == [
        "--user disable --now tenure-worker.service",
        "--user daemon-reload",
    ]
    monkeypatch.setenv("FAKE_SERVER", "inactive")
    monkeypatch.setenv("FAKE_WORKER", "inactive")
    run = CliRunner().invoke(cli(), ["service", "status"])
    assert run.exit_code == 1 and "tenure service install" in run.output
