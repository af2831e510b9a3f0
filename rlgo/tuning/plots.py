"""Figures of an Optuna tuning (:mod:`rlgo.tuning.report`), drawn from its tidy tables
(:func:`rlgo.tuning.report.trials_table`, :func:`rlgo.tuning.report.intermediate_table`) with
seaborn rather than ``optuna.visualization.matplotlib``, whose axes read "Objective Value"
and which cannot show the pruned trials' last evaluations or the Elo's standard errors.

Every figure is 7 inches wide and saved at 100 dpi (700 pixels) as PNG and as SVG. States
keep one colour throughout: complete blue, pruned orange, failed grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

COLOURS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#7f7f7f",
           "running": "#2ca02c"}
"""Colour of each trial state (as :func:`rlgo.tuning.report.trials_table` spells them)."""
STEP_LABEL = "env steps (moves played, both colours)"
WIDTH = 7.0
DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    return plt


def _save(fig, stem: Path) -> list[Path]:
    """``stem``.png and ``stem``.svg."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, dpi=DPI)
    return paths


def _state_label(state: str, n: int) -> str:
    return f"{'failed' if state == 'fail' else state} ({n})"


def plot_history(trials: pd.DataFrame, label: str, title: str, stem: Path) -> list[Path]:
    """Each trial's objective by trial number (complete with +-1 standard error when the
    objective is the Elo, pruned at their last evaluation, failed as ticks along the
    bottom) and the best value so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
    done = trials[trials.state == "complete"].sort_values("number")
    if not done.empty:
        err = done.elo_stderr if label.startswith("Elo") and "elo_stderr" in done else None
        ax.errorbar(done.number, done.value, yerr=err, fmt="o", color=COLOURS["complete"],
                    ecolor="#9ecae1", capsize=2, label=_state_label("complete", len(done)))
        best = done.value.cummax()
        ax.step(done.number, best, where="post", color="black", lw=1.2, label="best so far")
    pruned = trials[(trials.state == "pruned") & trials.last_value.notna()]
    if not pruned.empty:
        ax.scatter(pruned.number, pruned.last_value, marker="x", color=COLOURS["pruned"],
                   label=_state_label("pruned", len(pruned)) + ", last evaluation")
    failed = trials[trials.state == "fail"]
    if not failed.empty:
        ax.scatter(failed.number, [0.0] * len(failed), marker="|", s=200,
                   color=COLOURS["fail"], transform=ax.get_xaxis_transform(),
                   label=_state_label("fail", len(failed)), clip_on=False)
    ax.set_xlabel("trial number")
    ax.set_ylabel(label)
    ax.set_title(f"Optimisation history: {title}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="best", fontsize=9)
    out = _save(fig, stem)
    plt.close(fig)
    return out


def plot_curves(intermediate: pd.DataFrame, label: str, title: str, stem: Path,
                best: int | None = None) -> list[Path]:
    """Every trial's reported values against env steps, coloured by how it ended; the
    best trial drawn thick."""
    import matplotlib.ticker

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
    counts = intermediate.groupby("state").number.nunique()
    labelled = set()
    for (_, state), g in intermediate.groupby(["number", "state"], sort=True):
        g = g.sort_values("step")
        first = state not in labelled
        labelled.add(state)
        ax.plot(g.step, g.value, marker="o", ms=3, lw=1, alpha=0.7,
                color=COLOURS.get(state, "black"),
                label=_state_label(state, counts[state]) if first else None)
    if best is not None and best in set(intermediate.number):
        g = intermediate[intermediate.number == best].sort_values("step")
        ax.plot(g.step, g.value, color="black", lw=2.2, label=f"best: trial {best}")
    ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))  # 20k
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(label)
    ax.set_title(f"Evaluations during training: {title}")
    ax.legend(loc="best", fontsize=9)
    out = _save(fig, stem)
    plt.close(fig)
    return out


def plot_importances(importances: dict[str, float], completed: int, quantile: float,
                     title: str, stem: Path) -> list[Path]:
    """Optuna's parameter importances (PED-ANOVA over the ``completed`` trials, for
    reaching their top ``quantile``; :func:`rlgo.tuning.report.importances`) as bars."""
    plt = _pyplot()
    names = list(importances)[::-1]  # most important on top
    fig, ax = plt.subplots(figsize=(WIDTH, 1.4 + 0.45 * len(names)))
    ax.barh(names, [importances[n] for n in names], color=COLOURS["complete"])
    for y, n in enumerate(names):
        ax.text(importances[n], y, f" {importances[n]:.2f}", va="center", fontsize=9)
    ax.set_xlim(0, max(1.0, max(importances.values()) * 1.15))
    ax.set_xlabel(f"importance (PED-ANOVA, top {quantile:.0%} of {completed} completed "
                  "trials)")
    ax.set_title(f"Parameter importances: {title}")
    out = _save(fig, stem)
    plt.close(fig)
    return out


def plot_slices(trials: pd.DataFrame, params: Sequence[tuple[str, str, tuple]], label: str,
                title: str, stem: Path) -> list[Path]:
    """The objective against each parameter (``params``: name, scale "linear", "log" or
    "categorical", and the choices of a categorical one): complete trials as dots,
    pruned ones as crosses at their last evaluation."""
    plt = _pyplot()
    cols = min(3, len(params))
    rows = -(-len(params) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 0.6 + 2.6 * rows), sharey=True,
                             squeeze=False)
    for ax, (name, scale, choices) in zip(axes.flat, params, strict=False):
        for state, marker in (("complete", "o"), ("pruned", "x")):
            y = "value" if state == "complete" else "last_value"
            part = trials[(trials.state == state) & trials[y].notna()]
            if part.empty:
                continue
            x = part[name]
            if scale == "categorical":  # every choice on the axis, in the file's order
                x = [[str(c) for c in choices].index(str(v)) for v in x]
            ax.scatter(x, part[y], marker=marker, color=COLOURS[state], s=22,
                       label=_state_label(state, len(part)))
        if scale == "log":
            ax.set_xscale("log")
        if scale == "categorical":
            ax.set_xticks(range(len(choices)), [str(c) for c in choices])
            ax.set_xlim(-0.5, len(choices) - 0.5)
        ax.set_xlabel(name)
        ax.tick_params(axis="x", labelsize=8)
    for ax in axes.flat[len(params):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(label)
    if axes.flat[0].get_legend_handles_labels()[0]:
        axes.flat[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Objective by parameter: {title}")
    out = _save(fig, stem)
    plt.close(fig)
    return out
