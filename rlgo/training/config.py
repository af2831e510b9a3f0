"""The harness's config and how configs are overridden and stored.

:class:`TrainConfig` holds what is equal for every learner of a comparison; each learner has
its own frozen config dataclass (found through :mod:`rlgo.registry`) and the network has
:class:`~rlgo.learning.network.NetConfig`. On the command line ``--set key=value``
overrides any field: no prefix for the learner's config, ``net.`` and ``train.`` for the
others (:func:`apply_overrides`). Configs are data: TOML in, TOML out, never code.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rlgo.envs import Rules
from rlgo.evaluation.evaluator import EvalConfig
from rlgo.learning.checks import check_config
from rlgo.learning.network import NetConfig
from rlgo.registry import LearnerEntry, config_from_dict, get_learner

EVAL_KEYS_IN_TRAIN = {f"eval_{f.name}": f.name for f in fields(EvalConfig)}
"""``[train]`` keys of the evaluation before it had its own ``[eval]`` table
(``train.eval_every`` is now ``eval.every``): a stored config that has them is read as
if they were in ``[eval]``, so runs made before the change resume."""

OLD_NAMES = {"agent": "learner"}
"""Names of before 2026-12-03 read as today's: ``train.agent`` (the learner's name) is
``train.learner``, and a config file's ``[agent]`` table (the learner's settings) is
``[learner]``. Stored configs, tuning files and checkpoints that use them still load."""

#: Keys that moved; ``--set`` of an old key explains where it went.
MOVED_KEYS = {
    "train.agent": "the learner is named by train.learner now (rlgo train --learner)",
    "train.augment": "augmentation belongs to the learner now: use --set augment=true "
                     "(on by default for mcts)",
    **{f"train.{old}": f"the evaluation has its own table now: use --set eval.{new}"
       for old, new in EVAL_KEYS_IN_TRAIN.items()},
}


@dataclass(frozen=True)
class TrainConfig:
    """Harness settings, equal for every learner of a comparison."""

    learner: str = "reinforce"
    """Learner: a registered name (``rlgo agents`` lists them) or ``package.module:make``."""
    board_size: int = 7
    """Board side N."""
    komi: float | None = None
    """Komi; None takes rlgo's default for the size (see ``rlgo.envs.default_komi``)."""
    env_steps: int = 200_000
    """Budget: moves played in real games (both colours) before training stops. Learners
    learn from finished games only, so the iteration that reaches it finishes: a run
    passes it by less than one iteration (``games_per_iteration`` games; ``rlgo train``
    prints where it stopped)."""
    wall_seconds: float = 0.0
    """Budget: training also stops once self-play and learning have taken this many
    seconds (the ``wall_s`` counter, evaluation excluded); 0: no time limit. The
    iteration that crosses it finishes, so a run overshoots by at most one iteration."""
    nn_evals: int = 0
    """Budget: training also stops once the ``nn_evals`` counter (network evaluations for
    acting, for the opponent and by the learner) reaches this; 0: no limit. Like
    ``wall_seconds``, the iteration that crosses it finishes."""
    seed: int = 0
    """Seed of everything (torch, numpy, the players)."""
    parallel_games: int = 64
    """Self-play games played at once (the batch of every network call)."""
    games_per_iteration: int = 64
    """Finished games handed to the learner per update."""
    opponent: str = "self"
    """"self": the learner plays both colours; "pool": it plays one colour against a
    snapshot sampled from its last ``pool_size`` snapshots (the latest included)."""
    pool_size: int = 8
    """Snapshots kept in the opponent pool."""
    pool_every: int = 10_000
    """Env steps between snapshots added to the pool."""
    pool_share: float = 1.0
    """With ``opponent = "pool"``: the share of games played against a pool snapshot; the
    rest are plain self-play with the latest policy."""
    opening_moves: int = 0
    """Each self-play game starts from k uniformly random legal moves, k drawn from
    0..opening_moves per game (random openings / mid-game starts); 0: none."""
    checkpoint_every: int = 25_000
    """Env steps between checkpoints (evaluations, ``eval.every``, also checkpoint)."""
    keep_checkpoints: int = 2
    """Resume checkpoints kept (the newest; older ones are deleted once a new one is
    written: they hold replay buffers, hundreds of MB each). Snapshots are all kept."""
    sgf_samples: int = 4
    """Self-play games of the latest iteration saved as SGF at every evaluation, in
    ``<out>/games/`` (with the search's top moves and values as comments where the
    learner records them); 0: none."""
    tensorboard: bool = False
    """Also write every metric row as TensorBoard scalars in ``<out>/tensorboard`` (tags
    as in ``metrics.csv``, step = env steps; needs the ``tensorboard`` package).
    ``metrics.csv`` stays the source of truth: a resume rebuilds the TensorBoard files
    from it."""
    db: str = ""
    """Match database URL; empty means ``sqlite:///<out>/matches.sqlite``."""
    threads: int = 0
    """torch intra-op threads; 0 leaves torch's default."""
    device: str = "cpu"
    """Torch device of the learner's networks, batches and search leaves: "cpu", "cuda"
    (or "cuda:<i>"), or "auto" (CUDA when available). Self-play and the rules stay on
    the CPU."""

    def __post_init__(self) -> None:
        check_config(self, positive=("env_steps", "parallel_games", "games_per_iteration",
                                     "pool_size", "pool_every", "checkpoint_every",
                                     "keep_checkpoints"),
                     non_negative=("seed", "threads", "nn_evals", "sgf_samples",
                                   "wall_seconds", "opening_moves"),
                     unit=("pool_share",), choices={"opponent": ("self", "pool")})
        Rules(board_size=self.board_size, komi=self.komi)  # validates the size and komi
        if not isinstance(self.learner, str) or not self.learner.strip():
            raise ValueError("learner must name a learner")
        if self.opening_moves >= self.board_size * self.board_size:
            raise ValueError(f"opening_moves must lie in 0..{self.board_size ** 2 - 1}, "
                             f"got {self.opening_moves}")
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda[:i]' or 'auto', got {self.device!r}")


# ----------------------------------------------------------------------- overrides


def _coerce(value: str, hint: Any, key: str) -> Any:
    """Parse a ``--set`` value for a field annotated ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null", "") and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is tuple:
        return _coerce_list(value, hint, key)
    try:
        if hint is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return value
    except ValueError:
        pass
    raise ValueError(f"--set {key}={value!r}: expected a value of type {hint}")


def _coerce_list(value: str, hint: Any, key: str) -> tuple[Any, ...]:
    """A list for ``--set``: a TOML array (``["random", "rollout:8"]``) or comma-separated
    items (``random,rollout:8``); anything that is neither is refused, not split."""
    item = typing.get_args(hint)[0]
    example = f'--set {key}=\'["random", "rollout:8"]\' or --set {key}=random,rollout:8'
    if value.strip().startswith("["):
        try:
            items = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--set {key}={value!r} is not a TOML array ({exc}); write "
                             f"{example}") from None
        if not all(isinstance(v, item) and not isinstance(v, bool) for v in items):
            raise ValueError(f"--set {key}={value!r}: every item must be a "
                             f"{item.__name__}; write {example}")
        return tuple(items)
    items = [v.strip() for v in value.split(",") if v.strip()]
    if any(c in v for v in items for c in "[]\"'"):
        raise ValueError(f"--set {key}={value!r}: brackets or quotes outside a TOML array; "
                         f"write {example}")
    return tuple(item(v) for v in items)


def apply_overrides(configs: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to frozen config dataclasses.

    ``configs`` maps a prefix to a config (``{"": learner_config, "net": net_config,
    "train": train_config}``); a key is ``field`` for the unprefixed config or
    ``prefix.field``. Unknown keys and unparsable values raise ValueError naming the
    valid keys.
    """
    changes: dict[str, dict[str, Any]] = {p: {} for p in configs}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
        if key in MOVED_KEYS:
            raise ValueError(f"--set {key}: {MOVED_KEYS[key]}")
        prefix, _, name = key.rpartition(".")
        if prefix not in configs:
            raise ValueError(f"unknown config section {prefix!r} in {key!r}; "
                             f"use one of {sorted(p for p in configs if p)} or no prefix")
        hints = typing.get_type_hints(type(configs[prefix]))
        if name not in hints:
            valid = [(f"{prefix}." if prefix else "") + f.name
                     for f in fields(configs[prefix])]
            raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
        changes[prefix][name] = _coerce(value, hints[name], key)
    return {p: dataclasses.replace(c, **changes[p]) for p, c in configs.items()}


CONFIG_SECTIONS = ("train", "eval", "learner", "net")
"""Tables of a config file, as a run directory's ``config.toml`` stores them: ``[train]``
(:class:`TrainConfig`, whose ``learner`` names the learner), ``[eval]``
(:class:`~rlgo.evaluation.evaluator.EvalConfig`), ``[learner]`` (that learner's settings,
its config dataclass) and ``[net]`` (:class:`~rlgo.learning.network.NetConfig`). Older
files' ``[agent]`` is read as ``[learner]`` (:data:`OLD_NAMES`)."""


def read_toml(path: str | Path, what: str, error: type[ValueError] = ValueError,
              ) -> dict[str, Any]:
    """A TOML file's tables; ``error`` (a ValueError) naming ``what`` and the file when it
    is missing or malformed. Configs, studies and searches are read with it: data, never
    code."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise error(f"{what} {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path} is not valid TOML: {exc}") from exc


def read_config_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """The tables of a config file (:data:`CONFIG_SECTIONS`; any may be left out, and a
    missing key keeps its default). A run's ``config.toml`` and the config a tuning search
    exports are such files. Raises ValueError naming the file for a missing or malformed
    file or an unknown table; keys are checked when the configs are built."""
    path = Path(path)
    sections = read_toml(path, "config file")
    unknown = sorted(set(sections) - set(CONFIG_SECTIONS) - set(OLD_NAMES))
    if unknown:
        raise ValueError(f"{path}: unknown tables {unknown}; a config file has "
                         f"{', '.join(f'[{s}]' for s in CONFIG_SECTIONS)}")
    for name, table in sections.items():
        if not isinstance(table, dict):
            raise ValueError(f"{path}: {name} must be a table ([{name}])")
    return sections


def renamed_tables(tables: dict[str, Any], where: str) -> dict[str, Any]:
    """``tables`` with older names as today's (:data:`OLD_NAMES`): an ``[agent]`` table as
    ``[learner]``, a ``train.agent`` key as ``train.learner``. ValueError naming ``where``
    when both names are given."""
    tables = dict(tables)
    for old, new in OLD_NAMES.items():
        if old in tables:
            if new in tables:
                raise ValueError(f"{where}: both [{old}] and [{new}]; [{old}] is the older "
                                 f"name of [{new}]: keep one")
            tables[new] = tables.pop(old)
        train = tables.get("train")
        if isinstance(train, dict) and old in train:
            if new in train:
                raise ValueError(f"{where}: both train.{old} and train.{new}; keep "
                                 f"train.{new}")
            tables["train"] = {(new if k == old else k): v for k, v in train.items()}
    return tables


def to_table(cfg: Any) -> dict[str, Any]:
    """A config as a TOML table (None fields left out: absent means the default)."""
    return {k: v for k, v in dataclasses.asdict(cfg).items() if v is not None}


@dataclass(frozen=True)
class RunConfigs:
    """Everything a run is built from, and the one place where its configs are made from
    tables and turned back into them (``config.toml``, a study's run, a tuning's trial)."""

    train: TrainConfig
    learner: Any
    """The learner's config (an instance of ``entry.config_class``)."""
    net: NetConfig
    entry: LearnerEntry
    """The learner, as the registry found it."""
    eval: EvalConfig = EvalConfig()
    """How and when the run rates its snapshots."""

    @classmethod
    def from_tables(cls, tables: dict[str, dict[str, Any]], where: str,
                    entry: LearnerEntry | None = None) -> RunConfigs:
        """The configs of the ``train``, ``eval``, ``learner`` and ``net`` tables (a
        missing table or key at its default; ``train.eval_*`` keys of older configs are
        read as ``eval`` keys, :data:`EVAL_KEYS_IN_TRAIN`, and older names as today's,
        :data:`OLD_NAMES`); ``entry``: the learner (default: the one ``train.learner``
        names). ValueError naming ``where`` for an unknown key or a bad value."""
        tables = renamed_tables(tables, where)
        train_table = dict(tables.get("train", {}))
        eval_table = {new: train_table.pop(old) for old, new in EVAL_KEYS_IN_TRAIN.items()
                      if old in train_table}
        eval_table.update(tables.get("eval", {}))
        train = config_from_dict(TrainConfig, train_table, where)
        entry = entry if entry is not None else get_learner(train.learner)
        return cls(train, config_from_dict(entry.config_class,
                                           dict(tables.get("learner", {})), where),
                   config_from_dict(NetConfig, dict(tables.get("net", {})), where), entry,
                   config_from_dict(EvalConfig, eval_table, f"{where} [eval]"))

    def to_tables(self) -> dict[str, dict[str, Any]]:
        """The ``train``, ``eval``, ``learner`` and ``net`` tables of ``config.toml``."""
        return {"train": to_table(self.train), "eval": to_table(self.eval),
                "learner": to_table(self.learner), "net": to_table(self.net)}

    @property
    def configs(self) -> tuple[TrainConfig, EvalConfig, Any, NetConfig]:
        """(train, eval, learner, net), what two runs compare to be the same run."""
        return self.train, self.eval, self.learner, self.net

    def overridden(self, overrides: Sequence[str]) -> RunConfigs:
        """These configs with ``key=value`` overrides applied (:func:`apply_overrides`:
        no prefix for the learner's config, ``train.``, ``eval.`` and ``net.``)."""
        c = apply_overrides({"": self.learner, "train": self.train, "eval": self.eval,
                             "net": self.net}, overrides)
        return RunConfigs(c["train"], c[""], c["net"], self.entry, c["eval"])

    def default_out(self) -> str:
        """``runs/<learner><board>-s<seed>``, where ``rlgo train`` puts a run by default."""
        return f"runs/{self.train.learner}{self.train.board_size}-s{self.train.seed}"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if v is None:
        return '"none"'
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_toml(sections: dict[str, dict[str, Any]]) -> str:
    """A small TOML writer for flat sections of scalars and lists (configs are data)."""
    out = []
    for name, table in sections.items():
        out.append(f"[{name}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        out.append("")
    return "\n".join(out)
