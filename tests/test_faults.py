"""Fault injection: a training run killed at the worst moments resumes to exactly the run
that was never interrupted; a full disk ends a run with one line and nothing half written;
a tuning journal torn by a crash is set aside, not broken for good.

A signal cannot be timed to land inside a file write, so the kill is put in the code: the
run is a child process whose ``torch.save`` (checkpoint and snapshot files), metric-row
appends or atomic rewrites call ``os._exit(137)`` at their N-th use, after writing part of
what they were writing. The run is then resumed by a plain ``rlgo train``, and its metrics
(timings aside) and stored games must equal those of the uninterrupted run: no row or game
lost or duplicated, counters monotone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlgo.evaluation.matchdb import MatchDB
from rlgo.training.runs import load_metrics

ARGS = ["--learner", "reinforce", "--board-size", "5", "--env-steps", "1200", "--seed", "2",
        "--no-progress"]
SETS = ["net.blocks=1", "net.channels=8", "net.value_hidden=8", "train.parallel_games=8",
        "train.games_per_iteration=8", "eval.every=400", "train.checkpoint_every=200",
        "eval.games=2", "eval.ladder=random", "train.threads=1"]
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

CHILD = r'''
import csv, os, sys
import torch
import rlgo.learning.files as files
import rlgo.training.runs as runs
from rlgo.cli import main

point, when = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}

def due():
    calls["n"] += 1
    return calls["n"] == when

if point == "torch_save":  # dies with the temporary file half written, before the rename
    real_save = torch.save
    def save(obj, f, *a, **k):
        if due():
            f.write(b"PK\x03\x04 half a zip archive")
            f.flush()
            os._exit(137)
        return real_save(obj, f, *a, **k)
    files.torch.save = save
elif point == "enospc":  # the disk fills up halfway through a checkpoint or snapshot
    import errno
    real_save = torch.save
    def save(obj, f, *a, **k):
        if due():
            f.write(b"PK\x03\x04 half a zip archive")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)
    files.torch.save = save
elif point == "after_tmp":  # dies after the temporary file is complete, before the rename
    real_replace = files.os.replace
    class _OS:
        def __getattr__(self, name):
            return getattr(os, name)
        def replace(self, src, dst):
            if due():
                os._exit(137)
            return real_replace(src, dst)
    files.os = _OS()
elif point == "metric_row":  # dies halfway through appending a row of metrics
    real_log = runs.RunDir.log
    def log(self, counters, metrics):
        if due():
            with self.metrics_path.open("a", newline="") as f:
                f.write("400,10,4")
            os._exit(137)
        return real_log(self, counters, metrics)
    runs.RunDir.log = log
elif point == "metrics_rewrite":  # dies while a resume rewrites metrics.csv
    real_write = runs.write_atomically
    def write(path, text):
        if due():
            path.with_name(path.name + ".tmp").write_text(text[: len(text) // 2])
            os._exit(137)
        return real_write(path, text)
    runs.write_atomically = write
sys.argv = ["rlgo", "train", *sys.argv[3:]]
main()
'''


def _run(out: Path, fault: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    args = [*ARGS, "--out", str(out)]
    for kv in SETS:
        args += ["--set", kv]
    if fault is None:
        cmd = [sys.executable, "-m", "rlgo.cli", "train", *args]
    else:
        cmd = [sys.executable, "-c", CHILD, fault[0], str(fault[1]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


def _train(out: Path, *, fault: tuple[str, int] | None = None) -> int:
    return _run(out, fault).returncode


def _metrics(out: Path) -> pd.DataFrame:
    df = load_metrics(out)
    timing = df.metric.str.endswith("_s") | df.metric.str.contains("per_s")
    return df[~timing].drop(columns="wall_s").reset_index(drop=True)


def _games(out: Path) -> pd.DataFrame:
    games = MatchDB(f"sqlite:///{out / 'matches.sqlite'}", read_only=True).games(
        with_sgf=False)
    for side in ("black", "white"):
        games[side] = games[side].str.replace(f"{out.name}@", "run@")
    cols = ["black", "white", "winner", "score", "moves", "env_steps"]
    return games[cols].sort_values(cols, ignore_index=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "reference"
    assert _train(out) == 0
    return out


@pytest.mark.parametrize("fault", [
    ("torch_save", 1),       # the first snapshot, half written
    ("torch_save", 2),       # the first checkpoint, half written: its snapshot is whole
    ("torch_save", 4),       # the second checkpoint, half written (after its snapshot)
    ("after_tmp", 3),        # a complete temporary file, never renamed
    ("metric_row", 5),       # half a metrics row
])
def test_a_run_killed_inside_a_write_resumes_to_the_uninterrupted_run(tmp_path, reference,
                                                                       fault):
    out = tmp_path / "run"
    assert _train(out, fault=fault) == 137  # the injected kill happened
    assert _train(out) == 0
    pd.testing.assert_frame_equal(_metrics(out), _metrics(reference))
    pd.testing.assert_frame_equal(_games(out), _games(reference))
    steps = load_metrics(out).env_steps
    assert steps.is_monotonic_increasing
    assert not list(out.rglob("*.tmp"))  # the resume rewrote what the kill left half done


@pytest.mark.parametrize("when", [1, 4])  # the first snapshot; the second checkpoint
def test_a_full_disk_ends_a_run_in_one_line_and_a_resume_finishes_it(tmp_path, reference,
                                                                      when):
    # the probe: an OSError [Errno 28] traceback and a leftover step_*.pt.tmp
    out = tmp_path / "run"
    full = _run(out, fault=("enospc", when))
    assert full.returncode == 1, full.stderr
    (line,) = full.stderr.strip().splitlines()
    assert line.startswith(f"error: [Errno 28] cannot write {out}") and \
        "No space left on device" in line and "rerun the same command" in line
    assert not list(out.rglob("*.tmp"))
    assert _train(out) == 0  # a disk with room: the run resumes to the uninterrupted one
    pd.testing.assert_frame_equal(_metrics(out), _metrics(reference))
    pd.testing.assert_frame_equal(_games(out), _games(reference))


def test_a_resume_killed_while_rewriting_the_metrics_resumes_again(tmp_path, reference):
    out = tmp_path / "run"
    assert _train(out, fault=("metric_row", 9)) == 137
    assert _train(out, fault=("metrics_rewrite", 1)) == 137  # the resume itself dies
    assert _train(out) == 0
    pd.testing.assert_frame_equal(_metrics(out), _metrics(reference))
    pd.testing.assert_frame_equal(_games(out), _games(reference))


# ----------------------------------------------------------------- a torn tuning journal

SEARCH = """\
[tune]
name = "torn"
learner = "reinforce"
board_size = 5
env_steps = 200
trials = {trials}
out = "{out}"
[train]
threads = 1
eval_every = 200
eval_games = 2
eval_ladder = ["random"]
parallel_games = 8
games_per_iteration = 8
[net]
blocks = 1
channels = 8
[space.lr]
type = "float"
low = 1e-4
high = 3e-3
log = true
"""


def _search(tmp_path: Path, trials: int) -> Path:
    path = tmp_path / "search.toml"
    path.write_text(SEARCH.format(trials=trials, out=tmp_path / "out"))
    return path


@pytest.fixture
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_a_torn_last_journal_record_is_set_aside_and_the_search_goes_on(tmp_path, caplog,
                                                                        _one_thread):
    from rlgo.tuning.report import tune_main

    tune_main(_search(tmp_path, trials=1), echo=None)
    journal = tmp_path / "out" / "optuna.journal"
    whole = journal.read_bytes()
    os.truncate(journal, len(whole) - 40)  # the probe: truncate -s -40
    # before: the rerun appended to the torn line, failed with "Expecting ':' delimiter"
    # naming no file, and from then on --report-only failed too
    summary = tune_main(_search(tmp_path, trials=2), echo=None)
    assert "study torn: 2 of 2 trials (1 complete, 1 failed)" in summary
    (kept,) = (tmp_path / "out").glob("optuna.journal.torn-*")
    assert kept.read_bytes() == whole[:-40]  # the file as the crash left it
    notes = [r.getMessage() for r in caplog.records if "cut short" in r.getMessage()]
    assert len(notes) == 1 and str(journal) in notes[0] and kept.name in notes[0]
    assert "2 of 2 trials" in tune_main(_search(tmp_path, trials=2), report_only=True)
    lines = journal.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])


def test_a_journal_of_random_bytes_is_an_error_naming_the_file(tmp_path, _one_thread):
    from rlgo.tuning.report import tune_main

    journal = tmp_path / "out" / "optuna.journal"
    journal.parent.mkdir()
    journal.write_bytes(np.random.default_rng(0).bytes(4096))
    before = journal.read_bytes()
    for report_only in (False, True):
        with pytest.raises(ValueError, match=f"{journal} is not a readable Optuna journal"):
            tune_main(_search(tmp_path, trials=1), report_only=report_only, echo=None)
    assert journal.read_bytes() == before  # not "repaired": nothing cut, nothing appended
