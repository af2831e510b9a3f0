"""Where a tuning's Optuna study lives, and the sampler and pruner it is opened with.

**Storage.** ``[tune] storage`` is any Optuna storage URL (``sqlite:///...``,
``postgresql+psycopg://...``); empty, the study is a journal file ``<out>/optuna.journal``
(Optuna's :class:`~optuna.storages.journal.JournalFileBackend`, safe for several processes
on one machine; a torn last record is set aside first, :mod:`rlgo.tuning.journal`). The
journal is opened as ``optuna-dashboard`` opens a file, so ``optuna-dashboard
runs/<name>/optuna.journal`` shows a running tuning live.

**Samplers.** ``tpe`` (:class:`optuna.samplers.TPESampler`, its first ``startup_trials``
trials drawn at random) and ``random``; seeded from ``[tune] seed`` and the worker, so
that parallel or resumed workers do not draw the same points again.

**Pruners.** They compare trials at the nominal steps their evaluations report
(:mod:`rlgo.tuning.objective`), never at step 0:

* ``median`` (:class:`optuna.pruners.MedianPruner`): a trial whose value is below the
  median of earlier trials' at the same step, once ``prune_startup_trials`` trials have
  completed and after ``prune_warmup_steps`` env steps;
* ``patient``: that median rule behind :class:`optuna.pruners.PatientPruner`, applied
  only to a trial that has not improved for ``prune_patience`` evaluations;
* ``halving`` (:class:`optuna.pruners.SuccessiveHalvingPruner`): rungs at ``eval.every``
  times powers of ``reduction_factor`` env steps; at each rung a trial goes on only if
  it is in the top ``1 / reduction_factor`` of the trials that reached that rung;
* ``hyperband`` (:class:`optuna.pruners.HyperbandPruner`): several such halving brackets,
  from ``eval.every`` to the budget, each trial in one bracket (chosen from its number),
  so that both early and late bloomers get a chance;
* ``none``.

Optuna's WilcoxonPruner is not offered: it tests paired per-instance results, while a
trial here reports one learning curve, whose steps are neither independent nor
interchangeable.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from sqlalchemy.exc import SQLAlchemyError

from rlgo.tuning.config import TuneConfig, trial_configs
from rlgo.tuning.journal import set_aside_torn_tail

log = logging.getLogger(__name__)


def sampler_for(tune: TuneConfig, salt: tuple[int, ...]) -> optuna.samplers.BaseSampler:
    """The sampler, seeded from the tuning's seed and ``salt`` (worker index, trials
    already in the study), so that neither parallel workers nor a resumed worker draw
    the same startup points again."""
    seed = int(np.random.SeedSequence([tune.seed, *salt]).generate_state(1)[0])
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=tune.startup_trials)


def pruner_for(tune: TuneConfig) -> optuna.pruners.BasePruner:
    """The pruner (module docstring)."""
    eval_every = trial_configs(tune, {}).eval.every
    if tune.pruner == "none":
        return optuna.pruners.NopPruner()
    if tune.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=eval_every, reduction_factor=tune.reduction_factor)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=eval_every, max_resource=tune.env_steps,
            reduction_factor=tune.reduction_factor)
    median = optuna.pruners.MedianPruner(n_startup_trials=tune.prune_startup_trials,
                                         n_warmup_steps=max(1, tune.prune_warmup_steps))
    if tune.pruner == "patient":
        with warnings.catch_warnings():  # experimental since Optuna 2.8; stable enough here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.PatientPruner(median, patience=tune.prune_patience)
    return median


def journal_path(tune: TuneConfig) -> Path:
    """The journal file of a tuning without a storage URL."""
    return tune.out_dir / "optuna.journal"


def _storage(tune: TuneConfig) -> str | optuna.storages.BaseStorage:
    """The storage URL, or the journal file (a torn last record first set aside, with a
    note on the log); ValueError naming an unreadable journal."""
    if tune.storage:
        return tune.storage
    tune.out_dir.mkdir(parents=True, exist_ok=True)
    journal = journal_path(tune)
    note = set_aside_torn_tail(journal)
    if note:
        log.warning("note: %s", note)
    try:
        return JournalStorage(JournalFileBackend(str(journal)))
    except (ValueError, KeyError, TypeError) as exc:  # Optuna replays every record here
        raise ValueError(f"{journal} is not a readable Optuna journal ({type(exc).__name__}:"
                         f" {exc}); move it away to start the tuning anew") from exc


def open_study(tune: TuneConfig, create: bool = True) -> optuna.Study:
    """The tuning's study (created if ``create`` and missing). A study started from a
    different tuning file (:meth:`TuneConfig.fingerprint`) is refused: its trials would
    not be comparable."""
    if not create and not tune.storage and not journal_path(tune).exists():
        raise ValueError(f"no study {tune.name!r}: {journal_path(tune)} does not exist; run "
                         "the tuning first")
    storage = _storage(tune)
    kwargs = {"study_name": tune.name, "storage": storage,
              "sampler": sampler_for(tune, (0,)), "pruner": pruner_for(tune)}
    try:
        study = (optuna.create_study(direction="maximize", load_if_exists=True, **kwargs)
                 if create else optuna.load_study(**kwargs))
    except KeyError as exc:
        raise ValueError(f"no study {tune.name!r} in {tune.storage or tune.out_dir}"
                         "; run the tuning first") from exc
    except (SQLAlchemyError, ImportError) as exc:  # a bad URL, an unreachable server
        raise ValueError(f"{tune.source} [tune]: storage {tune.storage!r}: {exc}") from exc
    stored = study.user_attrs.get("tune", _older_fingerprint(study))
    mine = _jsonable(tune.fingerprint())
    if stored is None and create:
        study.set_user_attr("tune", mine)
    elif stored is not None and stored != mine:
        raise ValueError(f"{tune.source}: study {tune.name!r} was started with other "
                         "trial settings (agent, board, budget, seeds, objective, fixed "
                         "values or space); give this tuning another name")
    return study


def _older_fingerprint(study: optuna.Study) -> dict[str, Any] | None:
    """The fingerprint of a study made before trials had several seeds (stored as
    ``search``, without ``seeds_per_trial`` and ``aggregate``): as one made now with one
    seed, so that such a study resumes."""
    old = study.user_attrs.get("search")
    if old is None:
        return None
    return {**old, "seeds_per_trial": 1, "aggregate": "mean", "eval": {}}


def _jsonable(value: Any) -> Any:
    """As Optuna's JSON user attributes store it (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
