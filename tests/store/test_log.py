"""The score log under concurrent writers, a killed writer, and compaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tenure.store import RowError, RunRow, ScoreLog, new_id

ROOT = Path(__file__).parents[2]


def score(i: int, candidate: str = "local:gemma-3-270m", value: float = 1.0) -> dict:
    return {
        "score_id": new_id(),
        "run_id": f"run-{i}",
        "task_id": f"task-{i}",
        "task_type": "classify",
        "candidate": candidate,
        "judge": "label_match",
        "judge_kind": "deterministic",
        "score": value,
        "passed": value == 1.0,
        "reason": "",
        "status": "ok",
        "source": "test",
    }


WRITER = """
import sys
from pathlib import Path
from tenure.store import ScoreLog
from tests.store.test_log import score
log, per_append, appends = ScoreLog(Path(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
for n in range(appends):
    log.append("scores", [score(i) for i in range(per_append)])
    print(f"committed {n + 1}", flush=True)
"""


def writer(root: Path, per_append: int, appends: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(per_append), str(appends)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_empty_log_has_empty_views(tmp_path: Path):
    con = ScoreLog(tmp_path).connect()
    for view in ("runs", "scores", "confidence"):
        assert con.execute(f"SELECT count(*) FROM {view}").fetchone() == (0,)


def test_confidence_per_model_type_and_judge(tmp_path: Path):
    log = ScoreLog(tmp_path)
    log.append("scores", [score(i, value=v) for i, v in enumerate([1.0, 0.0, 1.0, 1.0])])
    log.append("scores", [score(9, candidate="ollama:qwen2.5:latest", value=0.5)])
    log.append("scores", [{**score(10), "status": "judge_failed", "score": None, "passed": None}])
    rows = log.connect().execute("SELECT model, judge, n, mean FROM confidence ORDER BY model").fetchall()
    assert rows == [
        ("local:gemma-3-270m", "label_match", 4, 0.75),
        ("ollama:qwen2.5:latest", "label_match", 1, 0.5),
    ]


@pytest.mark.slow
def test_eight_processes_appending_concurrently_lose_nothing(tmp_path: Path):
    procs = [writer(tmp_path, per_append=10, appends=50) for _ in range(8)]
    for proc in procs:
        proc.communicate(timeout=300)
        assert proc.returncode == 0
    log = ScoreLog(tmp_path)
    assert log.count("scores") == 4000
    con = log.connect()
    assert con.execute("SELECT count(DISTINCT score_id) FROM scores").fetchone() == (4000,)
    assert not list((tmp_path / "scores").glob(".*.tmp"))


@pytest.mark.slow
def test_killed_writer_leaves_every_committed_row_and_nothing_partial(tmp_path: Path):
    per_append = 20_000
    proc = writer(tmp_path, per_append=per_append, appends=1000)
    committed = 0
    assert proc.stdout is not None
    while committed < 3:
        committed = int(proc.stdout.readline().split()[1])
    time.sleep(0.03)  # land the kill inside a later write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rows = ScoreLog(tmp_path).count("scores")
    assert rows >= committed * per_append
    assert rows % per_append == 0  # whole segments only: a half-written one is never read


def test_compaction_keeps_every_row_once_and_survives_a_crash_midway(tmp_path: Path):
    log = ScoreLog(tmp_path)
    for n in range(5):
        log.append("scores", [score(i) for i in range(n * 10, n * 10 + 10)])
    before = sorted(log.connect().execute("SELECT score_id, task_id, score FROM scores").fetchall())
    inputs = {path.name: path.read_bytes() for path in log.segments("scores")}

    log.compact("scores")
    # the disk as a compaction killed after writing its merged segment, before deleting its inputs, leaves it
    for name, data in inputs.items():
        (tmp_path / "scores" / name).write_bytes(data)
    assert len(log.segments("scores")) == 6  # five inputs and the merged one, all on disk
    assert sorted(log.connect().execute("SELECT score_id, task_id, score FROM scores").fetchall()) == before

    report = log.compact("scores")

    assert (report.segments_before, report.segments_after, report.rows) == (6, 1, 50)
    assert sorted(log.connect().execute("SELECT score_id, task_id, score FROM scores").fetchall()) == before


def test_a_retried_append_does_not_duplicate_rows(tmp_path: Path):
    log = ScoreLog(tmp_path)
    rows = [score(i) for i in range(10)]
    first = log.append("scores", rows)
    again = log.append("scores", rows)  # the same batch, e.g. a Prefect task retried after a timeout
    assert first == again
    assert log.count("scores") == 10 and len(log.segments("scores")) == 1


def test_sql_is_read_only(tmp_path: Path):
    log = ScoreLog(tmp_path)
    log.append("scores", [score(1)])
    assert log.query("SELECT count(*) AS n FROM scores") == (["n"], [(1,)])
    for statement in ("DROP VIEW scores", "COPY (SELECT 1) TO 'x.csv'", "SELECT 1; DELETE FROM scores"):
        with pytest.raises(ValueError, match="only one read-only SELECT is allowed"):
            log.query(statement)
    with pytest.raises(ValueError, match=r"not valid SQL|Parser Error|syntax"):
        log.query("SELEC nothing")


def test_append_refuses_a_misspelled_or_missing_column_and_writes_nothing(tmp_path: Path):
    log = ScoreLog(tmp_path)
    misspelled = {**score(1), "candiate": score(1)["candidate"]}
    del misspelled["candidate"]
    with pytest.raises(RowError) as failure:
        log.append("scores", [score(0), misspelled])
    message = str(failure.value)
    assert message.startswith("scores row 1: missing column 'candidate'; unknown column 'candiate'")
    assert "the scores columns are score_id, ts, run_id" in message
    with pytest.raises(RowError, match="runs row 0: column 'input_tokens': Input should be a valid integer"):
        log.append("runs", [{"task_id": "t", "task_type": "classify", "role": "candidate", "source": "x",
                             "input_tokens": "many"}])  # fmt: skip
    assert log.segments("scores") == [] and log.segments("runs") == []


def test_typed_rows_round_trip_with_their_json_columns(tmp_path: Path):
    log = ScoreLog(tmp_path)
    run = RunRow(
        task_id="t-1",
        task_type="extract",
        role="ground_truth",
        source="live",
        input={"text": "Dr. Okafor, 12 May", "fields": ["who"]},
        output={"who": "Dr. Okafor"},
    )
    log.append("runs", [run])
    [back] = log.archived_ground_truth("extract", 10)
    assert back == run.model_copy(update={"ts": back.ts})
    assert log.query("SELECT output FROM runs")[1] == [('{"who": "Dr. Okafor"}',)]
