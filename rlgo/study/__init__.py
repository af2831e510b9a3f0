"""Comparisons across runs (``rlgo study run``): the study file (:mod:`.config`), the
runner and its worker processes or Ray tasks (:mod:`.runner`), the final league
(:mod:`.league`), the tables and rliable statistics (:mod:`.report`) and the
learning-curve figures (:mod:`.plots`). Tuning one learner with Optuna is
:mod:`rlgo.tuning`."""

from rlgo.study.plots import elo_curves, plot_elo

__all__ = ["elo_curves", "plot_elo"]
