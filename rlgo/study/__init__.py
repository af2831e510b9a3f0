"""Comparisons across runs: learning-curve plots today; study files, Optuna searches and
their reports will live here."""

from rlgo.study.plots import elo_curves, plot_elo

__all__ = ["elo_curves", "plot_elo"]
