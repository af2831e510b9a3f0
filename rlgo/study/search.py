"""Optuna searches over one agent's hyper-parameters: the search file, the trial (the
objective) and the best trial's exported config. The worker processes that run trials are
:mod:`rlgo.study.workers`; ``rlgo tune`` and its report, :mod:`rlgo.study.tune`.

A **search file** is TOML. ``[search]`` (:class:`Search`) names the study, the agent, the
board, the env-step budget of every trial, the number of trials wanted in total, where the
study is stored, the sampler, the pruner and the objective. ``[train]``, ``[agent]`` and
``[net]`` fix config values for every trial, as in a config file (``rlgo train
--config``); ``train.agent``, ``board_size``, ``env_steps`` and ``seed`` come from
``[search]``. (They are not sub-tables of ``[search]``: TOML cannot hold both ``agent =
"ppo"`` and ``[search.agent]``.) ``[space.<key>]`` tables (:class:`Param`) are the searched
values, keyed as ``--set`` keys are: no prefix for the agent's config, ``net.`` and
``train.``::

    [search]
    name = "tune_ppo_5x5"
    agent = "ppo"
    board_size = 5
    env_steps = 20000
    trials = 20
    [train]
    eval_every = 5000
    [agent]
    epochs = 4
    [space.lr]
    type = "float"
    low = 1e-4
    high = 3e-3
    log = true
    [space."net.blocks"]
    type = "int"
    low = 1
    high = 3

**A trial** is one training run (:class:`~rlgo.training.Trainer`) in
``<out>/trials/<number>``, with the search's seed, so that two trials differ by their
parameters only. Every trial writes its evaluation games to one match database
(``<out>/matches.sqlite`` unless ``[train]`` sets ``db``), so every snapshot of every
trial is rated on one Elo scale, anchored at ``random`` = 0. The objective, maximised, is
the final evaluation's ``eval/elo`` (``objective = "elo"``) or its mean score against one
ladder opponent (``objective = "score:<spec>"``). Every evaluation, the untrained network's
at step 0 included, is reported to Optuna as an intermediate value, so the pruner can stop
a trial that is behind. It is reported at the **nominal** step, the multiple of
``train.eval_every`` the evaluation was due at (the budget for the last one), not at the
exact env steps, which differ between trials by the length of a game: the median pruner
compares trials at equal steps only. The exact counters are in each trial's
``metrics.csv``. The step-0 evaluation never prunes (it rates untrained networks).

**A trial fails** (Optuna state FAIL, the reason in the user attribute ``failed_reason``)
when its learner diverges (a non-finite ``losses/*`` metric, ``losses/explained_variance``
excepted: it is NaN whenever the returns do not vary), when its final objective is not
finite, or when training raises; the search goes on with the next trial.

Pruners: ``median`` (:class:`optuna.pruners.MedianPruner`), ``patient`` (that median
pruner behind :class:`optuna.pruners.PatientPruner`: only a trial that has not improved
for ``prune_patience`` evaluations is put to the median rule) and ``none``. Optuna's WilcoxonPruner
is not offered: it tests paired per-instance results (the same problem instances scored by
two trials, in any order), while a trial here reports one learning curve, whose steps are
neither independent nor interchangeable.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import SQLAlchemyError

from rlgo.agents.gnugo_player import GnuGoError
from rlgo.envs import Rules
from rlgo.evaluation.players import ALLOW_COMMANDS, make_player, refuse_programs
from rlgo.evaluation.reference import ReferenceTable
from rlgo.protocols import close_players
from rlgo.registry import config_from_dict, get_agent
from rlgo.study.config import plain_name
from rlgo.study.journal import set_aside_torn_tail
from rlgo.training import RunConfigs, Trainer
from rlgo.training.config import dump_toml, read_toml

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "patient", "none")
PARAM_TYPES = ("float", "int", "categorical")

#: ``[space.<key>]`` prefix -> config table.
_TABLES = {"": "agent", "net": "net", "train": "train"}
#: TrainConfig fields a search sets in ``[search]`` (never in ``[train]`` or a space).
_FROM_SEARCH = ("agent", "board_size", "env_steps", "seed")
_IGNORED_NAN = ("losses/explained_variance",)
"""Loss metrics that are NaN in healthy training (module docstring)."""


# ----------------------------------------------------------------------- the search file


@dataclass(frozen=True)
class Param:
    """One searched value: a ``[space.<key>]`` table."""

    key: str
    """Config key as ``--set`` takes it: ``lr`` (agent), ``net.blocks``, ``train.x``."""
    type: str
    """"float", "int" or "categorical"."""
    low: float | None = None
    """Lowest value (float and int)."""
    high: float | None = None
    """Highest value, included (float and int)."""
    log: bool = False
    """Sample on a log scale (float and int; needs low > 0)."""
    step: float | None = None
    """Grid step from ``low`` (float and int); None: continuous floats, step 1 for ints."""
    choices: tuple[Any, ...] = ()
    """The values of a categorical parameter (strings, numbers or booleans)."""

    def probes(self) -> tuple[Any, ...]:
        """Values every sample lies between or among: checked against the config when
        the search file is read."""
        return self.choices if self.type == "categorical" else (self.low, self.high)


@dataclass(frozen=True)
class Search:
    """A search file's ``[search]`` table (module docstring) and its space."""

    name: str
    """Optuna study name; also the default output folder ``runs/<name>``."""
    agent: str
    """Learner searched (``rlgo agents`` lists them)."""
    board_size: int
    """Board side N of every trial."""
    env_steps: int
    """Budget of every trial, in env steps (moves played, both colours)."""
    trials: int
    """Trials wanted in the study in total, over all workers and resumes (every state
    counts: complete, pruned and failed)."""
    seed: int = 0
    """Seed of every trial's training (the same for all) and of the sampler."""
    storage: str = ""
    """Optuna storage URL (``sqlite:///...``, ``postgresql+psycopg://...``); empty: a
    journal file ``<out>/optuna.journal``, safe for several processes on one machine."""
    out: str = ""
    """Output folder (trials, match database, report); empty: ``runs/<name>``."""
    sampler: str = "tpe"
    """"tpe" (Optuna's default TPE) or "random"."""
    pruner: str = "median"
    """"median", "patient" or "none" (module docstring)."""
    objective: str = "elo"
    """"elo": the final ``eval/elo``; "score:<spec>": the final mean score (win 1, draw
    1/2) against ladder opponent ``<spec>``."""
    prune_startup_trials: int = 5
    """Completed trials needed before the pruner prunes anything."""
    prune_warmup_steps: int = 0
    """Env steps before which a trial is never pruned (the step-0 evaluation never
    prunes in any case)."""
    prune_patience: int = 3
    """``patient``: evaluations without improvement before the median rule may prune."""
    train: dict[str, Any] = field(default_factory=dict)
    """``[train]``: fixed TrainConfig values."""
    agent_config: dict[str, Any] = field(default_factory=dict)
    """``[agent]``: fixed values of the agent's config."""
    net: dict[str, Any] = field(default_factory=dict)
    """``[net]``: fixed NetConfig values."""
    space: tuple[Param, ...] = ()
    """The ``[space.<key>]`` tables, in file order."""
    source: str = ""
    """The search file it was read from (for messages)."""
    allow_commands: bool = False
    """Whether ``train.eval_ladder`` and ``train.eval_reference`` may name anchors that
    run programs (``gtp:``): only the command line sets it (``rlgo tune
    --allow-commands``), never the search file."""

    def __post_init__(self) -> None:
        if not plain_name(self.name):  # it names the output folder, runs/<name>
            raise ValueError(f"name must be a plain name (letters, digits, _ . -, not a "
                             f"path), got {self.name!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got "
                             f"{self.sampler!r}")
        if self.pruner == "wilcoxon":
            raise ValueError("pruner 'wilcoxon' is not offered: Optuna's WilcoxonPruner "
                             "compares per-instance results, and a trial here reports one "
                             f"learning curve; use one of {', '.join(PRUNERS)}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}, got "
                             f"{self.pruner!r}")
        if self.objective != "elo" and not (self.objective.startswith("score:")
                                            and self.objective[6:].strip()):
            raise ValueError("objective must be 'elo' or 'score:<ladder opponent>', got "
                             f"{self.objective!r}")
        for name in ("env_steps", "trials", "prune_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("prune_startup_trials", "prune_warmup_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    @property
    def db_url(self) -> str:
        """The match database every trial shares."""
        return self.train.get("db") or f"sqlite:///{self.out_dir.resolve() / 'matches.sqlite'}"

    @property
    def metric(self) -> str:
        """The logged metric that is the objective."""
        return "eval/elo" if self.objective == "elo" else f"eval/vs_{self.objective[6:]}/score"

    @property
    def objective_label(self) -> str:
        """The objective in words, for axes."""
        if self.objective == "elo":
            return "Elo (random = 0)"
        return f"mean score vs {self.objective[6:]} (win 1, draw 1/2)"

    def fingerprint(self) -> dict[str, Any]:
        """What decides a trial's config and value: a resumed study must keep it."""
        keep = ("agent", "board_size", "env_steps", "seed", "objective", "train",
                "agent_config", "net")
        return {**{k: getattr(self, k) for k in keep},
                "space": [dataclasses.asdict(p) for p in self.space]}


TABLES = ("search", "train", "agent", "net", "space")
"""Tables of a search file."""
_REQUIRED = ("name", "agent", "board_size", "env_steps", "trials")
_COMMAND_LINE_ONLY = "allow_commands"
"""The :class:`Search` field a search file may not set."""
_SPACE_KEYS = {"float": ("type", "low", "high", "log", "step"),
               "int": ("type", "low", "high", "log", "step"),
               "categorical": ("type", "choices")}


def load_search(path: str | Path, *, allow_commands: bool = False) -> Search:
    """Read and check a search file (module docstring). Every error is a ValueError
    naming the file, the table and key, and the valid choices. Each searched key is
    checked against the config at its bounds (every choice of a categorical one).
    ``allow_commands``: the user's ``--allow-commands`` (:attr:`Search.allow_commands`)."""
    path = Path(path)
    doc = read_toml(path, "search file")
    unknown = sorted(set(doc) - set(TABLES))
    if unknown or not all(isinstance(v, dict) for v in doc.values()):
        raise ValueError(f"{path}: a search file has the tables [search], [train], [agent], "
                         "[net] and [space.<key>]"
                         + (f"; unknown tables {unknown}" if unknown else ""))
    table = doc.get("search", {})
    nested = sorted(k for k, v in table.items() if isinstance(v, dict))
    if nested:
        raise ValueError(f"{path} [search]: sub-tables {nested}; fixed values go in the "
                         "top-level tables [train], [agent] and [net]")
    if _COMMAND_LINE_ONLY in table:
        raise ValueError(f"{path} [search]: {_COMMAND_LINE_ONLY} is not a key of a search "
                         f"file; only the command line says it ({ALLOW_COMMANDS})")
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise ValueError(f"{path} [search]: missing keys {missing}")
    taken = sorted(set(doc.get("train", {})) & set(_FROM_SEARCH))
    if taken:
        raise ValueError(f"{path} [train]: {taken} belong in [search]")
    search = config_from_dict(Search, table, f"{path} [search]")
    search = dataclasses.replace(search, train=doc.get("train", {}),
                                 agent_config=doc.get("agent", {}), net=doc.get("net", {}),
                                 source=str(path), allow_commands=allow_commands)
    configs = trial_configs(search, {}, f"{path} [train]/[agent]/[net]")
    if not configs.train.eval_every:
        raise ValueError(f"{path} [train]: eval_every must be > 0 (the objective is "
                         "measured by the evaluations)")
    if search.objective != "elo" and search.objective[6:] not in configs.train.eval_ladder:
        raise ValueError(f"{path} [search]: objective {search.objective!r} needs "
                         f"{search.objective[6:]!r} in train.eval_ladder "
                         f"{list(configs.train.eval_ladder)}")
    if not doc.get("space"):
        raise ValueError(f"{path}: no [space.<key>] table: a search needs a value to search")
    space = tuple(_read_param(search, key, spec) for key, spec in doc["space"].items())
    return dataclasses.replace(search, space=space)


def _read_param(search: Search, key: str, spec: Any) -> Param:
    """One ``[space.<key>]`` table, checked."""
    where = f"{search.source} [space.\"{key}\"]"
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: must be a table with a type")
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(PARAM_TYPES)}, got {kind!r}")
    unknown = sorted(set(spec) - set(_SPACE_KEYS[kind]))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} for a {kind} parameter; valid "
                         f"keys: {', '.join(_SPACE_KEYS[kind])}")
    prefix, _, name = key.rpartition(".")
    if prefix not in _TABLES:
        raise ValueError(f"{where}: unknown config section {prefix!r}; use no prefix (the "
                         "agent's config), 'net.' or 'train.'")
    if prefix == "train" and name in (*_FROM_SEARCH, "db"):
        raise ValueError(f"{where}: train.{name} is set by the search, not searched")
    if name in getattr(search, {"": "agent_config"}.get(prefix, prefix)):
        raise ValueError(f"{where}: {key} is both fixed in [{_TABLES[prefix]}] and searched")
    param = _make_param(key, kind, spec, where)
    for value in param.probes():
        trial_configs(search, {key: value}, where)
    return param


def _make_param(key: str, kind: str, spec: dict[str, Any], where: str) -> Param:
    if kind == "categorical":
        choices = spec.get("choices")
        if (not isinstance(choices, list) or not choices
                or not all(isinstance(c, (str, int, float, bool)) for c in choices)):
            raise ValueError(f"{where}: choices must be a non-empty list of strings, numbers "
                             "or booleans")
        return Param(key, kind, choices=tuple(choices))
    number = int if kind == "int" else (int, float)
    bounds = {k: spec.get(k) for k in ("low", "high")}
    for k, v in bounds.items():
        if not isinstance(v, number) or isinstance(v, bool):
            raise ValueError(f"{where}: {k} must be {'an int' if kind == 'int' else 'a number'}"
                             f", got {v!r}")
    low, high, log_scale, step = bounds["low"], bounds["high"], spec.get("log", False), \
        spec.get("step")
    if not low < high:
        raise ValueError(f"{where}: low must be < high, got low = {low}, high = {high}")
    if not isinstance(log_scale, bool):
        raise ValueError(f"{where}: log must be true or false, got {log_scale!r}")
    if log_scale and low <= 0:
        raise ValueError(f"{where}: log = true needs low > 0, got low = {low}")
    if step is not None and (not isinstance(step, number) or isinstance(step, bool)
                             or not step > 0 or log_scale):
        raise ValueError(f"{where}: step must be a positive {kind} and cannot go with "
                         f"log = true, got step = {step!r}")
    if kind == "float":
        low, high, step = float(low), float(high), None if step is None else float(step)
    return Param(key, kind, low, high, log_scale, step)


def trial_sections(search: Search, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The config tables of a trial: the search's fixed values, then ``params`` (keyed
    as ``[space]`` keys are). Trials play no earlier snapshots unless
    ``[train]`` sets ``eval_snapshots``: the ladder is what rates them."""
    train = {"agent": search.agent, "board_size": search.board_size,
             "env_steps": search.env_steps, "seed": search.seed, "eval_snapshots": 0,
             **search.train, "db": search.db_url}
    tables = {"train": train, "agent": dict(search.agent_config), "net": dict(search.net)}
    for key, value in params.items():
        prefix, _, name = key.rpartition(".")
        tables[_TABLES[prefix]][name] = value
    return tables


def trial_configs(search: Search, params: dict[str, Any], where: str = "") -> RunConfigs:
    """The configs a trial trains with (:func:`trial_sections`), checked; ValueError
    naming ``where`` for an unknown key or a bad value."""
    tables = trial_sections(search, params)
    where = where or f"{search.source} (trial parameters {params})"
    entry = get_agent(search.agent)
    return RunConfigs.from_tables(tables, where, entry)


def check_ladder(search: Search) -> None:
    """Start each ladder opponent once, so that a missing GNU Go or a bad player spec
    stops the search before it starts instead of failing every trial; ValueError naming
    the file."""
    train = trial_configs(search, {}).train
    rules = Rules(board_size=train.board_size, komi=train.komi)
    refuse_programs(train.eval_ladder, f"{search.source} [train] eval_ladder",
                    search.allow_commands)
    if train.eval_reference:
        ReferenceTable.load(train.eval_reference, rules,
                            allow_commands=search.allow_commands)
    for spec in train.eval_ladder:
        try:
            player = make_player(spec, rules)
        except (ValueError, GnuGoError) as exc:
            raise ValueError(f"{search.source} [train] eval_ladder: {spec!r}: {exc}") from exc
        close_players(player)


# ----------------------------------------------------------------------- objective


def sample_params(trial: optuna.Trial, space: tuple[Param, ...]) -> dict[str, Any]:
    """One value per searched key, drawn by the study's sampler."""
    params: dict[str, Any] = {}
    for p in space:
        if p.type == "float":
            params[p.key] = trial.suggest_float(p.key, p.low, p.high, log=p.log, step=p.step)
        elif p.type == "int":
            params[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log,
                                              step=int(p.step or 1))
        else:
            params[p.key] = trial.suggest_categorical(p.key, list(p.choices))
    return params


class Diverged(RuntimeError):
    """A learner logged a non-finite loss."""


def stop_if_diverged(trainer: Trainer, metrics: dict[str, float]) -> None:
    """A training hook: raise :class:`Diverged` at the first non-finite ``losses/*``
    metric."""
    bad = sorted(k for k, v in metrics.items() if k.startswith("losses/")
                 and k not in _IGNORED_NAN and not math.isfinite(v))
    if bad:
        raise Diverged(f"diverged: {', '.join(f'{k} = {metrics[k]}' for k in bad)} "
                       f"at {trainer.state.counters.env_steps} env steps")


def trial_dir(search: Search, number: int) -> Path:
    """Where trial ``number`` trains; its name is its ``run`` in the match database."""
    return search.out_dir / "trials" / str(number)


def report_step(env_steps: int, eval_every: int, budget: int) -> int:
    """The nominal step of an evaluation (module docstring)."""
    return budget if env_steps >= budget else env_steps // eval_every * eval_every


def objective(trial: optuna.Trial, search: Search) -> float:
    """Train one trial and return its final objective (NaN if it diverged: Optuna marks
    it FAIL); raises :class:`optuna.TrialPruned` when the pruner stops it."""
    params = sample_params(trial, search.space)
    configs = trial_configs(search, params)
    out = trial_dir(search, trial.number)
    if out.exists():
        raise ValueError(f"{out} already exists: it belongs to another study (was the "
                         "study's storage deleted?); use a new out")
    trial.set_user_attr("run_dir", str(out))
    sections = configs.to_tables()
    trial.set_user_attr("config", sections)
    trainer = Trainer(configs.train, configs.agent, configs.net, out, progress=False,
                      agent=configs.entry, allow_commands=search.allow_commands)
    reported: set[int] = set()
    last = {"value": float("nan")}
    t0 = time.perf_counter()

    def report(t: Trainer, metrics: dict[str, float]) -> None:
        """A training hook: report each evaluation to Optuna, which may prune."""
        if not any(k.startswith("eval/") for k in metrics):
            return  # an iteration's row
        c = t.state.counters
        value = float(metrics.get(search.metric, float("nan")))
        last["value"] = value
        for key, v in (("env_steps", int(c.env_steps)), ("wall_s", round(c.wall_s, 2)),
                       ("total_s", round(time.perf_counter() - t0, 2)),
                       ("elo", metrics.get("eval/elo")),
                       ("elo_stderr", metrics.get("eval/elo_stderr"))):
            trial.set_user_attr(key, v)
        step = report_step(c.env_steps, t.cfg.eval_every, t.cfg.env_steps)
        if step in reported:
            return
        reported.add(step)
        trial.report(value, step)
        if step > 0 and trial.should_prune():
            raise optuna.TrialPruned(f"pruned at {c.env_steps} env steps with {value:.4g}")

    try:
        trainer.fit(hooks=[stop_if_diverged, report])
    except Diverged as exc:
        trial.set_user_attr("failed_reason", str(exc))
        return float("nan")
    finally:
        trainer.db().close()
        shutil.rmtree(trainer.run.checkpoints, ignore_errors=True)  # trials never resume
    if not math.isfinite(last["value"]):
        trial.set_user_attr("failed_reason", f"final {search.metric} is {last['value']}")
    return last["value"]


# ----------------------------------------------------------------------- study, workers


def sampler_for(search: Search, salt: tuple[int, ...]) -> optuna.samplers.BaseSampler:
    """The sampler, seeded from the search's seed and ``salt`` (worker index, trials
    already in the study), so that neither parallel workers nor a resumed worker draw
    the same startup points again."""
    seed = int(np.random.SeedSequence([search.seed, *salt]).generate_state(1)[0])
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(search: Search) -> optuna.pruners.BasePruner:
    if search.pruner == "none":
        return optuna.pruners.NopPruner()
    median = optuna.pruners.MedianPruner(n_startup_trials=search.prune_startup_trials,
                                         n_warmup_steps=max(1, search.prune_warmup_steps))
    if search.pruner == "patient":
        with warnings.catch_warnings():  # experimental since Optuna 2.8; stable enough here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.PatientPruner(median, patience=search.prune_patience)
    return median


def _storage(search: Search) -> str | optuna.storages.BaseStorage:
    """The storage URL, or the journal file (a torn last record first set aside, with a
    note on the log: :mod:`rlgo.study.journal`); ValueError naming an unreadable
    journal."""
    if search.storage:
        return search.storage
    search.out_dir.mkdir(parents=True, exist_ok=True)
    journal = search.out_dir / "optuna.journal"
    note = set_aside_torn_tail(journal)
    if note:
        log.warning("note: %s", note)
    try:
        return JournalStorage(JournalFileBackend(str(journal)))
    except (ValueError, KeyError, TypeError) as exc:  # Optuna replays every record here
        raise ValueError(f"{journal} is not a readable Optuna journal ({type(exc).__name__}:"
                         f" {exc}); move it away to start the search anew") from exc


def open_study(search: Search, create: bool = True) -> optuna.Study:
    """The search's study (created if ``create`` and missing). A study started from a
    different search file (:meth:`Search.fingerprint`) is refused: its trials would not
    be comparable."""
    journal = search.out_dir / "optuna.journal"
    if not create and not search.storage and not journal.exists():
        raise ValueError(f"no study {search.name!r}: {journal} does not exist; run the "
                         "search first")
    storage = _storage(search)
    kwargs = {"study_name": search.name, "storage": storage,
              "sampler": sampler_for(search, (0,)), "pruner": _pruner(search)}
    try:
        study = (optuna.create_study(direction="maximize", load_if_exists=True, **kwargs)
                 if create else optuna.load_study(**kwargs))
    except KeyError as exc:
        raise ValueError(f"no study {search.name!r} in {search.storage or search.out_dir}"
                         "; run the search first") from exc
    except (SQLAlchemyError, ImportError) as exc:  # a bad URL, an unreachable server
        raise ValueError(f"{search.source} [search]: storage {search.storage!r}: {exc}"
                         ) from exc
    stored = study.user_attrs.get("search")
    mine = _jsonable(search.fingerprint())
    if stored is None and create:
        study.set_user_attr("search", mine)
    elif stored is not None and stored != mine:
        raise ValueError(f"{search.source}: study {search.name!r} was started with other "
                         "trial settings (agent, board, budget, seed, objective, fixed values "
                         "or space); give this search another name")
    return study


def _jsonable(value: Any) -> Any:
    """As Optuna's JSON user attributes store it (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# ----------------------------------------------------------------------- results


def describe_trial(t: FrozenTrial, search: Search) -> str:
    """One line: number, state, value, parameters and, for a failure, why."""
    value = "" if t.value is None else f" {t.value:.4g}"
    stderr = t.user_attrs.get("elo_stderr")
    if value and search.objective == "elo" and stderr is not None:
        value += f" ± {stderr:.0f}"
    params = ", ".join(f"{k} = {_fmt(v)}" for k, v in t.params.items())
    why = t.user_attrs.get("failed_reason")
    return (f"trial {t.number} {t.state.name.lower()}{value} at "
            f"{t.user_attrs.get('env_steps', 0):,} env steps ({params})"
            + (f": {why}" if why and t.state == TrialState.FAIL else ""))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def export_best(source: str | Path | optuna.Study, out_file: str | Path) -> Path:
    """Write the best completed trial's config (its fixed values and sampled
    parameters, as trained; without ``db``, the search's) as a config file that
    ``rlgo train --config`` takes unchanged. ``source``: a search file or its study.
    ValueError when no trial has completed."""
    study = source if isinstance(source, optuna.Study) else open_study(
        load_search(source), create=False)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"study {study.study_name!r} has no completed trial yet")
    best = study.best_trial
    sections = {k: dict(v) for k, v in best.user_attrs["config"].items()}
    sections["train"].pop("db", None)
    head = (f"# best trial {best.number} of study {study.study_name!r}: objective "
            f"{best.value:.4g}; params {best.params}\n"
            "# train it: rlgo train --config <this file> [--env-steps N] [--out DIR]\n\n")
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(head + dump_toml(sections))
    return out
