"""Learning curves from run directories (seaborn): Elo against any counter.

Each run logs the Elo its snapshots had when they were rated (fitted over the games in
the database at that moment). Runs that shared one match database can instead be drawn on
the database's final scale (``db``): every snapshot's Elo is refitted over all games, so
the curves of several runs and learners are comparable point by point.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import MatchDB
from rlgo.training import load_run_configs
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
    with ``eval.search``), with the logged ``bound`` (">" / "<" / "") and, for
    reference-table ratings, ``eval_games``. With ``db`` (the match database the runs
    shared) the Elo and its error are refitted over all of that database's games of the
    runs' board size (module docstring)."""
    frames = []
    for run in runs:
        df = load_metrics(run)
        for policy, prefix in (("raw", "eval/"), ("search", "eval/search/")):
            keys = {f"{prefix}elo": "elo", f"{prefix}elo_stderr": "stderr",
                    f"{prefix}elo_bound": "bound", f"{prefix}games": "eval_games"}
            part = df[df.metric.isin(list(keys))]
            if not part.metric.eq(f"{prefix}elo").any():
                continue
            index = [c for c in COUNTERS if c in part.columns]  # rlgo 0.1 runs have fewer
            wide = part.pivot_table(index=index, columns="metric",
                                    values="value").reset_index().rename(columns=keys)
            if "bound" in wide:  # logged as +1 / -1 / 0 (run_ladder, reference ratings)
                wide["bound"] = wide.bound.map({1.0: ">", -1.0: "<"}).fillna("")
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
    bound = dict(zip(table.player, table.bound, strict=True))
    search = {Path(r).name: load_run_configs(r).eval.search for r in runs}
    names = [f"{run}@{int(steps)}" + (f":search={search[run]}" if policy == "search" else "")
             for run, steps, policy in zip(data.run, data.env_steps, data.policy, strict=True)]
    missing = [n for n in names if n not in elo]
    if missing:
        raise ValueError(f"{len(missing)} snapshots have no games in {db} "
                         f"(e.g. {missing[0]!r}): is it the runs' database?")
    return data.assign(elo=[elo[n] for n in names], stderr=[err[n] for n in names],
                       bound=[bound[n] for n in names])


def default_plot_path(runs: Sequence[str | Path], x: str) -> Path:
    """Where ``rlgo plot`` writes without ``--out``: ``elo_<x>.png`` in the run's folder,
    or in the deepest folder that holds every run; never the current folder by default."""
    if not runs:
        raise ValueError("no runs given")
    folder = Path(os.path.commonpath([Path(r).resolve() for r in runs]))
    return folder / f"elo_{x}.png"


def plot_elo(runs: Sequence[str | Path], x: str = "env_steps", out: str | Path | None = None,
             db: str | None = None) -> Path:
    """Elo (with +-1 standard error bands) of each run against counter ``x``, raw policy
    and, where evaluated, with search; saved as an image at ``out`` (default
    :func:`default_plot_path`). ``db``: draw on that shared database's final scale
    (:func:`elo_curves`)."""
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
    out = Path(out) if out else default_plot_path(runs, x)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


# ----------------------------------------------------------------------- study figures

CURVE_AXES = ("env_steps", "games", "nn_evals", "wall_s")
"""The x-axes of a study's learning curves: per game played and per unit of compute."""


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def save_figure(fig, base: str | Path) -> dict[str, Path]:
    """Save ``fig`` as ``base``.png and .svg, then close it; returns file name -> path."""
    import matplotlib.pyplot as plt

    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for ext in ("png", "svg"):
        path = base.with_suffix(f".{ext}")
        fig.savefig(path, dpi=110)
        out[f"{base.name}.{ext}"] = path
    plt.close(fig)
    return out


def agent_palette(agents: Sequence[str]) -> dict[str, Any]:
    """One colour per agent, the same in every figure of a study (agents sorted)."""
    import seaborn as sns

    names = sorted(agents)
    return dict(zip(names, sns.color_palette(n_colors=len(names)), strict=True))


def interpolated_curves(results: pd.DataFrame, x: str, points: int = 40,
                        budget: float | None = None) -> pd.DataFrame:
    """Each run's Elo curve against counter ``x``, linearly interpolated onto a grid common
    to the seeds of its agent, so that seeds can be averaged point by point; tidy rows
    (agent, policy, seed, x, elo). The grid runs from 0 to the largest final ``x`` among
    the seeds, and a seed has rows only where it got to: averaged, each point is the
    mean of the seeds that reached it, and the curve ends at the slowest seed's last
    value (not where the fastest one stopped). With ``budget`` (``x`` is the study's
    budget counter) the grid ends at the budget instead, which every seed passed: the
    agents are compared at exactly the budget, not at their overshoots."""
    frames = []
    for (agent, policy), runs in results.groupby(["agent", "policy"], sort=False):
        ends = runs.groupby("seed")[x].max()
        end = float(ends.max())
        if budget is not None and ends.min() >= budget:
            end = float(budget)
        grid = np.linspace(0.0, end, points)
        for seed, g in runs.groupby("seed"):
            g = g.sort_values(x)
            reached = grid[grid <= float(g[x].max())]
            frames.append(pd.DataFrame({"agent": agent, "policy": policy, "seed": seed,
                                        "x": reached, "elo": np.interp(reached, g[x], g.elo)}))
    return pd.concat(frames, ignore_index=True)


def plot_study_curves(results: pd.DataFrame, base: str | Path,
                      budget: tuple[str, float] | None = None) -> dict[str, Path]:
    """Elo against env steps, games, network evaluations and wall time, one line per
    agent: at each x the mean over the seeds that reached it, with a 95% bootstrap band
    (no band with one seed; :func:`interpolated_curves`); agents evaluated with search
    get a dashed line for it. ``budget``: the study's (counter, amount); that panel ends
    at the budget. Writes ``base``.png and .svg."""
    import matplotlib.ticker

    plt, sns = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharey=True)
    seeds = results.groupby("agent").seed.nunique().max()
    agents = sorted(set(results.agent))
    search = (results.policy == "search").any()
    for ax, x in zip(axes.flat, CURVE_AXES, strict=True):
        data = interpolated_curves(results, x, budget=budget[1] if budget and budget[0] == x
                                   else None)
        data["policy"] = data.policy.map({"raw": "network", "search": "network + search"})
        style = {"style": "policy", "style_order": ["network", "network + search"]}
        sns.lineplot(data=data, x="x", y="elo", hue="agent", hue_order=agents,
                     palette=agent_palette(agents), **(style if search else {}), ax=ax,
                     errorbar=("ci", 95) if seeds > 1 else None, n_boot=1000, seed=0,
                     legend=ax is axes.flat[0])
        ax.axhline(0, color="grey", lw=1, ls=":")
        ax.set_xlabel(AXIS_LABELS[x])
        ax.set_ylabel("Elo (random = 0)")
        if data.x.max() >= 1000:
            ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[0].get_legend().remove()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 8), frameon=False)
    band = (f"mean of the seeds (of {seeds}) that reached each x, 95% bootstrap band"
            if seeds > 1 else "one seed per agent")
    cut = (f"; {AXIS_LABELS[budget[0]].split(' (')[0]} cut at the budget, {budget[1]:,.0f}"
           if budget and budget[0] in CURVE_AXES else "")
    fig.suptitle(f"Learning curves ({band}{cut})", y=0.95, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, base)


def plot_head_to_head(h2h: pd.DataFrame, order: Sequence[str],
                      base: str | Path) -> dict[str, Path]:
    """The league as a heatmap: the row player's mean score against the column player."""
    plt, sns = pyplot()
    order = [p for p in order if p in set(h2h.player)]
    matrix = h2h.pivot(index="player", columns="opponent", values="score").reindex(
        index=order, columns=order)
    size = max(5.0, 0.55 * len(order) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    ax.grid(False)
    sns.heatmap(matrix, annot=len(order) <= 16, fmt=".2f", vmin=0, vmax=1, cmap="RdBu",
                center=0.5, square=True, cbar_kws={"label": "score of row vs column"}, ax=ax)
    ax.set_xlabel("opponent")
    ax.set_ylabel("player")
    ax.set_title("League: mean score (win 1, draw 1/2)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, base)


def plot_final_elo(league: pd.DataFrame, agents: pd.DataFrame,
                   base: str | Path) -> dict[str, Path]:
    """Every league entrant's final Elo with its 95% interval (anchors in grey), and
    each agent's IQM across seeds with its bootstrap interval."""
    plt, sns = pyplot()
    rows = league.sort_values("elo")
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.38 * len(rows) + 1.2)))
    palette = agent_palette(list(agents.agent))
    for y, r in enumerate(rows.itertuples()):
        color = "grey" if r.anchor else palette.get(r.agent, "C0")
        bound = getattr(r, "bound", "") or ""
        if bound:  # a saturated record: only a bound, drawn as an arrow from it
            ax.annotate("", (r.bound_elo + (80 if bound == ">" else -80), y),
                        (r.bound_elo, y), arrowprops={"arrowstyle": "->", "color": color})
            ax.annotate(f"{bound} {r.bound_elo:.0f}", (r.bound_elo, y), xytext=(0, 6),
                        textcoords="offset points", ha="center", fontsize=8)
            continue
        ax.errorbar(r.elo, y, xerr=[[r.elo - r.lo], [r.hi - r.elo]], fmt="o", color=color,
                    capsize=3)
        ax.annotate(f"{r.elo:.0f}", (r.hi, y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), list(rows.player))
    for a in agents.itertuples():
        ax.axvline(a.iqm_elo, color=palette[a.agent], lw=1, ls="--", alpha=0.6)
    ax.set_xlabel("Elo (random = 0), 95% interval; dashed: each agent's IQM over seeds")
    ax.set_title("Final Elo on the study's scale", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, base)
