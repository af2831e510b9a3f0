"""Comparisons across runs. Studies (``rlgo study run``): the study file (:mod:`.config`),
the runner and its worker processes or Ray tasks (:mod:`.runner`), the final league
(:mod:`.league`), the tables and rliable statistics (:mod:`.report`) and the
learning-curve figures (:mod:`.plots`). Optuna searches over one agent's hyper-parameters
(``rlgo tune``): the search file and the trial (:mod:`.search`), the processes that run
trials (:mod:`.workers`), the search's journal file (:mod:`.journal`), the report
(:mod:`.tune`) and its figures (:mod:`.search_plots`)."""

from rlgo.study.plots import elo_curves, plot_elo
from rlgo.study.search import Param, Search, export_best, load_search, sample_params
from rlgo.study.tune import tune_main
from rlgo.study.workers import SearchError, run_search

__all__ = ["Param", "Search", "SearchError", "elo_curves", "export_best", "load_search",
           "plot_elo", "run_search", "sample_params", "tune_main"]
