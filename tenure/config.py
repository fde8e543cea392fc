"""Settings from the environment and the validated ``tenure.toml``.

``TENURE_HOME`` (default ``~/.tenure``) holds tenure's state; ``TENURE_CONFIG`` (default
``$TENURE_HOME/tenure.toml``) names the config file. With no file the shipped defaults apply, and they
work with no keys: the cloud providers are skipped and the embedded local model answers.
Configuration is validated once; every bad key is reported with its path and the expected form.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenure.config_channels import ChannelsConfig
from tenure.config_problems import ConfigError, describe, dotted
from tenure.config_tools import (
    ROLE_TOOLS,
    TOOL_NAMES,
    FetchSettings,
    FileSettings,
    PythonSettings,
    ScoreQuerySettings,
    ToolName,
)
from tenure.config_tracing import LangfuseConfig
from tenure.config_types import HttpUrlStr, ModelChain, ModelIdStr, SecretRefStr, Strict

__all__ = [
    "DEFAULT_TEAM",
    "TOOL_NAMES",
    "AgentConfig",
    "AgentLimits",
    "ConfigError",
    "CostsConfig",
    "EmbedPrecision",
    "Env",
    "GateConfig",
    "JudgeConfig",
    "PrefectConfig",
    "ProviderConfig",
    "RetryPolicy",
    "TaskTypeConfig",
    "TenureConfig",
    "VaultConfig",
    "load_config",
    "parse_config",
    "ui_url",
]

DEFAULT_CHAIN = (
    "anthropic:claude-opus-4-6",
    "anthropic:claude-sonnet-4-6",
    "openai:gpt-4.1",
    "ollama:qwen2.5:latest",
    "local:gemma-3-270m",
)


ChainName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
TaskTypeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
"""A task type's name; which names exist is the registry's to say (``tenure.control.task_types``)."""
EmbedPrecision = Literal["auto", "bf16", "onnx-int8", "int8", "float32"]


class Env(BaseSettings):
    """Where tenure keeps its state and finds its config; read from ``TENURE_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TENURE_", extra="ignore")

    home: Path = Path("~/.tenure")
    """State directory: config, score log, vault index, workspaces (``~`` expanded)."""
    config: Path | None = None
    """Config file; defaults to ``tenure.toml`` in ``home``."""

    @field_validator("home", "config")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def config_path(self) -> Path:
        return self.config or self.home / "tenure.toml"

    @property
    def prefect_home(self) -> Path:
        """Prefect's own state (profiles, the temporary server's database) for tenure's commands, server
        and worker: inside the home, so a home is all tenure writes."""
        return self.home / "prefect"


class ProviderConfig(Strict):
    """How one provider is reached."""

    base_url: HttpUrlStr | None = None
    """API base URL; ``None`` means the provider's public endpoint."""
    api_key: SecretRefStr | None = None
    """A secret reference (env:NAME, op://…, prefect-secret://…), never the key itself."""
    timeout: Annotated[float, Field(gt=0)] = 60.0
    """Seconds one attempt may take before it counts as a timeout."""
    max_tokens: Annotated[int, Field(ge=1)] = 4096
    """Default bound on one answer's length (and so its cost); a call or ``models`` entry may override it."""


class LocalModelConfig(Strict):
    """The embedded llama.cpp model."""

    n_ctx: Annotated[int, Field(ge=256, le=32768)] = 2048
    threads: Annotated[int, Field(ge=1)] | None = None
    """CPU threads for generation; ``None`` uses every core."""
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 48
    """Default completion length when a call does not say."""


class AnthropicConfig(ProviderConfig):
    api_key: SecretRefStr | None = "env:ANTHROPIC_API_KEY"


class OpenAIConfig(ProviderConfig):
    api_key: SecretRefStr | None = "env:OPENAI_API_KEY"


class OllamaConfig(ProviderConfig):
    base_url: HttpUrlStr | None = "http://127.0.0.1:11434"
    """Ollama's own address; chat goes to its OpenAI-compatible ``/v1`` below it."""
    timeout: Annotated[float, Field(gt=0)] = 120.0


class Providers(Strict):
    anthropic: AnthropicConfig = AnthropicConfig()
    openai: OpenAIConfig = OpenAIConfig()
    ollama: OllamaConfig = OllamaConfig()
    local: LocalModelConfig = LocalModelConfig()


class ModelOptions(Strict):
    """Per-model overrides."""

    max_tokens: Annotated[int, Field(ge=1)] | None = None
    timeout: Annotated[float, Field(gt=0)] | None = None


class RetryPolicy(Strict):
    """Retries on one model before the chain falls back, and the cooldown of a failing model."""

    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Extra attempts on the same model after a 429, 5xx, 529, timeout or connection error."""
    backoff_base: Annotated[float, Field(ge=0)] = 0.5
    """First backoff in seconds; doubles per retry, with full jitter."""
    backoff_max: Annotated[float, Field(ge=0)] = 8.0
    max_retry_after: Annotated[float, Field(ge=0)] = 30.0
    """Longest Retry-After honoured on the same model; a longer wait falls back instead."""
    cooldown_after: Annotated[int, Field(ge=1)] = 3
    """Consecutive failed calls after which a model is skipped for ``cooldown_seconds``."""
    cooldown_seconds: Annotated[float, Field(ge=0)] = 60.0


class GateConfig(Strict):
    """Promotion gate settings (used by the control plane)."""

    policy: Literal["sequential", "fixed"] = "sequential"
    bar: Annotated[float, Field(gt=0, le=1)] = 0.95
    margin: Annotated[float, Field(ge=0, lt=1)] = 0.02
    error: Annotated[float, Field(gt=0, lt=1)] = 0.05
    min_runs: Annotated[int, Field(ge=1)] = 200
    min_mean: Annotated[float, Field(gt=0, le=1)] = 0.95


class TaskTypeConfig(Strict):
    """How one commodity task type is served and shadowed."""

    ground_truth: str = "default"
    """Name of the chain that answers until a local model is promoted."""
    ground_truth_models: list[ModelIdStr] | None = None
    """Models whose answers count as ground truth for shadowing; an answer from any other link of the
    chain (a fallback) is recorded but is no evidence. Default: the cloud models of the chain."""
    candidates: list[ModelIdStr] = ["ollama:qwen2.5:latest", "local:gemma-3-270m"]
    promoted: ModelIdStr | None = None
    """A model pinned to serve this type instead of the ground truth; applies until the type has
    promotion events (which the gate and ``tenure promote``/``demote`` record)."""
    canary_rate: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Share of a promoted model's answers also checked against the ground truth, after the fact."""
    gate: GateConfig = GateConfig()
    judge_budget_usd: Annotated[float, Field(ge=0)] | None = 2.0
    """Daily cap on what judging this type may cost (dollars, from the pricing table; UTC days).
    Shadowing pauses when it is reached and resumes the next day; ``None`` for no cap."""


class JudgeConfig(Strict):
    """Who grades free-text answers, and whose grades may move a model's tenure."""

    chain: str = "judge"
    """The chain asked to grade (its verdicts are recorded whoever serves)."""
    models: list[ModelIdStr] | None = None
    """Judges whose verdicts can be evidence. Default: the cloud models of ``chain``."""
    exclude_same_family: bool = True
    """A judge of the candidate's model family (qwen grading qwen) is never evidence."""
    kappa_floor: Annotated[float, Field(ge=-1, le=1)] = 0.6
    """A judge whose agreement with the labels (Cohen's κ) for a type is below this, or that has no
    calibration for the type, produces no evidence there (``tenure judge calibrate``)."""


AgentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class AgentLimits(Strict):
    """What one turn may spend; a turn that reaches a limit stops with a message saying which."""

    max_requests: Annotated[int, Field(ge=1)] = 12
    """Model requests in one turn (each tool round trip is one)."""
    max_tool_calls: Annotated[int, Field(ge=0)] = 16
    max_tokens: Annotated[int, Field(ge=100)] = 100_000
    """Input plus output tokens over all of the turn's requests."""
    max_usd: Annotated[float, Field(gt=0)] = 1.0
    """Dollars (from the pricing table) over all of the turn's requests, dispatched turns excluded."""


class AgentConfig(Strict):
    """One member of the team: persona files live in its workspace, the rest is here. A shipped agent's
    table changes only the keys it names, so it keeps its role's tools (``config_tools.ROLE_TOOLS``)
    unless it lists ``tools``; an agent the user adds gets the team's common tools."""

    chain: str = "specialist"
    role: str = ""
    emoji: str = ""
    tools: list[ToolName] = ROLE_TOOLS[""]
    limits: AgentLimits = AgentLimits()
    files: FileSettings = FileSettings()
    fetch_url: FetchSettings = FetchSettings()
    run_python: PythonSettings = PythonSettings()
    """Also the limits of ``run_tests``."""
    query_scores: ScoreQuerySettings = ScoreQuerySettings()


def _team(**roles: tuple[str, str, str]) -> dict[str, AgentConfig]:
    return {
        name: AgentConfig(chain=chain, role=role, emoji=emoji, tools=ROLE_TOOLS[name])
        for name, (chain, role, emoji) in roles.items()
    }


DEFAULT_TEAM = _team(
    loki=("default", "orchestration, complex reasoning and memory", "🐱"),
    archie=("specialist", "data analysis, statistics and evaluation", "📊"),
    sara=("specialist", "writing: posts, course material, edits", "✍️"),
    kit=("specialist", "engineering: code and infrastructure", "🔧"),
    liv=("specialist", "research and inbox triage", "🔍"),
)


class PrefectConfig(Strict):
    """Where tenure runs its flows: the Prefect server ``tenure up`` starts, and its worker."""

    host: str = "127.0.0.1"
    """The address the server listens on (the UI and the API)."""
    port: Annotated[int, Field(ge=1, le=65535)] = 4200
    pool: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")] = "tenure-local"
    """The process work pool every deployment runs on."""
    worker_limit: Annotated[int, Field(ge=1, le=64)] = 4
    """Flow runs the worker runs at once (each is a process of its own)."""

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"


def ui_url(api_url: str) -> str:
    """The UI's address for an API address (the server serves both; the API under ``/api``)."""
    return api_url.rstrip("/").removesuffix("/api")


class VaultConfig(Strict):
    """The markdown notes vault the agents search, and how it is cut into chunks."""

    path: Path | None = None
    """The vault folder; ``tenure vault index PATH`` overrides it, the nightly ``vault_embed`` uses it."""
    ignore: list[str] = []
    """Globs (relative to the vault) to skip, on top of ``.obsidian/``, ``.trash/`` and other dot folders."""
    follow_links: bool = True
    """Read a note that is a link to another file inside the vault (a link out of it is never read)."""
    chunk_chars: Annotated[int, Field(ge=200, le=4000)] = 800
    """Upper bound on a chunk's text; the embedder reads about 256 word pieces, roughly 1,000 characters."""
    chunk_overlap: Annotated[int, Field(ge=0, le=1000)] = 100
    """Characters a chunk repeats from the end of the one before it in the same section."""
    max_note_bytes: Annotated[int, Field(ge=1000)] = 2_000_000
    """Longer notes are truncated to this size, with a warning naming the file."""
    batch_chunks: Annotated[int, Field(ge=1)] = 1024
    """Chunks embedded and written per batch (one Prefect task and one commit each). Each commit scans the
    table, so small batches cost more as the index grows: 256 took 75 s of store time on a 110k-chunk
    pass, 1024 takes 19 s."""
    ann_min_chunks: Annotated[int, Field(ge=1000)] = 50_000
    """From this many chunks on, vectors get an approximate (IVF-HNSW) index; below it search is exact."""
    precision: EmbedPrecision = "auto"
    """The embedder: auto (bf16 where the CPU computes bf16 in hardware, else onnx-int8), bf16 (OpenVINO,
    the float model computed in bfloat16), onnx-int8 (ONNX Runtime, int8 weights; both run an export made
    from the packaged model at first use, and a search loads them in under a second), int8 (PyTorch
    dynamic quantization; the last fallback) or float32 (the model as shipped). Changing it, or moving the
    index to a machine where auto picks another, makes the next pass re-embed the whole vault: an index
    holds vectors of one embedder."""

    @model_validator(mode="after")
    def _overlap_below_size(self) -> VaultConfig:
        if self.chunk_overlap >= self.chunk_chars // 2:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be below half of chunk_chars ({self.chunk_chars})"
            )
        return self


class CostsConfig(Strict):
    """What the ledger adds to the API spend (``tenure cost``)."""

    monthly: dict[str, Annotated[float, Field(ge=0)]] = {}
    """Fixed dollars a month, by name: hardware, electricity, subscriptions."""


class TenureConfig(Strict):
    """The whole of ``tenure.toml``."""

    providers: Providers = Providers()
    models: dict[ModelIdStr, ModelOptions] = {}
    chains: dict[ChainName, ModelChain] = {
        "default": list(DEFAULT_CHAIN),
        "specialist": list(DEFAULT_CHAIN[1:]),
        "judge": list(DEFAULT_CHAIN),
        "local": ["local:gemma-3-270m"],
    }
    retry: RetryPolicy = RetryPolicy()
    task_types: dict[TaskTypeName, TaskTypeConfig] = {}
    """Per task type, how it is served and shadowed; a type with no table uses the defaults."""
    task_type_modules: list[str] = []
    """Modules (importable names) defining task types of your own, one ``TASK_TYPE`` each."""
    agents: dict[AgentName, AgentConfig] = DEFAULT_TEAM
    main_agent: str = "loki"
    """The agent whose workspace holds the shared items, and who answers ``tenure ask`` by default."""
    max_dispatch_depth: Annotated[int, Field(ge=0, le=5)] = 2
    """How deep dispatches may nest (Loki → Kit is depth 1); 0 turns dispatching off."""
    vault: VaultConfig = VaultConfig()
    judge: JudgeConfig = JudgeConfig()
    prefect: PrefectConfig = PrefectConfig()
    channels: ChannelsConfig = ChannelsConfig()
    costs: CostsConfig = CostsConfig()
    langfuse: LangfuseConfig | None = None
    """Tracing to Langfuse; off unless this table is present."""
    pricing_file: Path | None = None
    """A pricing table of your own; defaults to the shipped ``data/pricing.toml``."""

    @model_validator(mode="after")
    def _chains_exist(self) -> TenureConfig:
        problems: list[tuple[tuple[str, ...], str]] = [(("judge", "chain"), self.judge.chain)]
        problems += [
            (("task_types", name, "ground_truth"), t.ground_truth) for name, t in self.task_types.items()
        ]
        problems += [(("agents", name, "chain"), a.chain) for name, a in self.agents.items()]
        problems = [(loc, chain) for loc, chain in problems if chain not in self.chains]
        for key, agent in (("main_agent", self.main_agent), *self._channel_agents()):
            if agent not in self.agents:
                raise ValueError(f"{key}: no agent named '{agent}'; expected one of {', '.join(self.agents)}")
        if problems:
            known = ", ".join(sorted(self.chains))
            raise ValueError(
                "\n".join(
                    f"{dotted(loc)}: no chain named '{name}'; expected one of {known}"
                    for loc, name in problems
                )
            )
        return self

    def _channel_agents(self) -> list[tuple[str, str]]:
        telegram = self.channels.telegram
        return [("channels.telegram.agent", telegram.agent)] if telegram else []

    @field_validator("chains", "task_types", "agents", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        """Chains and task types in the file add to (or replace one by one) the shipped ones; an agent in
        the file changes only the keys it names (``[agents.kit] chain = "local"`` keeps Kit's role)."""
        field = cls.model_fields[str(info.field_name)]
        default = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in field.default.items()}
        if not isinstance(value, dict):
            return value
        if info.field_name == "agents":
            return {
                **default,
                **{k: {**default.get(k, {}), **v} if isinstance(v, dict) else v for k, v in value.items()},
            }
        return {**default, **value}

    def task_type(self, name: str) -> TaskTypeConfig:
        """The settings of task type ``name`` (its table, or the defaults)."""
        return self.task_types.get(name) or TaskTypeConfig()

    def chain(self, name: str) -> list[str]:
        """The model ids of a named chain."""
        try:
            return self.chains[name]
        except KeyError:
            raise ConfigError(
                None, [f"no chain named '{name}'; expected one of {', '.join(sorted(self.chains))}"]
            ) from None


def load_config(path: Path | None = None) -> TenureConfig:
    """Load and validate the config file (``Env().config_path`` unless given); shipped defaults if absent."""
    explicit = path is not None or Env().config is not None
    path = (path or Env().config_path).expanduser()
    if not path.exists():
        if explicit:
            raise ConfigError(path, ["file not found; create it or unset TENURE_CONFIG to use the defaults"])
        return TenureConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot be read: {exc}"]) from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path | None = None) -> TenureConfig:
    """Validate a config mapping, translating pydantic's errors into one line per bad key."""
    try:
        return TenureConfig.model_validate(data)
    except ValidationError as exc:
        problems = [line for err in exc.errors() for line in describe(err, TenureConfig).splitlines()]
        raise ConfigError(path, problems) from None
