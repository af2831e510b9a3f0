"""Learning curves from run directories (seaborn): Elo against any counter.

Each run logs the Elo its snapshots had when they were rated (fitted over the games in
the database at that moment). Runs that shared one match database can instead be drawn on
the database's final scale (``db``): every snapshot's Elo is refitted over all games, so
the curves of several runs and learners are comparable point by point.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import MatchDB
from rlgo.training.runs import COUNTERS, RunDir, load_metrics

AXIS_LABELS = {
    "env_steps": "env steps (moves played, both colours)",
    "games": "self-play games",
    "nn_evals": "network evaluations (acting, opponent, learner)",
    "train_samples": "training samples (positions in gradient steps)",
    "wall_s": "training time (s, evaluation excluded)",
}


def elo_curves(runs: Sequence[str | Path], db: str | None = None) -> pd.DataFrame:
    """Tidy rows (run, counters..., policy, elo, stderr) of every evaluation of every
    run; ``policy`` is "raw" for ``eval/elo`` and "search" for ``eval/search/elo`` (runs
    with ``train.eval_search``). With ``db`` (the match database the runs shared) the Elo
    and its error are refitted over all of that database's games of the runs' board
    size (module docstring)."""
    frames = []
    for run in runs:
        df = load_metrics(run)
        for policy, prefix in (("raw", "eval/"), ("search", "eval/search/")):
            keys = {f"{prefix}elo": "elo", f"{prefix}elo_stderr": "stderr"}
            part = df[df.metric.isin(list(keys))]
            if part.empty:
                continue
            index = [c for c in COUNTERS if c in part.columns]  # rlgo 0.1 runs have fewer
            wide = part.pivot_table(index=index, columns="metric",
                                    values="value").reset_index().rename(columns=keys)
            frames.append(wide.assign(run=Path(run).name, policy=policy))
    if not frames:
        raise ValueError("no evaluations in the runs given" if runs else "no runs given")
    data = pd.concat(frames, ignore_index=True)
    return data if db is None else _refit(data, runs, db)


def _refit(data: pd.DataFrame, runs: Sequence[str | Path], db: str) -> pd.DataFrame:
    """Replace logged Elo by the final fit of ``db`` (snapshot names as the ladder gives
    them: ``<run>@<env_steps>``, ``:search=<n>`` with search)."""
    sizes = {int(RunDir(r).read_config()["train"]["board_size"]) for r in runs}
    if len(sizes) != 1:
        raise ValueError(f"runs on several board sizes {sorted(sizes)} share no Elo scale")
    table = fit_elo(MatchDB(db, read_only=True).games(board_size=sizes.pop(), with_sgf=False))
    elo = dict(zip(table.player, table.elo, strict=True))
    err = dict(zip(table.player, table.stderr, strict=True))
    search = {Path(r).name: RunDir(r).read_config()["train"].get("eval_search", 0)
              for r in runs}
    names = [f"{run}@{int(steps)}" + (f":search={search[run]}" if policy == "search" else "")
             for run, steps, policy in zip(data.run, data.env_steps, data.policy, strict=True)]
    missing = [n for n in names if n not in elo]
    if missing:
        raise ValueError(f"{len(missing)} snapshots have no games in {db} "
                         f"(e.g. {missing[0]!r}): is it the runs' database?")
    return data.assign(elo=[elo[n] for n in names], stderr=[err[n] for n in names])


def plot_elo(runs: Sequence[str | Path], x: str = "env_steps", out: str | Path = "elo.png",
             db: str | None = None) -> Path:
    """Elo (with +-1 standard error bands) of each run against counter ``x``, raw policy
    and, where evaluated, with search; saved as an image at ``out``. ``db``: draw on that
    shared database's final scale (:func:`elo_curves`)."""
    if x not in COUNTERS:
        raise ValueError(f"x must be one of {COUNTERS}, got {x!r}")
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = elo_curves(runs, db)
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, policy), g in data.groupby(["run", "policy"], sort=False):
        g = g.sort_values(x)
        label = name if policy == "raw" else f"{name} (with search)"
        sns.lineplot(data=g, x=x, y="elo", marker="o" if policy == "raw" else "s", ax=ax,
                     label=label)
        ax.fill_between(g[x], g.elo - g.stderr, g.elo + g.stderr, alpha=0.2)
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.set_ylabel("Elo (random = 0)")
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))  # 200k, 1.2M
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
