"""Learning curves from run directories (seaborn): Elo against any counter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rlgo.runs import COUNTERS, load_metrics


def elo_curves(runs: Sequence[str | Path]) -> pd.DataFrame:
    """Tidy rows (run, counters..., elo, stderr) of every evaluation of every run."""
    frames = []
    for run in runs:
        df = load_metrics(run)
        wide = df[df.metric.isin(["eval/elo", "eval/elo_stderr"])].pivot_table(
            index=list(COUNTERS), columns="metric", values="value").reset_index()
        wide = wide.rename(columns={"eval/elo": "elo", "eval/elo_stderr": "stderr"})
        frames.append(wide.assign(run=Path(run).name))
    if not frames:
        raise ValueError("no runs given")
    return pd.concat(frames, ignore_index=True)


def plot_elo(runs: Sequence[str | Path], x: str = "env_steps", out: str | Path = "elo.png"
             ) -> Path:
    """Elo (with +-1 standard error bands) of each run against counter ``x``; saved as
    an image at ``out``."""
    if x not in COUNTERS:
        raise ValueError(f"x must be one of {COUNTERS}, got {x!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = elo_curves(runs)
    sns.set_theme(style="whitegrid")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, g in data.groupby("run", sort=False):
        g = g.sort_values(x)
        sns.lineplot(data=g, x=x, y="elo", marker="o", ax=ax, label=name)
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
