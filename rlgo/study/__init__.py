"""Comparisons across runs: learning-curve plots (:mod:`.plots`) and Optuna searches over
one agent's hyper-parameters (:mod:`.search` the search file and the trial,
:mod:`.workers` the processes that run trials, :mod:`.journal` the study's journal file,
:mod:`.tune` ``rlgo tune`` and its report, :mod:`.search_plots` its figures)."""

from rlgo.study.plots import elo_curves, plot_elo
from rlgo.study.search import Param, Search, export_best, load_search, sample_params
from rlgo.study.tune import tune_main
from rlgo.study.workers import SearchError, run_search

__all__ = ["Param", "Search", "SearchError", "elo_curves", "export_best", "load_search",
           "plot_elo", "run_search", "sample_params", "tune_main"]
