"""The results store of one training run: ``runs/<name>/``.

::

    runs/<name>/
      config.toml          the run's full config (harness, agent, network), written once
      metrics.csv          tidy metrics: one row per (counters, metric, value)
      checkpoints/         step_<env_steps>.pt: everything to resume (learner state with
                           its buffers, the loop's progress); the newest few are kept
      snapshots/           step_<env_steps>.pt: the acting policy's weights only, all kept;
                           what the ladder, the opponent pool and `rlgo arena` load
      games/               step_<env_steps>_game_<id>.sgf: self-play samples of each
                           evaluation (rlgo.training.samples)
      tensorboard/         with train.tensorboard: the metrics as TensorBoard scalars
      matches.sqlite       the evaluation games of the run (rlgo.evaluation.matchdb), by default
      lock                 flock-ed by the process training the run (RunDir.lock)
      run_id               a random id made at the run's start: its games in a shared
                           match database carry it, so two runs with one folder name
                           cannot take each other's games (RunDir.run_id)

(file formats: :mod:`rlgo.learning.files`; writes are atomic)

Every metric row carries all counters, the x-axes of the sample-efficiency plots:
``env_steps`` (moves played in real games, both colours), ``games`` (finished self-play
games), ``nn_evals`` (network positions evaluated, search included), ``train_samples``
(positions consumed by gradient steps, repeats counted) and ``wall_s`` (seconds of
training, accumulated across resumes).

Resume: a checkpoint remembers how many metric rows existed when it was written. On resume
the rows written after it (work that will be redone, deterministically) are dropped, so
no metric is lost or duplicated.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import socket
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from rlgo.errors import RlgoError
from rlgo.learning.files import write_atomically as _write_atomically
from rlgo.training.config import dump_toml

COUNTERS = ("env_steps", "games", "nn_evals", "nn_evals_act", "nn_evals_opponent",
            "nn_evals_learner", "train_samples", "wall_s")
HEADER = (*COUNTERS, "metric", "value")


@dataclass
class Counters:
    """The harness's budget counters; see the module docstring for their meaning."""

    env_steps: int = 0
    games: int = 0
    nn_evals_act: int = 0
    nn_evals_opponent: int = 0
    nn_evals_learner: int = 0
    train_samples: int = 0
    wall_s: float = 0.0

    @property
    def nn_evals(self) -> int:
        """Every network evaluation spent on training (the compute axis)."""
        return self.nn_evals_act + self.nn_evals_opponent + self.nn_evals_learner

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "nn_evals": self.nn_evals}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counters:
        if "nn_evals_act" not in d and "nn_evals" in d:  # rlgo 0.1: one mixed counter
            d = {**d, "nn_evals_act": d["nn_evals"]}
        return cls(**{f.name: d.get(f.name, 0) for f in fields(cls)})


class RunLockedError(RlgoError, ValueError):
    """Another live process owns the run directory."""


class RunDir:
    """A run's directory: config, metrics and checkpoints."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.snapshots = self.path / "snapshots"
        self.metrics_path = self.path / "metrics.csv"
        self.config_path = self.path / "config.toml"
        self._rows = 0

    # ------------------------------------------------------------------ ownership
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Own the directory while the block runs: an exclusive ``flock`` on its ``lock``
        file, which holds the owner's pid and host for the error message. The operating
        system drops the lock when its process dies (kill -9 included), so a lock is
        never stale; a second owner, in any process, gets :class:`RunLockedError`."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / "lock"
        with open(path, "a+") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                raise RunLockedError(f"{self.path} is in use by {f.read().strip() or 'another'}"
                                     " process; wait for it to finish or use another --out"
                                     ) from None
            f.seek(0)
            f.truncate()
            f.write(f"process {os.getpid()} on {socket.gethostname()} since "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def run_id(self) -> str:
        """The run's id (12 hex digits), made on the first call and kept in ``run_id``."""
        path = self.path / "run_id"
        if path.exists():
            return path.read_text().strip()
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(path, uuid.uuid4().hex[:12] + "\n")
        return path.read_text().strip()

    # ------------------------------------------------------------------ config
    def exists(self) -> bool:
        return self.config_path.exists()

    def write_config(self, sections: dict[str, dict[str, Any]]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.config_path, dump_toml(sections))

    def read_config(self) -> dict[str, dict[str, Any]]:
        try:
            return tomllib.loads(self.config_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read {self.config_path}: {exc}") from exc

    # ------------------------------------------------------------------ metrics
    def open_metrics(self, keep_rows: int | None = None) -> None:
        """Start appending metrics; with ``keep_rows``, first drop any rows after the
        first ``keep_rows`` (those written after the checkpoint we resume from)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.metrics_path.exists() or keep_rows == 0:
            with self.metrics_path.open("w", newline="") as f:
                csv.writer(f).writerow(HEADER)
            self._rows = 0
            return
        with self.metrics_path.open(newline="") as f:
            rows = list(csv.reader(f))
        body = rows[1:]
        if keep_rows is not None:
            if keep_rows > len(body):
                raise ValueError(
                    f"{self.metrics_path} has {len(body)} rows but the checkpoint expects "
                    f"{keep_rows}: metrics were lost, refusing to resume"
                )
            body = body[:keep_rows]
        if rows and tuple(rows[0]) != HEADER:
            raise ValueError(f"{self.metrics_path} has columns {rows[0]}, not {list(HEADER)}: "
                             "a run from another rlgo version cannot be resumed")
        buffer = io.StringIO()
        w = csv.writer(buffer)
        w.writerow(HEADER)
        w.writerows(body)
        write_atomically(self.metrics_path, buffer.getvalue())
        self._rows = len(body)

    def log(self, counters: Counters, metrics: dict[str, float]) -> None:
        """Append one row per metric, each with all counters; flushed at once."""
        c = counters.as_dict()
        with self.metrics_path.open("a", newline="") as f:
            w = csv.writer(f)
            for name, value in metrics.items():
                w.writerow([*(c[k] for k in COUNTERS), name, float(value)])
        self._rows += len(metrics)

    @property
    def rows(self) -> int:
        """Metric rows written so far (stored in checkpoints for resume)."""
        return self._rows

    def metrics(self) -> pd.DataFrame:
        return load_metrics(self.path)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, env_steps: int) -> Path:
        return self.checkpoints / f"step_{env_steps:012d}.pt"

    def snapshot_path(self, env_steps: int) -> Path:
        return self.snapshots / f"step_{env_steps:012d}.pt"

    def checkpoint_files(self) -> list[Path]:
        """Checkpoints, oldest first."""
        return sorted(self.checkpoints.glob("step_*.pt")) if self.checkpoints.exists() else []

    def snapshot_files(self) -> list[Path]:
        """Snapshots, oldest first."""
        return sorted(self.snapshots.glob("step_*.pt")) if self.snapshots.exists() else []

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoint_files()
        return found[-1] if found else None


def load_metrics(run: str | Path) -> pd.DataFrame:
    """The tidy metrics table of a run directory."""
    path = Path(run) / "metrics.csv"
    if not path.exists():
        raise FileNotFoundError(f"no metrics at {path}")
    return pd.read_csv(path)


def file_steps(path: Path) -> int:
    """Env steps in the name of a run file: ``step_<n>.pt`` (snapshots, checkpoints) or
    ``step_<n>_<...>.sgf`` (SGF samples)."""
    return int(path.stem.split("_")[1])


def write_atomically(path: Path, text: str) -> None:
    """``text`` written atomically (:func:`rlgo.learning.files.write_atomically`)."""
    _write_atomically(path, lambda f: f.write(text))
