"""``rlgo tune``: run or resume a tuning (:mod:`rlgo.tuning.workers`), then write its
report into the tuning's output folder:

    trials.csv         one row per trial: number, state, value, each parameter, the user
                       attributes (env_steps, elo, elo_stderr, wall_s, total_s, worker,
                       run_dir, failed_reason), reports (evaluations reported),
                       last_value (the last one), duration_s, elo_refit /
                       elo_refit_stderr (below) and, with several seeds per trial,
                       value_seed<S> and elo_seed<S> for each seed S
    intermediate.csv   one row per reported evaluation: number, state, step, value
    figures/           history, curves, slices, importances (PNG and SVG;
                       :mod:`rlgo.tuning.plots`)
    best.toml          the best trial's config, for ``rlgo train --config``

Each trial's ``elo`` is its final snapshots' Elo (aggregated over its seeds as its value
is) fitted when they were evaluated, over the games in the shared database by then.
``elo_refit`` rates the same snapshots over every game in the database at report time,
the one scale on which all trials' final snapshots compare best (empty when trials are
rated on a reference table: their logged Elo is on its fixed scale already); ``elo_stderr`` and
``elo_refit_stderr`` are the match noise of that aggregate (the seeds' standard errors
combined as for a mean), not the spread between seeds, which the per-seed columns show.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import MatchDB, MatchDBError
from rlgo.training.config import dump_toml
from rlgo.tuning import plots
from rlgo.tuning.config import TuneConfig, load_tune, trial_configs
from rlgo.tuning.objective import aggregate
from rlgo.tuning.storage import open_study
from rlgo.tuning.workers import TuneError, run_tuning

#: User attributes written to trials.csv, in this order (``config`` is left out: it is
#: the trial's whole config, exported as best.toml for the best one).
ATTRS = ("env_steps", "elo", "elo_stderr", "wall_s", "total_s", "worker", "run_dir",
         "failed_reason")


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial (module docstring); states lower-case ("complete", "pruned",
    "fail", "running")."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        end = t.datetime_complete
        per_seed = {f"{what}_seed{seed}": v
                    for what, attr in (("value", "seed_values"), ("elo", "seed_elos"))
                    for seed, v in t.user_attrs.get(attr, {}).items()}
        rows.append({
            "number": t.number, "state": t.state.name.lower(), "value": t.value,
            **t.params,
            **{k: t.user_attrs.get(k) for k in ATTRS},
            "reports": len(t.intermediate_values),
            "last_value": t.intermediate_values[t.last_step] if t.last_step is not None
            else None,
            "duration_s": (end - t.datetime_start).total_seconds()
            if end and t.datetime_start else None,
            **per_seed,
        })
    return pd.DataFrame(rows)


def intermediate_table(study: optuna.Study) -> pd.DataFrame:
    """One row per reported value: number, state, step (env steps), value."""
    rows = [{"number": t.number, "state": t.state.name.lower(), "step": step, "value": v}
            for t in study.get_trials(deepcopy=False)
            for step, v in sorted(t.intermediate_values.items())]
    return pd.DataFrame(rows, columns=["number", "state", "step", "value"])


def refit_elo(study: optuna.Study, tune: TuneConfig) -> pd.DataFrame:
    """:func:`trials_table` with ``elo_refit`` and ``elo_refit_stderr``: each trial's last
    rated snapshots (one per seed, ``<run>@<env_steps>``) fitted over all games of the
    shared database and aggregated as the trial's value is; NaN where a snapshot has no
    games (or the database cannot be read)."""
    trials = trials_table(study)
    refit = {"elo_refit": [math.nan] * len(trials), "elo_refit_stderr": [math.nan] * len(trials)}
    if trial_configs(tune, {}).eval.reference:  # logged on the table's fixed scale: final
        return trials.assign(**refit)
    try:
        games = MatchDB(tune.db_url, read_only=True).games(board_size=tune.board_size,
                                                           with_sgf=False)
        table = fit_elo(games) if not games.empty else None
    except (MatchDBError, ValueError):
        table = None
    if table is not None:
        elo = dict(zip(table.player, table.elo, strict=True))
        err = dict(zip(table.player, table.stderr, strict=True))
        for i, t in enumerate(study.get_trials(deepcopy=False)):
            names = t.user_attrs.get("snapshots") or (  # studies made before "snapshots"
                [f"{t.number}@{t.user_attrs['env_steps']}"] if "env_steps" in t.user_attrs
                else [])
            if names:
                refit["elo_refit"][i] = aggregate([elo.get(n, math.nan) for n in names],
                                                  tune.aggregate)
                refit["elo_refit_stderr"][i] = math.sqrt(
                    sum(err.get(n, math.nan) ** 2 for n in names)) / len(names)
    return trials.assign(**refit)


def importances(study: optuna.Study) -> tuple[dict[str, float] | None, float, str]:
    """Optuna's parameter importances (PED-ANOVA: how far each parameter's distribution
    among the top ``quantile`` of completed trials departs from its distribution over
    them all), the quantile, and why None when there are none. The quantile is 10%, or
    the best two trials when there are fewer than 20 (at most half)."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(completed) < 2:
        return None, math.nan, (f"parameter importances need 2 completed trials, the study "
                                f"has {len(completed)}")
    quantile = min(0.5, max(0.1, 2 / len(completed)))
    evaluator = optuna.importance.PedAnovaImportanceEvaluator(target_quantile=quantile)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as exc:
        return None, quantile, f"parameter importances: {exc}"
    if any("same set of trials" in str(w.message) for w in caught):
        return None, quantile, (f"parameter importances: {len(completed)} completed trials "
                                "are too few to tell the best apart")
    return values, quantile, ""


def write_figures(study: optuna.Study, tune: TuneConfig, trials: pd.DataFrame,
                  intermediate: pd.DataFrame, folder: Path) -> tuple[list[Path], list[str]]:
    """The report's figures; returns the files and notes on figures left out."""
    paths: list[Path] = []
    notes: list[str] = []
    label, title = tune.objective_label, tune.name
    if trials.empty:
        return paths, ["no trials: no figures"]
    paths += plots.plot_history(trials, label, title, folder / "history")
    best = _best(study)
    if not intermediate.empty:
        paths += plots.plot_curves(intermediate, label, title, folder / "curves",
                                          best=None if best is None else best.number)
    params = [(p.key, "categorical" if p.type == "categorical" else
               "log" if p.log else "linear", p.choices) for p in tune.space if p.key in trials]
    if params:
        paths += plots.plot_slices(trials, params, label, title, folder / "slices")
    values, quantile, why = importances(study)
    if values:
        completed = int((trials.state == "complete").sum())
        paths += plots.plot_importances(values, completed, quantile, title,
                                               folder / "importances")
    elif why:
        notes.append(why)
    return paths, notes


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:
        return None


def write_report(study: optuna.Study, tune: TuneConfig) -> str:
    """Write the report (module docstring); returns a short summary."""
    out = tune.out_dir
    out.mkdir(parents=True, exist_ok=True)
    trials = refit_elo(study, tune) if len(study.trials) else trials_table(study)
    intermediate = intermediate_table(study)
    trials.to_csv(out / "trials.csv", index=False)
    intermediate.to_csv(out / "intermediate.csv", index=False)
    figures, notes = write_figures(study, tune, trials, intermediate, out / "figures")
    states = trials.state.value_counts().to_dict() if not trials.empty else {}
    words = {"fail": "failed"}
    lines = [f"study {tune.name}: {len(trials)} of {tune.trials} trials ("
             + ", ".join(f"{states[s]} {words.get(s, s)}" for s in
                         ("complete", "pruned", "fail", "running", "waiting") if s in states)
             + f") in {out}"]
    best = _best(study)
    if best is not None:
        export_best(study, out / "best.toml")
        lines.append(f"best: {describe_trial(best, tune)}")
        lines.append(f"  train it: rlgo train --config {out / 'best.toml'}")
    else:
        notes.append("no completed trial: no best.toml")
    lines += [f"failed: {describe_trial(t, tune)}"
              for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]
    lines.append(f"wrote {out / 'trials.csv'}, {out / 'intermediate.csv'} and "
                 f"{len(figures) // 2} figures in {out / 'figures'}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def tune_main(path: str | Path, workers: int = 1, report_only: bool = False,
              echo: Callable[[str], None] | None = print, *,
              allow_commands: bool = False,
              say: Callable[[str], None] | None = None) -> str:
    """``rlgo tune FILE``: run or resume the tuning of file ``path`` with ``workers``
    processes (unless ``report_only``: the study must exist), then write the report
    (module docstring). ``echo`` gets one line per trial as trials end. Returns a short
    summary. Raises ValueError (bad tuning file, ladder or output folder; no such study
    with ``report_only``), :class:`rlgo.tuning.workers.TuneError` (a worker process
    failed; the report of the trials that ended is written first) and KeyboardInterrupt
    (SIGINT or SIGTERM: rerun to go on). ``allow_commands``: the user's
    ``--allow-commands`` (:attr:`rlgo.tuning.config.TuneConfig.allow_commands`); ``say`` gets
    notes (more workers than cores, a torn journal set aside)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trial lines say it all
    tune = load_tune(path, allow_commands=allow_commands)
    if report_only:
        study = open_study(tune, create=False)
    else:
        def line(t: FrozenTrial) -> None:
            if echo is not None:
                echo(describe_trial(t, tune))

        try:
            study = run_tuning(path, workers, on_trial=line, allow_commands=allow_commands,
                               say=say)
        except TuneError:
            write_report(open_study(tune, create=False), tune)  # what did finish
            raise
    return write_report(study, tune)



def describe_trial(t: FrozenTrial, tune: TuneConfig) -> str:
    """One line: number, state, value, parameters and, for a failure, why."""
    value = "" if t.value is None else f" {t.value:.4g}"
    stderr = t.user_attrs.get("elo_stderr")
    if value and tune.objective == "elo" and stderr is not None:
        value += f" ± {stderr:.0f}"
    params = ", ".join(f"{k} = {_fmt(v)}" for k, v in t.params.items())
    why = t.user_attrs.get("failed_reason")
    return (f"trial {t.number} {t.state.name.lower()}{value} at "
            f"{t.user_attrs.get('env_steps', 0):,} env steps ({params})"
            + (f": {why}" if why and t.state == TrialState.FAIL else ""))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def export_best(source: str | Path | optuna.Study, out_file: str | Path) -> Path:
    """Write the best completed trial's config (its fixed values and sampled
    parameters, as trained; without ``db``, the tuning's) as a config file that
    ``rlgo train --config`` takes unchanged (the first of its seeds). ``source``: a tuning
    file or its study.
    ValueError when no trial has completed."""
    study = source if isinstance(source, optuna.Study) else open_study(
        load_tune(source), create=False)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"study {study.study_name!r} has no completed trial yet")
    best = study.best_trial
    sections = {k: dict(v) for k, v in best.user_attrs["config"].items()}
    sections["train"].pop("db", None)
    head = (f"# best trial {best.number} of study {study.study_name!r}: objective "
            f"{best.value:.4g}; params {best.params}\n"
            "# train it: rlgo train --config <this file> [--env-steps N] [--out DIR]\n\n")
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(head + dump_toml(sections))
    return out
