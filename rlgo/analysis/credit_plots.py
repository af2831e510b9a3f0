"""Figures of ``rlgo analyze credit`` (seaborn): the headline (credit quality by phase of
the game, gradient cosine along training, bits per sample, bits per FLOP) and the details
(by stakes, rank correlation, gradient noise scale, judged policy quality)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rlgo.analysis.measures import PHASES, STAKES
from rlgo.study.plots import agent_palette, pyplot, save_figure


def kappa_by(summary: pd.DataFrame, groups: tuple[str, ...], name: str) -> pd.DataFrame:
    """Long table (learner, run, env_steps, ``name``, kappa) from the per-cell
    ``sign_kappa_<group>`` columns."""
    long = summary.melt(id_vars=["learner", "run", "env_steps"],
                        value_vars=[f"sign_kappa_{g}" for g in groups], var_name=name,
                        value_name="kappa")
    long[name] = long[name].str.removeprefix("sign_kappa_")
    return long[long.kappa.notna()]


def _kappa_panel(ax, sns, summary: pd.DataFrame, groups: tuple[str, ...], name: str,
                 learners: list[str], palette: dict) -> None:
    """Sign-agreement kappa per group and learner, mean and 95% CI over snapshots."""
    sns.pointplot(kappa_by(summary, groups, name), x=name, y="kappa", hue="learner",
                  order=list(groups), hue_order=learners, palette=palette,
                  dodge=0.3 if len(learners) > 1 else False, errorbar=("ci", 95), ax=ax)
    ax.axhline(0.0, color="grey", lw=1, ls="--")


def _strip_panel(ax, sns, summary: pd.DataFrame, y: str, learners: list[str],
                 palette: dict) -> None:
    """One point per snapshot and learner, on a log axis."""
    sns.stripplot(summary, x="learner", y=y, hue="learner", order=learners,
                  hue_order=learners, palette=palette, size=8, legend=False, ax=ax)
    ax.set(yscale="log", xlabel="")


def credit_figures(summary: pd.DataFrame, folder: Path
                   ) -> dict[str, Path]:
    """Both figures as png and svg in ``folder``."""
    plt, sns = pyplot()
    learners = sorted(summary.learner.unique())
    palette = agent_palette(learners)
    written: dict[str, Path] = {}

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0, 0]
    _kappa_panel(ax, sns, summary, PHASES, "phase", learners, palette)
    ax.set(xlabel="phase of the game (thirds by move number)",
           ylabel="sign agreement with A*, Cohen's kappa",
           title="Does the played move's credit have the judge's sign?\n"
                 "(0: chance; mean and 95% CI over snapshots)")
    ax = axes[0, 1]
    sns.lineplot(summary, x="env_steps", y="cos_oracle_played", hue="learner",
                 hue_order=learners, palette=palette, marker="o", errorbar=None, ax=ax,
                 units="run", estimator=None)
    ax.axhline(0.0, color="grey", lw=1, ls="--")
    ax.set(xlabel="env steps of the snapshot", ylabel="cosine(learner's gradient, oracle's)",
           title="Batch policy gradient against the judge's, along training")
    ax = axes[1, 0]
    _strip_panel(ax, sns, summary, "bits_per_sample", learners, palette)
    ax.set(ylabel="bits per sample",
           title="Information per trained-on position\n(MCTS: KL(target || policy); others: "
                 "H(p_win) per game, shared)")
    ax = axes[1, 1]
    _strip_panel(ax, sns, summary, "bits_per_flop", learners, palette)
    ax.set(ylabel="bits per FLOP",
           title="bits/FLOP = samples/FLOP x bits/sample")
    fig.tight_layout()
    written.update(save_figure(fig, folder / "credit_headline"))

    fig, axes = plt.subplots(2, 3, figsize=(18, 9))
    ax = axes[0, 0]
    _kappa_panel(ax, sns, summary, STAKES, "stakes", learners, palette)
    ax.set(xlabel="|A*| of the move played: < 0.05, < 0.25, larger",
           ylabel="sign agreement, Cohen's kappa",
           title="Credit quality by how much the move mattered")
    ax = axes[0, 1]
    ranked = summary[summary.spearman.notna()]
    if len(ranked):
        sns.lineplot(ranked, x="env_steps", y="spearman", hue="learner",
                     hue_order=[x for x in learners if x in set(ranked.learner)],
                     palette=palette, marker="o", units="run", estimator=None, ax=ax)
    ax.axhline(0.0, color="grey", lw=1, ls="--")
    ax.set(xlabel="env steps of the snapshot",
           ylabel="Spearman(credit vector, A*) over legal moves",
           title="Rank correlation, mean over positions\n(learners that credit every move)")
    ax = axes[1, 0]
    noise = summary.melt(id_vars=["learner", "env_steps", "run"],
                         value_vars=["noise_scale_games", "noise_scale_games_oracle"],
                         var_name="credit", value_name="scale")
    noise["credit"] = noise.credit.map({"noise_scale_games": "learner's",
                                        "noise_scale_games_oracle": "oracle's (A*)"})
    noise = noise[np.isfinite(noise.scale) & (noise.scale > 0)]
    if len(noise):
        sns.stripplot(noise, x="learner", y="scale", hue="credit", order=learners,
                      dodge=True, size=7, ax=ax)
    ax.set(yscale="log", xlabel="", ylabel="gradient noise scale (games)",
           title="Games an update must average before signal exceeds noise\n"
                 "(infinite estimates left out)")
    ax = axes[1, 1]
    sns.lineplot(summary, x="env_steps", y="policy_quality", hue="learner",
                 hue_order=learners, palette=palette, marker="o", units="run",
                 estimator=None, ax=ax)
    ax.set(xlabel="env steps of the snapshot",
           ylabel="E_pi[Q*] - max Q* (0: the judge's best)",
           title="Judged quality of each snapshot's policy on its own positions")
    ax = axes[0, 2]
    sns.lineplot(summary, x="env_steps", y="sign_kappa", hue="learner", hue_order=learners,
                 palette=palette, marker="o", units="run", estimator=None, ax=ax)
    ax.axhline(0.0, color="grey", lw=1, ls="--")
    ax.set(xlabel="env steps of the snapshot", ylabel="sign agreement, Cohen's kappa",
           title="Credit quality along training (all moves)")
    ax = axes[1, 2]
    searched = summary[summary.search_disagreement.notna()]
    if len(searched):
        sns.lineplot(searched, x="env_steps", y="search_disagreement", hue="learner",
                     palette=palette, marker="o", units="run", estimator=None, ax=ax)
    ax.set(xlabel="env steps of the snapshot", ylim=(0, 1),
           ylabel="moves where the search's choice differs\nfrom the raw policy's best",
           title="Search target quality: how often search overrides the network")
    fig.tight_layout()
    written.update(save_figure(fig, folder / "credit_details"))
    return written
