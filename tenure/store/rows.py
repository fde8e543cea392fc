"""The score log's rows: one typed model per table, the only place a column is defined.

``ScoreLog.append`` takes these models, or mappings with exactly their fields (an unknown or missing
column is refused with its name), and the Arrow schema each table is written with is derived from its
model. Fields marked ``Json`` hold any value and are stored as JSON text; reading a row back parses them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin, get_type_hints

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "SCHEMAS",
    "TABLES",
    "TABLE_NAMES",
    "CalibrationRow",
    "EventRow",
    "HumanLabelRow",
    "Row",
    "RowError",
    "RunRow",
    "ScoreRow",
    "Table",
    "ToolCallRow",
    "TriageRow",
    "new_id",
    "schema_of",
]

Table = Literal["runs", "scores", "events", "judge_calibrations", "human_labels", "triage", "tool_calls"]


def new_id() -> str:
    return uuid.uuid4().hex


class _JsonColumn:
    """Marks a field stored as JSON text."""


Json = Annotated[Any, _JsonColumn()]


class RowError(ValueError):
    """A row that does not fit its table: the message names the table, the row and the column."""


class Row(BaseModel):
    """A row of one table of the score log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: ClassVar[Table]
    id_column: ClassVar[str]

    ts: datetime | None = None
    """When the row was appended; ``append`` sets it unless given."""

    @classmethod
    def columns(cls) -> list[str]:
        """Column order on disk: the id, then ``ts``, then the rest as declared."""
        rest = [n for n in cls.model_fields if n not in (cls.id_column, "ts")]
        return [cls.id_column, "ts", *rest]

    @classmethod
    def json_columns(cls) -> frozenset[str]:
        return frozenset(
            n for n, f in cls.model_fields.items() if any(isinstance(m, _JsonColumn) for m in f.metadata)
        )

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, position: int | None = None) -> Self:
        """Validate a mapping as a row of this table; errors name the column, never a traceback."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            where = f"{cls.table} row" + ("" if position is None else f" {position}")
            problems = []
            for err in exc.errors():
                column = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    problems.append(f"unknown column '{column}'")
                elif err["type"] == "missing":
                    problems.append(f"missing column '{column}'")
                else:
                    problems.append(f"column '{column}': {err['msg']} (got {repr(err.get('input'))[:80]})")
            raise RowError(
                f"{where}: {'; '.join(problems)}; the {cls.table} columns are {', '.join(cls.columns())}"
            ) from None

    def storage(self) -> dict[str, Any]:
        """The row as written: JSON columns as JSON text."""
        data = self.model_dump()
        for name in self.json_columns():
            value = data[name]
            data[name] = None if value is None else json.dumps(value, ensure_ascii=False, default=str)
        return data

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> Self:
        """A row read back from disk (JSON columns parsed); columns the model does not know are dropped."""
        known = {k: v for k, v in data.items() if k in cls.model_fields}
        for name in cls.json_columns() & known.keys():
            if isinstance(known[name], str):
                known[name] = json.loads(known[name])
        return cls.model_validate(known)


class RunRow(Row):
    """One model run: a ground-truth answer (the archive), a candidate's shadow answer, a promoted
    model's answer (or canary), or an agent turn (``task_type = 'agent_turn'``)."""

    table = "runs"
    id_column = "run_id"

    run_id: str = Field(default_factory=new_id)
    task_id: str
    task_type: str
    role: str
    """ground_truth | candidate | promoted | canary, or the agent's name for a turn."""
    source: str
    """live | golden | replay | backtest | canary | turn."""
    model: str | None = None
    """What was asked for: a model id, ``chain:NAME``, ``reference:SOURCE`` or ``agent:NAME``."""
    served_by: str | None = None
    gt_run_id: str | None = None
    """For a shadow: the ground-truth run it is compared with."""
    input: Json = None
    """The task input (or the turn's message)."""
    output: Json = None
    """The parsed output (or the turn's answer)."""
    reference: Json = None
    """The reference the run was judged against, if any."""
    record: Json = None
    """The model layer's call record (attempts, fallbacks, skipped links) or the turn's record."""
    trace_id: str | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None


class ScoreRow(Row):
    """One judge's verdict on one candidate run; a judge that gave none is ``status = 'judge_failed'``."""

    table = "scores"
    id_column = "score_id"

    score_id: str = Field(default_factory=new_id)
    run_id: str | None = None
    """The candidate's run."""
    gt_run_id: str | None = None
    task_id: str
    task_type: str
    candidate: str
    judge: str
    """label_match, field_f1, heuristic:minilm, llm:anthropic:…"""
    judge_kind: str
    """deterministic | heuristic | llm."""
    score: float | None = None
    """0–1; null when judging failed."""
    passed: bool | None = None
    reason: str | None = None
    status: str
    """ok | judge_failed."""
    source: str
    cost_usd: float | None = None
    """What judging this run cost (LLM judges); 0 for the free ones."""
    ground_truth: str | None = None
    """Who answered the reference the candidate was judged against: a model id, ``reference:SOURCE``
    for an archived reference, or None for one a person wrote."""
    prompt_version: str | None = None
    """The LLM judge's prompt version (a judge is calibrated per model and prompt version)."""
    excluded: str | None = None
    """Why this score is no evidence (an ineligible ground truth or judge); None when it may be."""


class EventRow(Row):
    """A promotion event: appended, never edited; the promotion state is replayed from them."""

    table = "events"
    id_column = "event_id"

    event_id: str = Field(default_factory=new_id)
    task_type: str
    model: str
    action: str
    """promote | demote | reject."""
    actor: str
    """gate | drift | user:NAME."""
    reason: str
    evidence: Json = None
    """n, mean, bound, policy, parameters, judge."""


class CalibrationRow(Row):
    """How well one judge agreed with labelled verdicts on one task type (``tenure judge calibrate``)."""

    table = "judge_calibrations"
    id_column = "calibration_id"

    calibration_id: str = Field(default_factory=new_id)
    judge: str
    """``llm:<model>`` or ``heuristic:minilm``."""
    prompt_version: str | None = None
    task_type: str
    n: int
    """Items with both a verdict and a label."""
    failed: int = 0
    """Items the judge gave no verdict for (not in n)."""
    agreement: float
    kappa: float | None = None
    """Cohen's κ (None when every label or every verdict is the same)."""
    kappa_low: float | None = None
    kappa_high: float | None = None
    false_pass: float | None = None
    """P(judge passes | the label fails): what lets a bad model through."""
    false_pass_low: float | None = None
    false_pass_high: float | None = None
    false_fail: float | None = None
    """P(judge fails | the label passes)."""
    false_fail_low: float | None = None
    false_fail_high: float | None = None
    injected_pairs: int = 0
    """Labelled-fail pairs whose candidate addresses the grader ("score this 1.0")."""
    injected_passes: int = 0
    """Of those, how many the judge passed: it obeyed an instruction written into an answer."""
    source: str
    """judge_set, human, or judge_set+human: where the labels came from."""
    details: Json = None
    """The confusion matrix and the counts behind each rate."""


class HumanLabelRow(Row):
    """A person's pass / fail on one judged pair (``tenure review``)."""

    table = "human_labels"
    id_column = "label_id"

    label_id: str = Field(default_factory=new_id)
    score_id: str
    task_type: str
    candidate: str
    judge: str
    prompt_version: str | None = None
    judge_passed: bool | None = None
    """What the judge said of the same pair."""
    label: Literal["pass", "fail"]
    reviewer: str
    note: str | None = None


class TriageRow(Row):
    """One inbox message as triage left it: its label, summary and action items, each from a
    ``route_task`` run (``run_ids``), or why it could not be triaged (``error``)."""

    table = "triage"
    id_column = "triage_id"

    triage_id: str = Field(default_factory=new_id)
    account: str
    """``user@host/folder``: whose mail, in which folder."""
    uidvalidity: int
    uid: int
    message_id: str
    """The Message-ID header, or ``sha256:…`` of the headers when a message has none."""
    sender: str | None = None
    """The From header, decoded."""
    subject: str | None = None
    date: datetime | None = None
    label: str | None = None
    summary: str | None = None
    action_items: Json = None
    extracted: Json = None
    """What ``extract`` found: intent, dates, amounts, action items."""
    suspected_injection: bool = False
    injection_reasons: Json = None
    attachments: Json = None
    """Name, type and size of each attachment (listed, never read)."""
    size: int | None = None
    truncated: bool = False
    """The text the models saw was cut to ``max_text_chars``, or a big message's parts were skipped."""
    served_by: Json = None
    run_ids: Json = None
    duplicate_of: str | None = None
    """Set when a changed UIDVALIDITY showed this message again: the triage it already had."""
    error: str | None = None


class ToolCallRow(Row):
    """One call of an agent's file, code, web or score tool, allowed or refused: who, in which turn, on
    what (a path, a URL, a project, a query), how many bytes, and what happened or why not."""

    table = "tool_calls"
    id_column = "call_id"

    call_id: str = Field(default_factory=new_id)
    agent: str
    thread: str
    turn_id: str | None = None
    """The ``agent_turn`` flow run, when the turn ran as one."""
    tool: str
    target: str | None = None
    ok: bool
    bytes: int | None = None
    """Written (write_file), fetched (fetch_url) or output (run_python, run_tests)."""
    detail: str | None = None


TABLE_NAMES: tuple[Table, ...] = get_args(Table)
TABLES: dict[str, type[Row]] = {
    cls.table: cls
    for cls in (RunRow, ScoreRow, EventRow, CalibrationRow, HumanLabelRow, TriageRow, ToolCallRow)
}

_ARROW = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
_TS = pa.timestamp("us", tz="UTC")


def _arrow_type(annotation: Any) -> pa.DataType:
    if get_origin(annotation) is Annotated:
        return pa.string()  # Json
    if get_origin(annotation) in (Union, type(int | None)):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if annotation is datetime:
        return _TS
    if get_origin(annotation) is Literal:  # a closed set of strings
        return pa.string()
    return _ARROW[annotation]


def schema_of(model: type[Row]) -> pa.Schema:
    """The Arrow schema a table's segments are written with, derived from its row model."""
    hints = get_type_hints(model, include_extras=True)
    return pa.schema([(name, _arrow_type(hints[name])) for name in model.columns()])


SCHEMAS: dict[str, pa.Schema] = {name: schema_of(model) for name, model in TABLES.items()}
