"""A training run's life around its loop: where it stands (:class:`Progress`) and what
starting, resuming, checkpointing and logging do to its folder (:class:`RunState`).

A run starts afresh or resumes from its newest readable checkpoint. Work after the resume
point is forgotten, because it will be redone exactly (the loop re-seeds every iteration):
the metric rows written after the checkpoint, the snapshot, checkpoint and sample-game
files of later steps, and this run's evaluation games stored after it. TensorBoard's
scalars, with ``train.tensorboard``, are rebuilt from ``metrics.csv``, the source of truth,
and then mirror every row logged.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlgo.envs import Rules
from rlgo.evaluation.matchdb import MatchDB
from rlgo.learning.files import CheckpointError, config_to_dict, load_file, rules_to_dict, save_file
from rlgo.protocols import Learner, Weights
from rlgo.training.config import RunConfigs
from rlgo.training.runs import Counters, RunDir, file_steps


@dataclass
class Every:
    """Something due every ``interval`` env steps, next at ``next``."""

    interval: int
    next: int

    def due(self, env_steps: int) -> bool:
        return env_steps >= self.next

    def skip_past(self, env_steps: int) -> None:
        """Next due at the first step of the schedule after ``env_steps``."""
        while self.next <= env_steps:
            self.next += self.interval

    def advance(self) -> None:
        """Next due one interval later."""
        self.next += self.interval


@dataclass
class Progress:
    """Where a run stands: what a checkpoint restores besides the learner."""

    iteration: int
    counters: Counters
    evaluation: Every
    """The evaluation schedule (``eval.every``; 0: never)."""
    checkpoint: Every
    """The checkpoint schedule (``train.checkpoint_every``; evaluations checkpoint too)."""
    pool_refresh: Every
    """When the opponent pool next takes a snapshot (``train.pool_every``)."""
    pool: list[Weights]
    """The opponent pool's weights, newest first."""
    last_elo: float
    """The latest evaluation's Elo (NaN before one): where adaptive rating starts."""

    @classmethod
    def fresh(cls, configs: RunConfigs) -> Progress:
        cfg, every = configs.train, configs.eval.every
        return cls(0, Counters(), Every(every, every),
                   Every(cfg.checkpoint_every, cfg.checkpoint_every),
                   Every(cfg.pool_every, 0), [], float("nan"))

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "next_eval": self.evaluation.next,
                "next_checkpoint": self.checkpoint.next, "next_pool": self.pool_refresh.next,
                "pool": self.pool, "last_elo": self.last_elo}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], configs: RunConfigs) -> Progress:
        """The progress a checkpoint's payload stored."""
        h, cfg = payload["harness"], configs.train
        return cls(int(h["iteration"]), Counters.from_dict(payload["counters"]),
                   Every(configs.eval.every, int(h["next_eval"])),
                   Every(cfg.checkpoint_every, int(h["next_checkpoint"])),
                   Every(cfg.pool_every, int(h["next_pool"])), list(h["pool"]),
                   float(h["last_elo"]))


class RunState:
    """A run's folder through its life: start or resume (:meth:`start`), log metric rows
    (:meth:`log`), checkpoint (:meth:`checkpoint`), and the run's match database
    (:meth:`db`). ``configs`` are the run's, on ``rules``; ``say`` gets one-line
    notices."""

    def __init__(self, run: RunDir, configs: RunConfigs, rules: Rules,
                 say: Callable[[str], None]) -> None:
        self.run, self.configs, self.rules, self.say = run, configs, rules, say
        self.cfg = configs.train
        self.name = run.path.name
        self.progress = Progress.fresh(configs)
        self._db: MatchDB | None = None
        self._tb: Any = None  # torch's SummaryWriter with train.tensorboard

    # ------------------------------------------------------------------ start
    def start(self, learner: Learner) -> Progress:
        """Start the run afresh, or resume it (the learner's state included) from its
        newest readable checkpoint; returns its progress. Refuses a folder that holds a
        run of another config, or a file that cannot resume a run."""
        ckpt, payload = self._resume_point()
        if payload is not None and payload.get("kind") != "checkpoint":
            raise ValueError(f"{ckpt} was written by rlgo {payload['rlgo_version']} and "
                             "cannot resume a run (it still plays: rlgo arena); use a new "
                             "--out")
        started = payload is not None or bool(self.run.snapshot_files())
        if self.run.exists() and started:
            if self._stored_configs() != self.configs.configs:
                raise ValueError(
                    f"{self.run.path} holds a run with a different config; use a new --out "
                    "(or the same flags as that run to resume it)")
        elif self.run.exists() and not self._same_config():
            # a start that failed before its first checkpoint: nothing of it is kept
            self.say(f"replacing the config of {self.run.path}: its run never reached a "
                     "checkpoint")
        self.run.write_config(self.configs.to_tables())
        if payload is None:
            self.run.open_metrics(keep_rows=0)
            self._open_tensorboard()
            self._forget_after(-1)  # a kill before the first checkpoint can leave a snapshot
            return self.progress
        learner.load_state_dict(payload["learner"])
        self.progress = Progress.from_payload(payload, self.configs)
        self.say(f"resumed at env step {self.progress.counters.env_steps:,} from "
                 f"checkpoint {ckpt}")
        self.run.open_metrics(keep_rows=int(payload["metrics_rows"]))
        self._open_tensorboard()
        self._forget_after(self.progress.counters.env_steps)
        return self.progress

    def _resume_point(self) -> tuple[Path | None, dict[str, Any] | None]:
        """The newest readable checkpoint and its payload; a damaged one is skipped with a
        warning naming it (the run then resumes from the one before)."""
        for ckpt in reversed(self.run.checkpoint_files()):
            try:
                return ckpt, load_file(ckpt)
            except CheckpointError as exc:
                warnings.warn(f"{exc}; resuming from the checkpoint before it",
                              RuntimeWarning, stacklevel=4)
        return None, None

    def _stored_configs(self) -> tuple[Any, Any, Any]:
        """The folder's configs, fields it lacks (written before they existed) at their
        defaults: a run resumes across versions that only add settings. ValueError when
        they cannot be read."""
        return RunConfigs.from_tables(self.run.read_config(), str(self.run.config_path),
                                      self.configs.entry).configs

    def _same_config(self) -> bool:
        """The stored configs are this run's (False if they cannot be read)."""
        try:
            return self._stored_configs() == self.configs.configs
        except ValueError:  # unreadable, or keys this version does not know
            return False

    def _forget_after(self, env_steps: int) -> None:
        """Work after the resume point will be redone: its evaluation games, and snapshot
        and checkpoint files (a kill between writing a snapshot and its checkpoint, or a
        damaged checkpoint, leaves some) that the ladder would otherwise play as
        "earlier" snapshots, and its sample games."""
        self._forget_games_after(env_steps)
        for path in self.run.snapshot_files() + self.run.checkpoint_files():
            if file_steps(path) > env_steps:
                path.unlink()
        for path in (self.run.path / "games").glob("step_*.sgf"):
            if file_steps(path) > env_steps:
                path.unlink()

    def _forget_games_after(self, env_steps: int) -> None:
        """Evaluation games stored after the checkpoint we resume from will be replayed.
        Only this run's games go: games of another run with the same name in a shared
        database make the run refuse to start instead (:meth:`RunDir.run_id`)."""
        if not self.configs.eval.every:
            return
        mine = self.run.run_id()
        stored = self.db().games(run=self.name, with_sgf=False)
        foreign = [t for t in stored.tags if (t or {}).get("run_id") != mine]
        if foreign:
            raise ValueError(
                f"the match database {self.db_url} holds {len(foreign)} games of another run "
                f"named {self.name!r} (another run directory with the same name); use "
                "another --out name or another train.db")
        self.db().delete_games(run=self.name, after_env_steps=env_steps)

    # ------------------------------------------------------------------ metrics
    def _open_tensorboard(self) -> None:
        """With ``train.tensorboard``: TensorBoard scalars in ``<out>/tensorboard``, made
        anew from ``metrics.csv`` (a resume has just dropped its rows after the
        checkpoint), then appended to as rows are logged."""
        if not self.cfg.tensorboard:
            return
        from torch.utils.tensorboard import SummaryWriter

        folder = self.run.path / "tensorboard"
        shutil.rmtree(folder, ignore_errors=True)
        self._tb = SummaryWriter(str(folder))
        if self.run.rows:
            for row in self.run.metrics().itertuples(index=False):
                self._tb.add_scalar(row.metric, row.value, global_step=int(row.env_steps))
        self._tb.flush()

    def log(self, metrics: dict[str, float]) -> None:
        """A metrics row to ``metrics.csv`` and, if on, to TensorBoard (step: env steps)."""
        c = self.progress.counters
        self.run.log(c, metrics)
        if self._tb is not None:
            for name, value in metrics.items():
                self._tb.add_scalar(name, float(value), global_step=c.env_steps)
            self._tb.flush()

    # ------------------------------------------------------------------ files
    def header(self, kind: str, weights: Weights) -> dict[str, Any]:
        """What a snapshot (``kind`` "snapshot") or checkpoint file says about the run."""
        c = self.configs
        # the file format's names: "agent" is the learner's name, "agent_config" its config
        return {"kind": kind, "agent": c.train.learner, "rules": rules_to_dict(self.rules),
                "agent_config": config_to_dict(c.learner),
                "net_config": config_to_dict(c.net),
                "counters": self.progress.counters.as_dict(), "weights": weights}

    def checkpoint(self, learner: Learner) -> Path:
        """A snapshot (weights only) and a checkpoint (everything to resume) at the
        current env steps; the snapshot first, so every checkpoint has one. Only the
        newest ``train.keep_checkpoints`` checkpoints are kept."""
        p = self.progress
        weights = learner.snapshot()
        save_file(self.run.snapshot_path(p.counters.env_steps),
                  self.header("snapshot", weights))
        payload = {**self.header("checkpoint", weights), "learner": learner.state_dict(),
                   "harness": p.to_dict(), "metrics_rows": self.run.rows}
        path = save_file(self.run.checkpoint_path(p.counters.env_steps), payload)
        for old in self.run.checkpoint_files()[: -self.cfg.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ matches
    @property
    def db_url(self) -> str:
        return self.cfg.db or f"sqlite:///{self.run.path / 'matches.sqlite'}"

    def db(self) -> MatchDB:
        """The match database of the run's evaluation games, opened on first use."""
        if self._db is None:
            self._db = MatchDB(self.db_url)
        return self._db

