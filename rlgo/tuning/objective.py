"""A trial of ``rlgo tune``: what it trains and the value it returns to Optuna.

**A trial** trains one run per seed of :attr:`TuneConfig.seeds
<rlgo.tuning.config.TuneConfig.seeds>` (``seeds_per_trial`` of them, the same seeds for
every trial, so that two trials differ by their parameters only), each a
:class:`~rlgo.training.Trainer` in ``<out>/trials/<number>`` (one seed) or
``<out>/trials/<number>-seed<seed>`` (several; the folder's name is the run's name in the
match database). Every run writes its evaluation games to one match database
(``<out>/matches.sqlite`` unless ``[train]`` sets ``db``), so that every snapshot of every
trial is rated on one Elo scale, anchored at ``random`` = 0, or on the board's fixed scale
when ``eval.reference`` names one.

**The value.** A run's value is its final evaluation's ``eval/elo`` (``objective =
"elo"``) or its mean score against one ladder opponent (``objective = "score:<spec>"``);
the trial's is the mean (or IQM, ``aggregate = "iqm"``) of its seeds' values, maximised.
The per-seed values are kept as user attributes (``seed_values``, ``seed_elos``) and in
``trials.csv``.

**Seeds in lockstep.** The seeds' runs advance in turn, each to its next evaluation
(:meth:`rlgo.training.Trainer.rows`), in one process: a worker's cores go to one run at a
time, and more cores are used by more workers (``rlgo tune --workers``), each on its own
trial. After each round the aggregate of the seeds' latest values is reported to Optuna,
so the pruner judges a trial on all its seeds at once, and a pruned trial stops every
seed's run there. Each run seeds its own randomness at construction and at every
iteration, so a run advanced in turn with others plays the games it would play alone.

Values are reported at the **nominal** step, the multiple of ``eval.every`` the
evaluation was due at (the budget for the last one), not at the exact env steps, which
differ between runs by the length of a game: pruners compare trials at equal steps only.
The exact counters are in each run's ``metrics.csv``. The step-0 evaluation is reported
but never prunes (it rates untrained networks).

**A trial fails** (Optuna state FAIL, the reason in the user attribute ``failed_reason``)
when a run diverges (a non-finite ``losses/*`` metric, ``losses/explained_variance``
excepted: it is NaN whenever the returns do not vary), when its final value is not
finite, or when training raises; the tuning goes on with the next trial.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from scipy.stats import trim_mean

from rlgo.training import RunConfigs, Trainer
from rlgo.tuning.config import Param, TuneConfig, trial_configs

_IGNORED_NAN = ("losses/explained_variance",)
"""Loss metrics that are NaN in healthy training (module docstring)."""


def sample_params(trial: optuna.Trial, space: tuple[Param, ...]) -> dict[str, Any]:
    """One value per searched key, drawn by the study's sampler."""
    params: dict[str, Any] = {}
    for p in space:
        if p.type == "float":
            params[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log, step=p.step)
        elif p.type == "int":
            params[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log,
                                              step=int(p.step or 1))
        else:
            params[p.key] = trial.suggest_categorical(p.key, list(p.choices))
    return params


class Diverged(RuntimeError):
    """A learner logged a non-finite loss."""


def stop_if_diverged(trainer: Trainer, metrics: dict[str, float]) -> None:
    """A training hook: raise :class:`Diverged` at the first non-finite ``losses/*``
    metric."""
    bad = sorted(k for k, v in metrics.items() if k.startswith("losses/")
                 and k not in _IGNORED_NAN and not math.isfinite(v))
    if bad:
        raise Diverged(f"diverged: {', '.join(f'{k} = {metrics[k]}' for k in bad)} "
                       f"at {trainer.state.counters.env_steps} env steps")


def trial_dirs(tune: TuneConfig, number: int) -> list[Path]:
    """Where trial ``number``'s runs train, one per seed (module docstring)."""
    trials = tune.out_dir / "trials"
    if tune.seeds_per_trial == 1:
        return [trials / str(number)]
    return [trials / f"{number}-seed{seed}" for seed in tune.seeds]


def report_step(env_steps: int, eval_every: int, budget: int) -> int:
    """The nominal step of an evaluation (module docstring)."""
    return budget if env_steps >= budget else env_steps // eval_every * eval_every


def aggregate(values: list[float], how: str) -> float:
    """The trial's value from its seeds' (module docstring): "mean" or "iqm"."""
    if how == "iqm":
        return float(trim_mean(values, 0.25))
    return float(np.mean(values))


@dataclass
class SeedRun:
    """One seed's run of a trial, advanced one evaluation at a time."""

    seed: int
    configs: RunConfigs
    out: Path
    value: float = math.nan
    """Its latest evaluation's objective value."""
    elo: float = math.nan
    elo_stderr: float = math.nan
    snapshot: str = ""
    """Its latest rated snapshot, ``<run>@<env steps>``."""
    done: bool = False
    trainer: Trainer | None = None
    steps: Iterator[list[dict[str, float]]] | None = field(default=None, repr=False)

    def advance(self, tune: TuneConfig) -> int | None:
        """Train to the next evaluation; returns its nominal step, or None when the run
        has ended. Raises :class:`Diverged`. The trainer is built on first use, so that
        its construction seeds its randomness right before it plays (module
        docstring)."""
        if self.trainer is None:
            self.trainer = Trainer(self.configs, self.out, progress=False,
                                   allow_commands=tune.allow_commands)
            self.steps = self.trainer.rows()
        assert self.steps is not None
        for rows in self.steps:
            step = None
            for metrics in rows:
                try:
                    stop_if_diverged(self.trainer, metrics)
                except Diverged as exc:
                    if tune.seeds_per_trial == 1:
                        raise
                    raise Diverged(f"seed {self.seed} {exc}") from exc
                if any(k.startswith("eval/") for k in metrics):
                    step = self._record(metrics, tune)
            if step is not None:
                return step
        self.done = True
        return None

    def _record(self, metrics: dict[str, float], tune: TuneConfig) -> int:
        c = self.trainer.state.counters
        self.value = float(metrics.get(tune.metric, math.nan))
        self.elo = float(metrics.get("eval/elo", math.nan))
        self.elo_stderr = float(metrics.get("eval/elo_stderr", math.nan))
        self.snapshot = f"{self.out.name}@{c.env_steps}"
        return report_step(c.env_steps, self.configs.eval.every, self.configs.train.env_steps)

    def close(self) -> None:
        """Stop the run (its directory unlocked) and drop its checkpoints: trials never
        resume."""
        if self.steps is not None:
            self.steps.close()
        if self.trainer is not None:
            self.trainer.db().close()
            shutil.rmtree(self.trainer.run.checkpoints, ignore_errors=True)


def objective(trial: optuna.Trial, tune: TuneConfig) -> float:
    """Train one trial's seeds and return its final value (NaN if a run diverged:
    Optuna marks it FAIL); raises :class:`optuna.TrialPruned` when the pruner stops it."""
    params = sample_params(trial, tune.space)
    runs = [SeedRun(seed, trial_configs(tune, params, seed=seed), out)
            for seed, out in zip(tune.seeds, trial_dirs(tune, trial.number), strict=True)]
    for run in runs:
        if run.out.exists():
            raise ValueError(f"{run.out} already exists: it belongs to another study (was "
                             "the study's storage deleted?); use a new out")
    trial.set_user_attr("run_dir", ";".join(str(r.out) for r in runs))
    trial.set_user_attr("seeds", list(tune.seeds))
    trial.set_user_attr("config", runs[0].configs.to_tables())
    reported: set[int] = set()
    value = math.nan
    t0 = time.perf_counter()
    try:
        while steps := [s for r in runs if not r.done and (s := r.advance(tune)) is not None]:
            value = aggregate([r.value for r in runs], tune.aggregate)
            _keep(trial, runs, tune, time.perf_counter() - t0)
            step = min(steps)
            if step in reported:
                continue
            reported.add(step)
            trial.report(value, step)
            if step > 0 and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at {step:,} env steps with {value:.4g}")
    except Diverged as exc:
        trial.set_user_attr("failed_reason", str(exc))
        return math.nan
    finally:
        for run in runs:
            run.close()
    if not math.isfinite(value):
        trial.set_user_attr("failed_reason", f"final {tune.metric} is {value}")
    return value


def _keep(trial: optuna.Trial, runs: list[SeedRun], tune: TuneConfig, total_s: float) -> None:
    """The trial's user attributes after a round of evaluations: the seeds' values and
    Elo (and their aggregate), counters and the snapshots rated last."""
    elos = [r.elo for r in runs]
    stderr = math.sqrt(sum(r.elo_stderr**2 for r in runs)) / len(runs)
    counters = [r.trainer.state.counters for r in runs if r.trainer is not None]
    for key, v in (("env_steps", min(int(c.env_steps) for c in counters)),
                   ("wall_s", round(sum(c.wall_s for c in counters), 2)),
                   ("total_s", round(total_s, 2)),
                   ("elo", aggregate(elos, tune.aggregate)),
                   ("elo_stderr", stderr),
                   ("snapshots", [r.snapshot for r in runs])):
        trial.set_user_attr(key, v)
    if len(runs) > 1:
        trial.set_user_attr("seed_values", {str(r.seed): r.value for r in runs})
        trial.set_user_attr("seed_elos", {str(r.seed): r.elo for r in runs})
