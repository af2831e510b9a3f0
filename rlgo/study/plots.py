"""Learning curves from run directories (seaborn): Elo against any counter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rlgo.training.runs import COUNTERS, load_metrics


def elo_curves(runs: Sequence[str | Path]) -> pd.DataFrame:
    """Tidy rows (run, counters..., policy, elo, stderr) of every evaluation of every
    run; ``policy`` is "raw" for ``eval/elo`` and "search" for ``eval/search/elo`` (runs
    with ``train.eval_search``)."""
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
    return pd.concat(frames, ignore_index=True)


def plot_elo(runs: Sequence[str | Path], x: str = "env_steps", out: str | Path = "elo.png"
             ) -> Path:
    """Elo (with +-1 standard error bands) of each run against counter ``x``, raw policy
    and, where evaluated, with search; saved as an image at ``out``."""
    if x not in COUNTERS:
        raise ValueError(f"x must be one of {COUNTERS}, got {x!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = elo_curves(runs)
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
    ax.set_xlabel(x)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
