"""Study files: which learners, on what board, under which budget, rated how.

A study is a TOML file (``studies/quickstart.toml`` is a complete example)::

    [study]
    name = "quickstart"          # names the output folder, runs/<name>, unless out is set
    board_size = 5
    budget = "env_steps"         # the axis that is equal for every run: env_steps,
    amount = 40000               # nn_evals (network evaluations) or wall_s (seconds)
    seeds = [0]

    [evaluation]                 # how every run is rated during training (EvalConfig)
    every = 10000                # env steps between evaluations
    games = 20
    ladder = ["random", "rollout:32", "gnugo:0"]
    # reference = "studies/anchors/5x5.toml"   # instead: a fixed scale, adaptive games
    # search = 32                # also rate each snapshot with 32 simulations a move

    [league]                     # after training: final snapshots and anchors, all pairs
    games = 20
    opening_moves = 2

    [train]                      # harness settings shared by every agent (optional)
    parallel_games = 32

    [agents.ppo]                 # one table per agent; the key is its label (a plain name)
    learner = "ppo"              # a registered learner (rlgo agents) or package.module:make
    config = "best.toml"         # optional config file (rlgo tune exports one)
    lr = 0.001                   # optional: the learner's own settings, as keys here,
    net = { blocks = 2 }         # and overrides of the network and the harness
    train = { parallel_games = 64 }
    eval = { search = 16 }       # only search and greedy: the scale is the study's

Settings are merged, later winning: defaults, the agent's ``config`` file, the study's
``[train]``/``[net]``, the agent's own tables, and last what the study fixes for every run
(board, komi, seed, budget, match database): an agent table that sets one of those is an
error, since it would make the comparison unequal. The evaluation is the study's
``[evaluation]`` for every run (a ``config`` file's ``[eval]`` is not used), but for an
agent's own ``search`` and ``greedy``. The ``[train]`` keys ``eval_*`` of older study
files are read as ``[evaluation]`` keys (agents': as their ``eval``).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlgo.envs import Rules
from rlgo.errors import RlgoError
from rlgo.evaluation.evaluator import EvalConfig
from rlgo.evaluation.players import refuse_programs
from rlgo.evaluation.reference import ReferenceTable
from rlgo.registry import config_from_dict, get_learner, type_name, value_fits
from rlgo.training.config import (
    EVAL_KEYS_IN_TRAIN,
    RunConfigs,
    read_config_file,
    read_toml,
    renamed_tables,
    to_table,
)

BUDGETS = ("env_steps", "nn_evals", "wall_s")
"""Budget axes: moves played, network evaluations, or training seconds."""

FIXED_BY_STUDY = ("learner", "board_size", "komi", "seed", "env_steps", "nn_evals",
                  "wall_seconds", "db", "threads")
"""``[train]`` keys a study sets for every run alike (an agent's table may not)."""
_STUDY_EVAL = {"every": 10_000, "snapshots": 1}
"""A study's evaluation defaults where they differ from a single run's."""
EVAL_FIXED_BY_STUDY = ("every", "games", "ladder", "snapshots", "reference",
                       "target_stderr", "max_games")
"""``[eval]`` keys a study sets for every run alike: the scale they are rated on."""
"""``[train]`` keys a study sets for every run alike; agent tables may not set them."""

_UNCAPPED = 10**12
"""``env_steps`` of a run whose budget is on another axis (the budget stops it first)."""


PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
"""What a study's name and its agents' labels may be: they name files and folders
(``runs/<name>``, ``<label>-s<seed>.log``), so never a path: letters, digits, ``_``,
``.`` and ``-``, starting with a letter or digit, at most 100 characters."""


class StudyFileError(RlgoError, ValueError):
    """A study file is missing, malformed, or names an unknown key or value."""


def plain_name(value: str) -> bool:
    """Whether ``value`` is a :data:`PLAIN_NAME` (no path: no ``/``, no ``..``)."""
    return PLAIN_NAME.fullmatch(value) is not None


@dataclass(frozen=True)
class AgentEntry:
    """One agent of a study: a learner and its settings."""

    label: str
    """Name of the agent in the study's tables and figures (its key under ``[agents]``); a
    :data:`PLAIN_NAME`, since it names the run's folder, log and config files."""
    learner: str
    """Registered learner name, or ``package.module:make``."""
    config: str = ""
    """Config file (``[train]``/``[learner]``/``[net]`` tables) applied first; "" for
    none. A relative path is relative to the study file."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Overrides of the learner's config: the agent table's other keys (an older study
    file's ``agent = {...}`` table is read as them)."""
    net: dict[str, Any] = field(default_factory=dict)
    """Overrides of the network config."""
    train: dict[str, Any] = field(default_factory=dict)
    """Overrides of the harness config (not the keys in :data:`FIXED_BY_STUDY`)."""
    eval: dict[str, Any] = field(default_factory=dict)
    """Its own ``search`` and ``greedy`` evaluation settings (the rest is the study's)."""


@dataclass(frozen=True)
class StudyConfig:
    """A parsed study file."""

    name: str
    """Study name; the output folder is ``runs/<name>`` unless ``out`` is set."""
    board_size: int
    """Board side N of every run and of the league."""
    budget: str
    """Budget axis, one of :data:`BUDGETS`."""
    amount: float
    """Budget per run, in units of ``budget`` (moves, evaluations or seconds)."""
    agents: tuple[AgentEntry, ...]
    """The agents compared, in the order of the file."""
    seeds: tuple[int, ...] = (0,)
    """Seeds run for every agent."""
    komi: float | None = None
    """Komi; None takes rlgo's default for the size."""
    out: str = ""
    """Output folder (runs, match database, results, figures); "" means ``runs/<name>``.
    Relative to the working directory."""
    workers: int = 0
    """Runs trained at once, one process each; 0 means one per CPU core."""
    db: str = ""
    """Match database URL of the whole study; "" means a SQLite file in the output folder.
    Studies spread over several machines (``--backend ray``) need a server every machine
    reaches, e.g. ``postgresql+psycopg://user@host/rlgo``."""
    evaluation: EvalConfig = EvalConfig(**_STUDY_EVAL)
    """``[evaluation]``: how every run rates its snapshots (:class:`EvalConfig`; in a
    study ``every`` defaults to 10,000 and ``snapshots`` to 1). With ``reference`` (a
    table of ``rlgo ladder calibrate``, relative to the working directory) every
    evaluation rates its snapshot (and, with ``search``, the snapshot with search)
    against the table's anchors by adaptive match-making, on the table's fixed scale,
    and the league rates its members against the anchors the same way (ladder and
    earlier snapshots are then not played); "" keeps the ladder and one Bradley-Terry fit
    of all the study's games. An agent may set ``search`` and ``greedy`` for its own runs
    (``[agents.<label>] eval``); the rest is the comparison's and fixed."""
    league_games: int = 20
    """Games per pairing of the final league (colours alternate); 0 skips the league."""
    league_opening_moves: int = 2
    """Random opening moves starting each pair of league games (paired: both colours)."""
    league_anchors: tuple[str, ...] = ()
    """Fixed players in the league; empty means the evaluation ladder."""
    train: dict[str, Any] = field(default_factory=dict)
    """Harness overrides shared by every agent."""
    net: dict[str, Any] = field(default_factory=dict)
    """Network overrides shared by every agent."""
    source: str = ""
    """The study file this came from (for messages and relative paths)."""
    allow_commands: bool = False
    """Whether ladder, league and reference-table anchors may run programs (``gtp:``):
    only the command line sets it (``--allow-commands``), never the study file, which
    is data (:func:`rlgo.evaluation.players.refuse_programs`)."""

    def __post_init__(self) -> None:
        where = self.source or "the study"
        if self.budget not in BUDGETS:
            raise StudyFileError(f"{where}: study.budget = {self.budget!r}; choose one of "
                                 f"{', '.join(BUDGETS)}")
        checks = [("study.amount", self.amount > 0), ("study.seeds", len(self.seeds) > 0),
                  ("study.workers", self.workers >= 0),
                  ("evaluation.every", self.evaluation.every > 0),
                  ("league.games", self.league_games >= 0),
                  ("league.opening_moves", 0 <= self.league_opening_moves < self.board_size**2)]
        for key, ok in checks:
            if not ok:
                raise StudyFileError(f"{where}: {key} is out of range")
        for key, specs in (("evaluation.ladder", self.evaluation.ladder),
                           ("league.anchors", self.league_anchors)):
            try:
                refuse_programs(specs, f"{where}: {key}", self.allow_commands)
            except ValueError as exc:
                raise StudyFileError(str(exc)) from exc
        if self.evaluation.reference:
            try:
                table = ReferenceTable.load(self.evaluation.reference,
                                            Rules(board_size=self.board_size, komi=self.komi),
                                            allow_commands=self.allow_commands)
            except (OSError, ValueError) as exc:
                raise StudyFileError(f"{where}: evaluation.reference: {exc}") from exc
            missing = [a for a in self.anchors if a not in table.anchors]
            if missing:
                raise StudyFileError(
                    f"{where}: league anchors {missing} are not in the reference table "
                    f"{self.evaluation.reference} (its anchors: {', '.join(table.anchors)})")
        if len(set(self.seeds)) != len(self.seeds):
            raise StudyFileError(f"{where}: study.seeds repeats a seed: {list(self.seeds)}")
        if not self.agents:
            raise StudyFileError(f"{where}: no agents; add an [agents.<label>] table")
        if not plain_name(self.name):
            raise StudyFileError(f"{where}: study.name must be a plain name (letters, digits, "
                                 f"_ . -, not a path), got {self.name!r}")
        try:
            Rules(board_size=self.board_size, komi=self.komi)
        except ValueError as exc:
            raise StudyFileError(f"{where}: {exc}") from exc

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    @property
    def db_url(self) -> str:
        """The one match database of the study: every run's and the league's games."""
        return self.db or f"sqlite:///{self.out_dir / 'matches.sqlite'}"

    @property
    def anchors(self) -> tuple[str, ...]:
        return self.league_anchors or self.evaluation.ladder

    def run_names(self) -> list[tuple[AgentEntry, int, str]]:
        """(agent, seed, run name) of every run, agents in file order, seeds inside."""
        return [(a, s, f"{a.label}-s{s}") for a in self.agents for s in self.seeds]


_SCHEMA: dict[str, dict[str, str]] = {
    "study": {"name": "name", "board_size": "board_size", "komi": "komi", "budget": "budget",
              "amount": "amount", "seeds": "seeds", "out": "out", "workers": "workers",
              "db": "db"},
    "league": {"games": "league_games", "opening_moves": "league_opening_moves",
               "anchors": "league_anchors"},
}
"""Study-file keys per table, and the :class:`StudyConfig` field each fills."""

_AGENT_KEYS = ("learner", "config", "net", "train", "eval")
"""Keys of an ``[agents.<label>]`` table besides the learner's own settings."""


def load_study(path: str | Path, *, allow_commands: bool = False) -> StudyConfig:
    """Parse and check a study file: unknown tables and keys, values of the wrong type,
    unknown learners, agent configs that do not build and (unless ``allow_commands``,
    the user's ``--allow-commands``) anchors that run programs are
    :class:`StudyFileError` naming the file, the key and the valid choices."""
    path = Path(path)
    doc = read_toml(path, "study file", StudyFileError)
    tables = [*_SCHEMA, "evaluation", "train", "net", "agents"]
    unknown = sorted(set(doc) - set(tables))
    if unknown:
        raise StudyFileError(f"{path}: unknown tables {unknown}; a study has "
                             f"{', '.join(f'[{t}]' for t in tables)}")
    values: dict[str, Any] = {"source": str(path), "allow_commands": allow_commands}
    hints = typing.get_type_hints(StudyConfig)
    for table, keys in _SCHEMA.items():
        given = _table(doc, table, path)
        bad = sorted(set(given) - set(keys))
        if bad:
            raise StudyFileError(f"{path}: unknown keys {bad} in [{table}]; valid keys: "
                                 f"{', '.join(keys)}")
        for key, value in given.items():
            values[keys[key]] = _typed(value, hints[keys[key]], f"{path}: {table}.{key}")
    for required in ("name", "board_size", "budget", "amount"):
        if required not in values:
            raise StudyFileError(f"{path}: [study] needs {required}")
    train = _table(doc, "train", path)
    older = {new: train[old] for old, new in EVAL_KEYS_IN_TRAIN.items() if old in train}
    evaluation = {**_STUDY_EVAL, **older, **_table(doc, "evaluation", path)}
    try:
        values["evaluation"] = config_from_dict(EvalConfig, evaluation, f"{path} [evaluation]")
    except ValueError as exc:
        raise StudyFileError(str(exc)) from exc
    values["train"] = {k: v for k, v in train.items() if k not in EVAL_KEYS_IN_TRAIN}
    values["net"] = _table(doc, "net", path)
    values["agents"] = tuple(_agent(label, spec, path)
                             for label, spec in _table(doc, "agents", path).items())
    try:
        study = StudyConfig(**values)
    except StudyFileError:
        raise
    except (TypeError, ValueError) as exc:
        raise StudyFileError(f"{path}: {exc}") from exc
    for agent in study.agents:  # every agent's configs build
        try:
            run_configs(study, agent, study.seeds[0])
        except ValueError as exc:
            key = f"agents.{agent.label}"
            message = str(exc) if key in str(exc) else f"{key}: {exc}"
            raise StudyFileError(f"{path}: {message}") from exc
    return study


def _table(doc: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise StudyFileError(f"{path}: {name} must be a table ([{name}])")
    return table


def _typed(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against a field annotation (lists become tuples)."""
    if isinstance(value, list):
        value = tuple(value)
    if not value_fits(value, hint):
        raise StudyFileError(f"{where} = {value!r} is not a {type_name(hint)}")
    return float(value) if hint is float else value


def _agent(label: str, spec: Any, path: Path) -> AgentEntry:
    where = f"{path}: agents.{label}"
    if not plain_name(label):  # it names the run's folder, log and config files
        raise StudyFileError(f"{path}: agent label {label!r} must be a plain name (letters, "
                             "digits, _ . -, starting with a letter or digit), not a path")
    if not isinstance(spec, dict):
        raise StudyFileError(f"{where} must be a table ([agents.{label}])")
    if "learner" not in spec:
        raise StudyFileError(f"{where} needs learner = \"<name>\" (rlgo agents lists them)")
    for key in ("agent", "net", "train", "eval"):
        if not isinstance(spec.get(key, {}), dict):
            raise StudyFileError(f"{where}.{key} must be a table")
    settings = {k: v for k, v in spec.items() if k not in (*_AGENT_KEYS, "agent")}
    older = spec.get("agent", {})  # the learner's settings as study files wrote them before
    both = sorted(set(settings) & set(older))
    if both:
        raise StudyFileError(f"{where} sets {both} both as keys and in its older agent table")
    settings.update(older)
    train = dict(spec.get("train", {}))
    older = {new: train.pop(old) for old, new in EVAL_KEYS_IN_TRAIN.items() if old in train}
    evaluation = {**older, **spec.get("eval", {})}
    for table, keys, fixed_keys in (("train", train, FIXED_BY_STUDY),
                                    ("eval", evaluation, EVAL_FIXED_BY_STUDY)):
        fixed = sorted(set(keys) & set(fixed_keys))
        if fixed:
            raise StudyFileError(f"{where}.{table} sets {fixed}, which the study fixes for "
                                 "every run alike (set them in [study] or [evaluation])")
    config = str(spec.get("config", ""))
    if config and not Path(config).is_absolute():
        config = str(path.parent / config)
    return AgentEntry(label=label, learner=str(spec["learner"]), config=config,
                      settings=settings, net=dict(spec.get("net", {})), train=train,
                      eval=evaluation)


def run_configs(study: StudyConfig, agent: AgentEntry, seed: int) -> RunConfigs:
    """The configs of one run (module docstring: the order settings are merged in).
    Raises ValueError for an unknown learner, key or bad value."""
    entry = get_learner(agent.learner)
    where = f"agents.{agent.label}"
    sections = (renamed_tables(read_config_file(agent.config), agent.config)
                if agent.config else {})
    train = {**sections.get("train", {}), **study.train, **agent.train}
    train = {k: v for k, v in train.items() if k not in EVAL_KEYS_IN_TRAIN}  # older files
    evaluation = {**to_table(study.evaluation), **agent.eval}
    train.update(learner=agent.learner, board_size=study.board_size, seed=seed,
                 db=study.db_url, env_steps=_UNCAPPED, nn_evals=0, wall_seconds=0.0)
    if study.komi is not None:
        train["komi"] = study.komi
    if study.budget == "env_steps":
        train["env_steps"] = int(study.amount)
    elif study.budget == "nn_evals":
        train["nn_evals"] = int(study.amount)
    else:
        train["wall_seconds"] = float(study.amount)
    return RunConfigs.from_tables(
        {"train": train, "eval": evaluation,
         "learner": {**sections.get("learner", {}), **agent.settings},
         "net": {**sections.get("net", {}), **study.net, **agent.net}}, where, entry)
