"""``rlgo tune``: run or resume a search (:mod:`rlgo.study.search`,
:mod:`rlgo.study.workers`), then write its report into the search's output folder:

    trials.csv         one row per trial: number, state, value, each parameter, the user
                       attributes (env_steps, elo, elo_stderr, wall_s, total_s, worker,
                       run_dir, failed_reason), reports (evaluations reported),
                       last_value (the last one), duration_s, and elo_refit /
                       elo_refit_stderr (below)
    intermediate.csv   one row per reported evaluation: number, state, step, value
    figures/           history, curves, slices, importances (PNG and SVG;
                       :mod:`rlgo.study.search_plots`)
    best.toml          the best trial's config, for ``rlgo train --config``

Each trial's ``elo`` is its final snapshot's Elo fitted when it was evaluated, over the
games in the shared database by then: the value the search optimised. ``elo_refit`` rates
the same snapshot over every game in the database at report time, the one scale on which
all trials' final snapshots compare best.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import MatchDB, MatchDBError
from rlgo.study import search_plots
from rlgo.study.search import Search, describe_trial, export_best, load_search, open_study
from rlgo.study.workers import SearchError, run_search

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
        rows.append({
            "number": t.number, "state": t.state.name.lower(), "value": t.value,
            **t.params,
            **{k: t.user_attrs.get(k) for k in ATTRS},
            "reports": len(t.intermediate_values),
            "last_value": t.intermediate_values[t.last_step] if t.last_step is not None
            else None,
            "duration_s": (end - t.datetime_start).total_seconds()
            if end and t.datetime_start else None,
        })
    return pd.DataFrame(rows)


def intermediate_table(study: optuna.Study) -> pd.DataFrame:
    """One row per reported value: number, state, step (env steps), value."""
    rows = [{"number": t.number, "state": t.state.name.lower(), "step": step, "value": v}
            for t in study.get_trials(deepcopy=False)
            for step, v in sorted(t.intermediate_values.items())]
    return pd.DataFrame(rows, columns=["number", "state", "step", "value"])


def refit_elo(trials: pd.DataFrame, search: Search) -> pd.DataFrame:
    """``trials`` with ``elo_refit`` and ``elo_refit_stderr``: each trial's last rated
    snapshot (``<number>@<env_steps>``) fitted over all games of the shared database;
    NaN where the snapshot has no games (or the database cannot be read)."""
    refit = {"elo_refit": [math.nan] * len(trials), "elo_refit_stderr": [math.nan] * len(trials)}
    try:
        games = MatchDB(search.db_url, read_only=True).games(board_size=search.board_size,
                                                             with_sgf=False)
        table = fit_elo(games) if not games.empty else None
    except (MatchDBError, ValueError):
        table = None
    if table is not None:
        elo = dict(zip(table.player, table.elo, strict=True))
        err = dict(zip(table.player, table.stderr, strict=True))
        for i, (number, steps) in enumerate(zip(trials.number, trials.env_steps, strict=True)):
            if steps is not None and not pd.isna(steps):
                name = f"{number}@{int(steps)}"
                refit["elo_refit"][i] = elo.get(name, math.nan)
                refit["elo_refit_stderr"][i] = err.get(name, math.nan)
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


def write_figures(study: optuna.Study, search: Search, trials: pd.DataFrame,
                  intermediate: pd.DataFrame, folder: Path) -> tuple[list[Path], list[str]]:
    """The report's figures; returns the files and notes on figures left out."""
    paths: list[Path] = []
    notes: list[str] = []
    label, title = search.objective_label, search.name
    if trials.empty:
        return paths, ["no trials: no figures"]
    paths += search_plots.plot_history(trials, label, title, folder / "history")
    best = _best(study)
    if not intermediate.empty:
        paths += search_plots.plot_curves(intermediate, label, title, folder / "curves",
                                          best=None if best is None else best.number)
    params = [(p.key, "categorical" if p.type == "categorical" else
               "log" if p.log else "linear", p.choices) for p in search.space if p.key in trials]
    if params:
        paths += search_plots.plot_slices(trials, params, label, title, folder / "slices")
    values, quantile, why = importances(study)
    if values:
        completed = int((trials.state == "complete").sum())
        paths += search_plots.plot_importances(values, completed, quantile, title,
                                               folder / "importances")
    elif why:
        notes.append(why)
    return paths, notes


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:
        return None


def write_report(study: optuna.Study, search: Search) -> str:
    """Write the report (module docstring); returns a short summary."""
    out = search.out_dir
    out.mkdir(parents=True, exist_ok=True)
    trials = refit_elo(trials_table(study), search) if len(study.trials) else trials_table(study)
    intermediate = intermediate_table(study)
    trials.to_csv(out / "trials.csv", index=False)
    intermediate.to_csv(out / "intermediate.csv", index=False)
    figures, notes = write_figures(study, search, trials, intermediate, out / "figures")
    states = trials.state.value_counts().to_dict() if not trials.empty else {}
    words = {"fail": "failed"}
    lines = [f"study {search.name}: {len(trials)} of {search.trials} trials ("
             + ", ".join(f"{states[s]} {words.get(s, s)}" for s in
                         ("complete", "pruned", "fail", "running", "waiting") if s in states)
             + f") in {out}"]
    best = _best(study)
    if best is not None:
        export_best(study, out / "best.toml")
        lines.append(f"best: {describe_trial(best, search)}")
        lines.append(f"  train it: rlgo train --config {out / 'best.toml'}")
    else:
        notes.append("no completed trial: no best.toml")
    lines += [f"failed: {describe_trial(t, search)}"
              for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]
    lines.append(f"wrote {out / 'trials.csv'}, {out / 'intermediate.csv'} and "
                 f"{len(figures) // 2} figures in {out / 'figures'}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def tune_main(path: str | Path, workers: int = 1, report_only: bool = False,
              echo: Callable[[str], None] | None = print, *,
              allow_commands: bool = False,
              say: Callable[[str], None] | None = None) -> str:
    """``rlgo tune FILE``: run or resume the search of file ``path`` with ``workers``
    processes (unless ``report_only``: the study must exist), then write the report
    (module docstring). ``echo`` gets one line per trial as trials end. Returns a short
    summary. Raises ValueError (bad search file, ladder or output folder; no such study
    with ``report_only``), :class:`rlgo.study.workers.SearchError` (a worker process
    failed; the report of the trials that ended is written first) and KeyboardInterrupt
    (SIGINT or SIGTERM: rerun to go on). ``allow_commands``: the user's
    ``--allow-commands`` (:attr:`rlgo.study.search.Search.allow_commands`); ``say`` gets
    notes (more workers than cores, a torn journal set aside)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trial lines say it all
    search = load_search(path, allow_commands=allow_commands)
    if report_only:
        study = open_study(search, create=False)
    else:
        def line(t: FrozenTrial) -> None:
            if echo is not None:
                echo(describe_trial(t, search))

        try:
            study = run_search(path, workers, on_trial=line, allow_commands=allow_commands,
                               say=say)
        except SearchError:
            write_report(open_study(search, create=False), search)  # what did finish
            raise
    return write_report(study, search)
