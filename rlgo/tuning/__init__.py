"""Tuning one learner's hyper-parameters with Optuna (``rlgo tune``): the tuning file
(:mod:`.config`), a trial and its value over seeds (:mod:`.objective`), the study's
storage, sampler and pruners (:mod:`.storage`, :mod:`.journal`), the processes that run
trials (:mod:`.workers`), the report (:mod:`.report`) and its figures (:mod:`.plots`), and
a trial trained again on new seeds (:mod:`.retrain`)."""

from rlgo.tuning.config import Param, TuneConfig, load_tune
from rlgo.tuning.objective import sample_params
from rlgo.tuning.report import export_best, tune_main
from rlgo.tuning.retrain import retrain
from rlgo.tuning.workers import TuneError, run_tuning

__all__ = ["Param", "TuneConfig", "TuneError", "export_best", "load_tune", "retrain",
           "run_tuning", "sample_params", "tune_main"]
