"""``rlgo tune FILE --retrain N --seeds 10,11,12``: a stored trial's config trained again
on new seeds, to see how much of its value survives outside the seeds it was picked on.

Each seed trains the trial's config exactly as stored in the study (its user attribute
``config``: the fixed values and sampled parameters, the match database included), with
only ``train.seed`` changed, in ``<out>/retrain/<N>-seed<S>``. Its games go to the
tuning's match database, so its snapshots are rated on the scale the trials were. A run
that already exists resumes (a finished one is read back), so the command can be stopped
and rerun. The table, one row per seed, is written to ``<out>/retrain/trial<N>.csv``:

    trial, seed, value, elo, elo_stderr, env_steps, run_dir

``value`` is the final value of the tuning's objective (``eval/elo`` or the mean score
against the named opponent).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from rlgo.registry import get_learner
from rlgo.training import RunConfigs, Trainer
from rlgo.training.runs import load_metrics
from rlgo.tuning.config import TuneConfig, load_tune
from rlgo.tuning.objective import aggregate
from rlgo.tuning.storage import open_study


def retrain_dir(tune: TuneConfig, number: int, seed: int) -> Path:
    return tune.out_dir / "retrain" / f"{number}-seed{seed}"


def stored_trial(tune: TuneConfig, number: int) -> FrozenTrial:
    """Trial ``number`` of the tuning's study, complete or pruned, with its config
    stored; ValueError otherwise."""
    study = open_study(tune, create=False)
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found:
        raise ValueError(f"study {tune.name!r} has no trial {number} (it has "
                         f"{len(study.trials)}: 0 to {len(study.trials) - 1})")
    trial = found[0]
    if "config" not in trial.user_attrs:
        raise ValueError(f"trial {number} of {tune.name!r} stored no config (state "
                         f"{trial.state.name.lower()}); nothing to retrain")
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        note = trial.user_attrs.get("failed_reason", trial.state.name.lower())
        raise ValueError(f"trial {number} of {tune.name!r} did not complete ({note}); "
                         "retrain a complete or pruned trial")
    return trial


def retrain(path: str | Path, number: int, seeds: Sequence[int], *,
            allow_commands: bool = False, progress: bool = False,
            echo: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, str]:
    """Train trial ``number`` of the tuning in file ``path`` on each of ``seeds``
    (module docstring); returns the table it writes and a one-line summary. ``echo``
    gets a line per seed."""
    tune = load_tune(path, allow_commands=allow_commands)
    if not seeds:
        raise ValueError("name the seeds to retrain on, e.g. --seeds 100,101,102")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat: {list(seeds)}")
    used = set(tune.seeds) & set(seeds)
    if used:
        raise ValueError(f"seeds {sorted(used)} are the tuning's own; retrain on others")
    trial = stored_trial(tune, number)
    tables = copy.deepcopy(trial.user_attrs["config"])
    entry = get_learner(tune.learner)
    rows = []
    for seed in seeds:
        tables["train"]["seed"] = seed
        c = RunConfigs.from_tables(tables, f"trial {number} of {tune.name!r}", entry)
        out = retrain_dir(tune, number, seed)
        trainer = Trainer(c, out, progress=progress, allow_commands=allow_commands)
        try:
            trainer.fit()
        finally:
            trainer.db().close()
        row = {"trial": number, "seed": seed, **_final(out, tune), "run_dir": str(out)}
        rows.append(row)
        if echo is not None:
            echo(f"trial {number} seed {seed}: {tune.metric} {row['value']:.4g} at "
                 f"{row['env_steps']:,} env steps ({out})")
    table = pd.DataFrame(rows)
    target = tune.out_dir / "retrain" / f"trial{number}.csv"
    table.to_csv(target, index=False)
    return table, summary(table, tune, trial.value)


def _final(out: Path, tune: TuneConfig) -> dict[str, float]:
    """The last evaluation of the run in ``out``: the objective's value, its Elo and the
    env steps it was rated at."""
    metrics = load_metrics(out)
    last = metrics[metrics.metric == "eval/elo"].env_steps.max()
    at = metrics[metrics.env_steps == last].set_index("metric").value
    return {"value": float(at.get(tune.metric, math.nan)),
            "elo": float(at.get("eval/elo", math.nan)),
            "elo_stderr": float(at.get("eval/elo_stderr", math.nan)),
            "env_steps": int(last)}


def summary(table: pd.DataFrame, tune: TuneConfig, tuned_value: float | None) -> str:
    """One line: the retrained seeds' aggregate beside the value the tuning saw."""
    mean = aggregate(list(table.value), tune.aggregate)
    seen = "" if tuned_value is None else f" (in tuning: {tuned_value:.4g})"
    return (f"trial {int(table.trial.iloc[0])} on {len(table)} new seeds: {tune.aggregate} "
            f"{tune.metric} {mean:.4g}{seen}")
