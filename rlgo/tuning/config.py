"""The tuning file of ``rlgo tune``: one learner's hyper-parameters searched with Optuna.

A **tuning file** is TOML. ``[tune]`` (:class:`TuneConfig`) names the Optuna study, the
learner, the board, the env-step budget of every trial, the number of trials wanted in
total, the seeds each trial trains, where the study is stored, the sampler, the pruner and
the objective. ``[train]``, ``[eval]``, ``[learner]`` and ``[net]`` fix config values for
every trial, as in a config file (``rlgo train --config``); ``train.learner``,
``board_size``, ``env_steps`` and ``seed`` come from ``[tune]``. (They are not sub-tables
of ``[tune]``: TOML cannot hold both ``learner = "ppo"`` and ``[tune.learner]``.) Older
files' ``agent`` key and ``[agent]`` table are read as ``learner`` and ``[learner]``.
``[space.<key>]`` tables
(:class:`Param`) are the searched values, keyed as ``--set`` keys are: no prefix for the
learner's config, ``net.``, ``train.`` and ``eval.``::

    [tune]
    name = "tune_ppo_5x5"
    learner = "ppo"
    board_size = 5
    env_steps = 20000
    trials = 20
    seeds_per_trial = 2
    [eval]
    every = 5000
    [learner]
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

What a trial is and how it is scored: :mod:`rlgo.tuning.objective`; the sampler, the
pruners and the storage: :mod:`rlgo.tuning.storage`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlgo.agents.gnugo_player import GnuGoError
from rlgo.envs import Rules
from rlgo.evaluation.players import ALLOW_COMMANDS, make_player, refuse_programs
from rlgo.evaluation.reference import ReferenceTable
from rlgo.learning.checks import check_config
from rlgo.protocols import close_players
from rlgo.registry import config_from_dict, get_learner
from rlgo.study.config import plain_name
from rlgo.training import RunConfigs
from rlgo.training.config import EVAL_KEYS_IN_TRAIN, read_toml, renamed_tables

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "patient", "halving", "hyperband", "none")
AGGREGATES = ("mean", "iqm")
PARAM_TYPES = ("float", "int", "categorical")

#: ``[space.<key>]`` prefix -> config table.
_TABLES = {"": "learner", "net": "net", "train": "train", "eval": "eval"}
#: TrainConfig fields ``[tune]`` sets (never ``[train]`` or a space).
_FROM_TUNE = ("learner", "board_size", "env_steps", "seed")


# ----------------------------------------------------------------------- the tuning file


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
        the tuning file is read."""
        return self.choices if self.type == "categorical" else (self.low, self.high)


@dataclass(frozen=True)
class TuneConfig:
    """A tuning file's ``[tune]`` table (module docstring), its fixed values and its space."""

    name: str
    """Optuna study name; also the default output folder ``runs/<name>``."""
    learner: str
    """Learner tuned (``rlgo agents`` lists them)."""
    board_size: int
    """Board side N of every trial."""
    env_steps: int
    """Budget of every trial's every seed, in env steps (moves played, both colours)."""
    trials: int
    """Trials wanted in the study in total, over all workers and resumes (every state
    counts: complete, pruned and failed)."""
    seed: int = 0
    """First training seed of every trial (its seeds are ``seed .. seed +
    seeds_per_trial - 1``, the same for all trials); also seeds the sampler."""
    seeds_per_trial: int = 1
    """Training runs per trial, one per seed; the trial's value aggregates theirs."""
    aggregate: str = "mean"
    """How the seeds' values make the trial's: "mean" or "iqm" (the mean of the middle
    half, ``scipy.stats.trim_mean(x, 0.25)``, as rliable; the mean below 4 seeds)."""
    storage: str = ""
    """Optuna storage URL (``sqlite:///...``, ``postgresql+psycopg://...``); empty: a
    journal file ``<out>/optuna.journal``, safe for several processes on one machine."""
    out: str = ""
    """Output folder (trials, match database, report); empty: ``runs/<name>``."""
    sampler: str = "tpe"
    """"tpe" (Optuna's TPE) or "random"."""
    startup_trials: int = 10
    """TPE: trials sampled at random before the model takes over (Optuna's
    ``n_startup_trials``)."""
    pruner: str = "median"
    """"median", "patient", "halving" (successive halving), "hyperband" or "none"
    (:mod:`rlgo.tuning.storage`)."""
    objective: str = "elo"
    """"elo": the final ``eval/elo``; "score:<spec>": the final mean score (win 1, draw
    1/2) against ladder opponent ``<spec>``."""
    prune_startup_trials: int = 5
    """median, patient: completed trials needed before the pruner prunes anything."""
    prune_warmup_steps: int = 0
    """median, patient: env steps before which a trial is never pruned (the step-0
    evaluation never prunes in any case)."""
    prune_patience: int = 3
    """patient: evaluations without improvement before the median rule may prune."""
    reduction_factor: int = 3
    """halving, hyperband: a rung keeps the best 1 / reduction_factor of its trials."""
    train: dict[str, Any] = field(default_factory=dict)
    """``[train]``: fixed TrainConfig values."""
    eval: dict[str, Any] = field(default_factory=dict)
    """``[eval]``: fixed EvalConfig values (how every trial is rated)."""
    learner_config: dict[str, Any] = field(default_factory=dict)
    """``[learner]``: fixed values of the learner's config."""
    net: dict[str, Any] = field(default_factory=dict)
    """``[net]``: fixed NetConfig values."""
    space: tuple[Param, ...] = ()
    """The ``[space.<key>]`` tables, in file order."""
    source: str = ""
    """The tuning file it was read from (for messages)."""
    allow_commands: bool = False
    """Whether ``eval.ladder`` and ``eval.reference`` may name anchors that
    run programs (``gtp:``): only the command line sets it (``rlgo tune
    --allow-commands``), never the tuning file."""

    def __post_init__(self) -> None:
        if not plain_name(self.name):  # it names the output folder, runs/<name>
            raise ValueError(f"name must be a plain name (letters, digits, _ . -, not a "
                             f"path), got {self.name!r}")
        if self.pruner == "wilcoxon":
            raise ValueError("pruner 'wilcoxon' is not offered: Optuna's WilcoxonPruner "
                             "compares per-instance results, and a trial here reports one "
                             f"learning curve; use one of {', '.join(PRUNERS)}")
        check_config(self, positive=("env_steps", "trials", "prune_patience",
                                     "seeds_per_trial"),
                     non_negative=("prune_startup_trials", "prune_warmup_steps",
                                   "startup_trials"),
                     choices={"sampler": SAMPLERS, "aggregate": AGGREGATES, "pruner": PRUNERS})
        if self.objective != "elo" and not (self.objective.startswith("score:")
                                            and self.objective[6:].strip()):
            raise ValueError("objective must be 'elo' or 'score:<ladder opponent>', got "
                             f"{self.objective!r}")
        if self.reduction_factor < 2:
            raise ValueError(f"reduction_factor must be >= 2, got {self.reduction_factor}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    @property
    def seeds(self) -> tuple[int, ...]:
        """The training seeds of every trial."""
        return tuple(range(self.seed, self.seed + self.seeds_per_trial))

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
        over = (f", {self.aggregate} of {self.seeds_per_trial} seeds"
                if self.seeds_per_trial > 1 else "")
        if self.objective == "elo":
            return f"Elo (random = 0{over})"
        return f"mean score vs {self.objective[6:]} (win 1, draw 1/2{over})"

    def fingerprint(self) -> dict[str, Any]:
        """What decides a trial's config and value: a resumed study must keep it."""
        keep = ("board_size", "env_steps", "seed", "seeds_per_trial", "aggregate",
                "objective", "train", "eval", "net")
        # "agent" and "agent_config": the names studies stored it under before the rename,
        # so that they resume
        return {"agent": self.learner, "agent_config": self.learner_config,
                **{k: getattr(self, k) for k in keep},
                "space": [dataclasses.asdict(p) for p in self.space]}


TABLES = ("tune", "train", "eval", "learner", "net", "space")
"""Tables of a tuning file (``[search]``, the older name of ``[tune]``, is read as it, and
``[agent]`` as ``[learner]``)."""
_REQUIRED = ("name", "learner", "board_size", "env_steps", "trials")
_COMMAND_LINE_ONLY = "allow_commands"
"""The :class:`TuneConfig` field a tuning file may not set."""
_SPACE_KEYS = {"float": ("type", "low", "high", "log", "step"),
               "int": ("type", "low", "high", "log", "step"),
               "categorical": ("type", "choices")}


def load_tune(path: str | Path, *, allow_commands: bool = False) -> TuneConfig:
    """Read and check a tuning file (module docstring). Every error is a ValueError
    naming the file, the table and key, and the valid choices. Each searched key is
    checked against the config at its bounds (every choice of a categorical one).
    ``allow_commands``: the user's ``--allow-commands`` (:attr:`TuneConfig.allow_commands`)."""
    path = Path(path)
    doc = read_toml(path, "tuning file")
    if "search" in doc and "tune" not in doc:  # a tuning file written before rlgo.tuning
        doc = {("tune" if k == "search" else k): v for k, v in doc.items()}
    doc = renamed_tables(doc, str(path))  # [agent] as [learner]
    if isinstance(doc.get("tune"), dict):
        doc["tune"] = renamed_tables({"train": doc["tune"]}, f"{path} [tune]")["train"]
    unknown = sorted(set(doc) - set(TABLES))
    if unknown or not all(isinstance(v, dict) for v in doc.values()):
        raise ValueError(f"{path}: a tuning file has the tables [tune], [train], [eval], "
                         "[learner], [net] and [space.<key>]"
                         + (f"; unknown tables {unknown}" if unknown else ""))
    table = doc.get("tune", {})
    nested = sorted(k for k, v in table.items() if isinstance(v, dict))
    if nested:
        raise ValueError(f"{path} [tune]: sub-tables {nested}; fixed values go in the "
                         "top-level tables [train], [eval], [learner] and [net]")
    if _COMMAND_LINE_ONLY in table:
        raise ValueError(f"{path} [tune]: {_COMMAND_LINE_ONLY} is not a key of a tuning "
                         f"file; only the command line says it ({ALLOW_COMMANDS})")
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise ValueError(f"{path} [tune]: missing keys {missing}")
    taken = sorted(set(doc.get("train", {})) & set(_FROM_TUNE))
    if taken:
        raise ValueError(f"{path} [train]: {taken} belong in [tune]")
    tune = config_from_dict(TuneConfig, table, f"{path} [tune]")
    tune = dataclasses.replace(tune, train=doc.get("train", {}), eval=doc.get("eval", {}),
                               learner_config=doc.get("learner", {}), net=doc.get("net", {}),
                               source=str(path), allow_commands=allow_commands)
    configs = trial_configs(tune, {}, f"{path} [train]/[eval]/[learner]/[net]")
    if not configs.eval.every:
        raise ValueError(f"{path} [eval]: every must be > 0 (the objective is measured by "
                         "the evaluations)")
    if tune.objective != "elo" and tune.objective[6:] not in configs.eval.ladder:
        raise ValueError(f"{path} [tune]: objective {tune.objective!r} needs "
                         f"{tune.objective[6:]!r} in eval.ladder {list(configs.eval.ladder)}")
    if not doc.get("space"):
        raise ValueError(f"{path}: no [space.<key>] table: tuning needs a value to search")
    space = tuple(_read_param(tune, key, spec) for key, spec in doc["space"].items())
    return dataclasses.replace(tune, space=space)


def _read_param(tune: TuneConfig, key: str, spec: Any) -> Param:
    """One ``[space.<key>]`` table, checked."""
    where = f"{tune.source} [space.\"{key}\"]"
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
                         "learner's config), 'net.', 'train.' or 'eval.'")
    if prefix == "train" and name in (*_FROM_TUNE, "db"):
        raise ValueError(f"{where}: train.{name} is set by [tune], not searched")
    if name in getattr(tune, {"": "learner_config"}.get(prefix, prefix)):
        raise ValueError(f"{where}: {key} is both fixed in [{_TABLES[prefix]}] and searched")
    param = _make_param(key, kind, spec, where)
    for value in param.probes():
        trial_configs(tune, {key: value}, where)
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


def trial_sections(tune: TuneConfig, params: dict[str, Any], seed: int | None = None
                   ) -> dict[str, dict[str, Any]]:
    """The config tables of a trial's run with ``seed`` (default the first): the fixed
    values, then ``params`` (keyed as ``[space]`` keys are). Trials play no earlier
    snapshots unless ``[eval]`` sets ``snapshots``: the ladder is what rates them. The
    ``[train]`` keys ``eval_*`` of older tuning files are read as ``[eval]`` keys."""
    train = {"learner": tune.learner, "board_size": tune.board_size,
             "env_steps": tune.env_steps, "seed": tune.seed if seed is None else seed,
             **tune.train, "db": tune.db_url}
    older = {new: train.pop(old) for old, new in EVAL_KEYS_IN_TRAIN.items() if old in train}
    tables = {"train": train, "eval": {"snapshots": 0, **older, **tune.eval},
              "learner": dict(tune.learner_config), "net": dict(tune.net)}
    for key, value in params.items():
        prefix, _, name = key.rpartition(".")
        tables[_TABLES[prefix]][name] = value
    return tables


def trial_configs(tune: TuneConfig, params: dict[str, Any], where: str = "",
                  seed: int | None = None) -> RunConfigs:
    """The configs a trial's run with ``seed`` trains with (:func:`trial_sections`),
    checked; ValueError naming ``where`` for an unknown key or a bad value."""
    tables = trial_sections(tune, params, seed)
    where = where or f"{tune.source} (trial parameters {params})"
    entry = get_learner(tune.learner)
    return RunConfigs.from_tables(tables, where, entry)


def check_ladder(tune: TuneConfig) -> None:
    """Start each ladder opponent once, so that a missing GNU Go or a bad player spec
    stops the tuning before it starts instead of failing every trial; ValueError naming
    the file."""
    configs = trial_configs(tune, {})
    rules = Rules(board_size=configs.train.board_size, komi=configs.train.komi)
    refuse_programs(configs.eval.ladder, f"{tune.source} [eval] ladder", tune.allow_commands)
    if configs.eval.reference:
        ReferenceTable.load(configs.eval.reference, rules, allow_commands=tune.allow_commands)
    for spec in configs.eval.ladder:
        try:
            player = make_player(spec, rules)
        except (ValueError, GnuGoError) as exc:
            raise ValueError(f"{tune.source} [eval] ladder: {spec!r}: {exc}") from exc
        close_players(player)
