"""Damaged, foreign and copied segments: a bad file costs only its own rows, a copy never counts twice,
and repeats of a task never count as more evidence."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tenure.store import RunRow, ScoreLog
from tenure.store import segments as seg
from tenure.store.analysis import score_series
from tests.store.test_log import score


def _log_with_rows(root: Path) -> ScoreLog:
    log = ScoreLog(root)
    log.append("scores", [score(i) for i in range(3)])
    log.append("scores", [score(i) for i in range(3, 5)])
    log.append("runs", [RunRow(task_id="t", task_type="classify", role="ground_truth", source="live")])
    return log


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _foreign(path: Path) -> None:
    pq.write_table(pa.table({"name": ["a"], "size": [1]}), path)


def _wrong_type(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(
        table.set_column(table.schema.get_field_index("score"), "score", pa.array(["x"] * len(table))), path
    )


DAMAGE = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": _truncate,
    "not parquet": lambda p: p.write_text("id,score\n1,0.5\n"),
    "foreign schema": _foreign,
    "column of another type": _wrong_type,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_segment_costs_only_its_rows(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
):
    log = _log_with_rows(tmp_path)
    bad = log.segments("scores")[0]
    rows_in_bad = pq.read_metadata(bad).num_rows
    DAMAGE[damage](bad)

    assert log.count("scores") == 5 - rows_in_bad
    assert log.count("runs") == 1  # the other table is untouched
    assert len(log.score_totals(after_demotion=True)) == 1
    log.count("scores")  # a second read names it no more
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and bad.name in lines[0] and "tenure store check --quarantine" in lines[0]

    assert [s.path for s in seg.scan(tmp_path, "scores").damaged] == [bad]
    moved = seg.quarantine(tmp_path, [bad])
    assert moved == [tmp_path / "quarantine" / "scores" / bad.name] and not bad.exists()
    assert seg.scan(tmp_path, "scores").damaged == [] and log.count("scores") == 5 - rows_in_bad


def test_a_page_damaged_behind_a_sound_footer_is_skipped_when_a_query_finds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    log = ScoreLog(tmp_path)
    log.append("scores", [score(i) for i in range(2)])
    bad = log.append("scores", [{**score(i), "reason": f"reason {i} " * 50} for i in range(100, 400)])
    assert bad is not None
    data = bytearray(bad.read_bytes())
    for i in range(8, len(data) // 2):  # wreck the pages, keep the footer
        data[i] = 0xFF
    bad.write_bytes(bytes(data))

    assert [s.path for s in seg.damaged_in(tmp_path, "scores")] == [bad]  # what `tenure store check` reads
    assert log.count("scores") == 2

    # in a new process the query itself finds the page, skips the segment and names it on stderr
    code = (
        "import sys, pathlib; from tenure.store import ScoreLog; "
        "print(ScoreLog(pathlib.Path(sys.argv[1])).count('scores'))"
    )
    done = subprocess.run([sys.executable, "-c", code, tmp_path], capture_output=True, text=True, check=True)
    assert done.stdout == "2\n"
    assert len(done.stderr.splitlines()) == 1 and bad.name in done.stderr


def test_compaction_leaves_a_damaged_segment_where_it_is(tmp_path: Path):
    log = _log_with_rows(tmp_path)
    log.append("scores", [score(9)])
    bad = log.segments("scores")[0]
    bad.write_bytes(b"")
    report = log.compact("scores")
    assert report.rows == 3 and bad.exists() and len(log.segments("scores")) == 2


def test_a_copied_segment_is_not_counted_twice(tmp_path: Path):
    log = _log_with_rows(tmp_path)
    original = log.segments("scores")[0]
    backup = original.read_bytes()
    shutil.copy(original, original.with_name(f"copy of {original.name}"))
    shutil.copy(original, tmp_path / "scores" / "restored.parquet")
    assert log.count("scores") == 5

    log.compact("scores")
    assert log.count("scores") == 5 and len(log.segments("scores")) == 1
    # a backup of a segment the compaction merged, restored after it under another name: counted once
    (tmp_path / "scores" / "from backup.parquet").write_bytes(backup)
    assert log.count("scores") == 5
    assert log.compact("scores").rows == 5


def test_compaction_keeps_one_row_per_id(tmp_path: Path):
    log = ScoreLog(tmp_path)
    rows = [score(i) for i in range(3)]
    log.append("scores", rows)
    log.append("scores", [*rows[:2], score(7)])  # two rows again, in a segment of other ids
    assert log.compact("scores").rows == 4


def test_repeats_of_a_task_count_once_as_evidence_the_latest(tmp_path: Path):
    log = ScoreLog(tmp_path)
    now = datetime.now(UTC)
    first = [{**score(i, value=0.0), "ts": now - timedelta(hours=1)} for i in range(2)]
    again = [{**score(i, value=1.0), "ts": now} for i in range(2)]  # the same two tasks run again
    log.append("scores", first)
    log.append("scores", again)

    (totals,) = log.score_totals(after_demotion=True)
    assert (totals.n, totals.passes, totals.mean) == (2, 2, 1.0)
    assert [p.score for p in score_series(log, after_demotion=True)] == [1.0, 1.0]
    _, rows = log.query("SELECT n, mean FROM confidence")
    assert rows == [(2, 1.0)]
    # another judge's verdict on the same task is its own evidence
    log.append("scores", [{**score(0), "judge": "field_f1"}])
    assert sorted(t.n for t in log.score_totals(after_demotion=True)) == [1, 2]


def test_the_cli_reads_past_a_damaged_segment_and_quarantines_it(tmp_path: Path):
    home = tmp_path / "home"
    log = _log_with_rows(home / "store")
    bad = log.segments("scores")[0]
    bad.write_bytes(b"")

    def tenure(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TENURE_HOME": str(home), "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "tenure.cli", *args], capture_output=True, text=True, env=env
        )

    read = tenure("sql", "--json", "SELECT count(*) AS n FROM scores")
    assert read.returncode == 0 and '"n": 2' in read.stdout  # the other segment's rows
    (line,) = read.stderr.splitlines()
    assert f"skipped store/scores/{bad.name}: cannot be read" in line

    check = tenure("store", "check")
    assert check.returncode == 1 and bad.name in check.stdout
    moved = tenure("store", "check", "--quarantine")
    assert moved.returncode == 0, moved.stderr
    assert (home / "store" / "quarantine" / "scores" / bad.name).exists() and not bad.exists()
    clean = tenure("store", "check")
    assert clean.returncode == 0 and "every segment" in clean.stdout and clean.stderr == ""
