"""The training loop every agent runs under: self-play, learn, evaluate, checkpoint.

One iteration plays ``games_per_iteration`` finished games with the learner's current
policy (all games batched on one engine), hands their moves to ``learner.learn`` and logs
the returned metrics with the counters. On a fixed schedule of env steps the current
snapshot plays the evaluation ladder, its Elo on the run's match database is logged, and a
checkpoint is written. Randomness is re-seeded from ``(seed, iteration)`` at the start of
every iteration, so a resumed run replays exactly the numbers of an uninterrupted one.

``wall_s`` counts self-play and learning only; evaluation time is logged separately as
``charts/eval_s`` (it is measurement, not training compute).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import time
import tomllib
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlgo.checkpoint import load_checkpoint, rules_to_dict, save_checkpoint
from rlgo.envs import Rules
from rlgo.network import NetConfig, PolicyValueNet
from rlgo.runs import Counters, RunDir, dump_toml
from rlgo.selfplay import SelfPlay
from rlgo.symmetry import augment

#: Agent name -> (module, config class). Every module has ``make(board_size, config,
#: net_config, seed) -> Learner``.
AGENTS: dict[str, tuple[str, str]] = {
    "reinforce": ("rlgo.agents.reinforce", "ReinforceConfig"),
    "mcts": ("rlgo.agents.mcts", "MCTSConfig"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Harness settings, equal for every agent of a comparison."""

    agent: str = "reinforce"
    """Learner name, one of :data:`AGENTS`."""
    board_size: int = 7
    """Board side N."""
    komi: float | None = None
    """Komi; None takes rlgo's default for the size (see ``rlgo.envs.default_komi``)."""
    env_steps: int = 200_000
    """Budget: moves played in real games (both colours) before training stops."""
    wall_seconds: float = 0.0
    """Budget: training also stops once self-play and learning have taken this many
    seconds (the ``wall_s`` counter, evaluation excluded); 0: no time limit. The
    iteration that crosses it finishes, so a run overshoots by at most one iteration."""
    seed: int = 0
    """Seed of everything (torch, numpy, the players)."""
    parallel_games: int = 64
    """Self-play games played at once (the batch of every network call)."""
    games_per_iteration: int = 64
    """Finished games handed to the learner per update."""
    augment: bool = False
    """Apply a random D4 symmetry to every training position."""
    opponent: str = "self"
    """"self": the learner plays both colours; "pool": it plays one colour against a
    snapshot sampled from its last ``pool_size`` snapshots (the latest included)."""
    pool_size: int = 8
    """Snapshots kept in the opponent pool."""
    pool_every: int = 10_000
    """Env steps between snapshots added to the pool."""
    eval_every: int = 50_000
    """Env steps between evaluations (and checkpoints); 0 disables evaluation."""
    eval_games: int = 20
    """Games against each ladder opponent per evaluation (colours alternate)."""
    eval_ladder: tuple[str, ...] = ("random", "rollout:32", "gnugo:0")
    """Fixed opponents of every evaluation (player specs, see ``rlgo.players``)."""
    eval_snapshots: int = 2
    """Earlier snapshots of the run each evaluation also plays."""
    eval_greedy: bool = False
    """Evaluate the raw policy's argmax (True) or samples from it (False)."""
    eval_search: int = 0
    """If > 0, the snapshot also plays the ladder with this many search simulations per
    move (``<snapshot>:search=<n>``), so the raw policy and the policy with search both
    get an Elo (logged as ``eval/search/...``)."""
    checkpoint_every: int = 25_000
    """Env steps between checkpoints (evaluations also checkpoint)."""
    db: str = ""
    """Match database URL; empty means ``sqlite:///<out>/matches.sqlite``."""
    threads: int = 0
    """torch intra-op threads; 0 leaves torch's default."""

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; choose from {sorted(AGENTS)}")
        if self.opponent not in ("self", "pool"):
            raise ValueError(f"opponent must be 'self' or 'pool', got {self.opponent!r}")
        if self.wall_seconds < 0:
            raise ValueError("wall_seconds must be >= 0 (0: no time limit)")
        for name in ("env_steps", "parallel_games", "games_per_iteration", "pool_size",
                     "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        Rules(board_size=self.board_size, komi=self.komi)  # validates the size


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
        if origin is tuple:
            return tuple(v.strip() for v in value.split(",") if v.strip())
    except ValueError:
        pass
    raise ValueError(f"--set {key}={value!r}: expected a value of type {hint}")


def apply_overrides(configs: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to frozen config dataclasses.

    ``configs`` maps a prefix to a config (``{"": agent_config, "net": net_config,
    "train": train_config}``); a key is ``field`` for the unprefixed config or
    ``prefix.field``. Unknown keys and unparsable values raise ValueError naming the
    valid keys.
    """
    changes: dict[str, dict[str, Any]] = {p: {} for p in configs}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = (s.strip() for s in item.split("=", 1))
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


def agent_config_class(agent: str) -> type:
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose from {sorted(AGENTS)}")
    module, cls = AGENTS[agent]
    return getattr(importlib.import_module(module), cls)


def _to_table(cfg: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if v is not None}


def _from_table(cls: type, table: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"unknown keys {unknown} for {cls.__name__} in the run's config.toml")
    hints = typing.get_type_hints(cls)
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    for k, v in fixed.items():
        if v == "none" and type(None) in typing.get_args(hints[k]):
            fixed[k] = None
    return cls(**fixed)


# ----------------------------------------------------------------------- the loop


@dataclass
class _Progress:
    """What a checkpoint must restore besides the learner."""

    iteration: int = 0
    counters: Counters = dataclasses.field(default_factory=Counters)
    next_eval: int = 0
    next_checkpoint: int = 0
    next_pool: int = 0
    pool: list[dict[str, torch.Tensor]] = dataclasses.field(default_factory=list)
    last_elo: float = float("nan")


class Trainer:
    """Runs one training run in ``out``; resumes if ``out`` holds a checkpoint."""

    def __init__(self, train: TrainConfig, agent_config: Any, net_config: NetConfig,
                 out: str | Path, progress: bool = True) -> None:
        self.cfg = train
        self.agent_config = agent_config
        self.net_config = net_config
        self.run = RunDir(out)
        self.name = Path(out).name
        self.show_progress = progress
        self.rules = Rules(board_size=train.board_size, komi=train.komi)
        module = importlib.import_module(AGENTS[train.agent][0])
        if train.threads > 0:
            torch.set_num_threads(train.threads)
        torch.manual_seed(train.seed)
        self.learner = module.make(train.board_size, agent_config, net_config, train.seed)
        self.state = _Progress(next_eval=train.eval_every, next_checkpoint=train.checkpoint_every,
                               next_pool=0)
        self._db = None

    # ------------------------------------------------------------------ config / resume
    def sections(self) -> dict[str, dict[str, Any]]:
        return {"train": _to_table(self.cfg), "agent": _to_table(self.agent_config),
                "net": _to_table(self.net_config)}

    def _start_or_resume(self) -> None:
        if self.run.exists():
            stored = self.run.read_config()
            if stored != tomllib.loads(dump_toml(self.sections())):
                raise ValueError(
                    f"{self.run.path} holds a run with a different config; use a new --out "
                    "(or the same flags as that run to resume it)"
                )
        self.run.write_config(self.sections())
        ckpt = self.run.latest_checkpoint()
        if ckpt is None:
            self.run.open_metrics(keep_rows=0)
            self._forget_games_after(-1)
            return
        payload = load_checkpoint(ckpt)
        self.learner.net.load_state_dict(payload["net"])
        self.learner.load_state_dict(payload["learner"])
        h = payload["harness"]
        self.state = _Progress(
            iteration=int(h["iteration"]),
            counters=Counters.from_dict(payload["counters"]),
            next_eval=int(h["next_eval"]), next_checkpoint=int(h["next_checkpoint"]),
            next_pool=int(h["next_pool"]), pool=list(h["pool"]),
            last_elo=float(h["last_elo"]),
        )
        self.run.open_metrics(keep_rows=int(payload["metrics_rows"]))
        self._forget_games_after(self.state.counters.env_steps)

    def _checkpoint(self) -> Path:
        s = self.state
        payload = {
            "agent": self.cfg.agent,
            "rules": rules_to_dict(self.rules),
            "net_config": dataclasses.asdict(self.net_config),
            "agent_config": dataclasses.asdict(self.agent_config),
            "train_config": {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in dataclasses.asdict(self.cfg).items()},
            "net": self.learner.net.state_dict(),
            "learner": self.learner.state_dict(),
            "counters": s.counters.as_dict(),
            "metrics_rows": self.run.rows,
            "harness": {"iteration": s.iteration, "next_eval": s.next_eval,
                        "next_checkpoint": s.next_checkpoint, "next_pool": s.next_pool,
                        "pool": s.pool, "last_elo": s.last_elo},
        }
        return save_checkpoint(self.run.checkpoint_path(s.counters.env_steps), payload)

    # ------------------------------------------------------------------ matches
    @property
    def db_url(self) -> str:
        return self.cfg.db or f"sqlite:///{self.run.path / 'matches.sqlite'}"

    def db(self):
        if self._db is None:
            from rlgo.matchdb import MatchDB

            self._db = MatchDB(self.db_url)
        return self._db

    def _forget_games_after(self, env_steps: int) -> None:
        """Evaluation games stored after the checkpoint we resume from will be replayed."""
        if self.cfg.eval_every:
            self.db().delete_games(run=self.name, after_env_steps=env_steps)

    # ------------------------------------------------------------------ training
    def _opponent(self, rng: np.random.Generator):
        if self.cfg.opponent == "self" or not self.state.pool:
            return None
        from rlgo.agents.network_player import NetworkPlayer

        net = PolicyValueNet(self.cfg.board_size, self.net_config)
        net.load_state_dict(self.state.pool[int(rng.integers(len(self.state.pool)))])
        return NetworkPlayer(net, name="pool", greedy=False, seed=int(rng.integers(2**31)))

    def iterate(self) -> dict[str, float]:
        """One iteration: self-play, learn; returns the logged metrics."""
        s, cfg = self.state, self.cfg
        torch.manual_seed(cfg.seed * 1_000_003 + s.iteration)
        rng = np.random.default_rng([cfg.seed, s.iteration])
        t0 = time.perf_counter()
        if cfg.opponent == "pool" and s.counters.env_steps >= s.next_pool:
            s.pool = ([copy.deepcopy(self.learner.net.state_dict())] + s.pool)[: cfg.pool_size]
            s.next_pool += cfg.pool_every
        evals_before = self.learner.net.evals
        play = SelfPlay(self.rules, cfg.parallel_games, self.learner.player(),
                        self._opponent(rng), first_game_id=s.counters.games)
        batch, stats = play.play(cfg.games_per_iteration)
        if cfg.augment and len(batch):
            obs, mask, action, policy, owner = augment(
                batch.obs, batch.mask, batch.action, batch.extras.get("policy"), rng,
                batch.ownership)
            extras = dict(batch.extras)
            if policy is not None:
                extras["policy"] = policy
            batch = dataclasses.replace(batch, obs=obs, mask=mask, action=action,
                                        ownership=owner, extras=extras)
        t1 = time.perf_counter()
        metrics = self.learner.learn(batch)
        t2 = time.perf_counter()
        c = s.counters
        c.env_steps += stats.env_steps
        c.games += stats.games
        c.nn_evals += max(stats.nn_evals, self.learner.net.evals - evals_before)
        c.train_samples += int(metrics.pop("train_samples", len(batch)))
        c.wall_s += t2 - t0
        s.iteration += 1
        g = max(stats.games, 1)
        metrics.update({
            "charts/games_per_s": stats.games / max(t2 - t0, 1e-9),
            "charts/selfplay_s": t1 - t0,
            "charts/learn_s": t2 - t1,
            "charts/mean_game_length": float(np.mean(stats.moves_per_game)),
            "charts/black_win_rate": stats.black_wins / g,
            "charts/draw_rate": stats.draws / g,
        })
        if cfg.opponent == "pool":
            metrics["charts/score_vs_pool"] = stats.learner_score / g
        return metrics

    def evaluate(self) -> dict[str, float]:
        """The current snapshot plays the ladder; returns ``eval/...`` metrics."""
        from rlgo.ladder import run_ladder

        t0 = time.perf_counter()
        env_steps = self.state.counters.env_steps
        metrics = run_ladder(
            net=self.learner.net, name=f"{self.name}@{env_steps}", rules=self.rules,
            db=self.db(), run=self.name, env_steps=env_steps, ladder=self.cfg.eval_ladder,
            games=self.cfg.eval_games, snapshots=self._earlier_snapshots(),
            greedy=self.cfg.eval_greedy, seed=self.cfg.seed * 7919 + self.state.iteration,
            search=self.cfg.eval_search,
        )
        metrics["charts/eval_s"] = time.perf_counter() - t0
        self.state.last_elo = metrics.get("eval/elo", float("nan"))
        return metrics

    def _earlier_snapshots(self) -> list[Path]:
        if not self.run.checkpoints.exists():
            return []
        found = sorted(self.run.checkpoints.glob("step_*.pt"))
        return found[-self.cfg.eval_snapshots:] if self.cfg.eval_snapshots else []

    def budget_spent(self) -> bool:
        """The env-step budget, or the wall-clock one if set, is used up."""
        c = self.state.counters
        return c.env_steps >= self.cfg.env_steps or (
            self.cfg.wall_seconds > 0 and c.wall_s >= self.cfg.wall_seconds)

    def fit(self, on_iteration: Callable[[Trainer], None] | None = None) -> Counters:
        """Train until a budget is spent (:meth:`budget_spent`); returns the counters."""
        self._start_or_resume()
        s, cfg = self.state, self.cfg
        bar = None
        if self.show_progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.env_steps, initial=min(s.counters.env_steps, cfg.env_steps),
                       unit="step", desc=f"{cfg.agent} {cfg.board_size}x{cfg.board_size}",
                       dynamic_ncols=True)
        if s.iteration == 0 and cfg.eval_every:
            self.run.log(s.counters, self.evaluate())  # the untrained network: Elo at step 0
        while not self.budget_spent():
            metrics = self.iterate()
            self.run.log(s.counters, metrics)
            done = self.budget_spent()
            evaluated = bool(cfg.eval_every) and (s.counters.env_steps >= s.next_eval or done)
            if evaluated:
                self.run.log(s.counters, self.evaluate())
                while s.next_eval <= s.counters.env_steps:
                    s.next_eval += cfg.eval_every
            if evaluated or done or s.counters.env_steps >= s.next_checkpoint:
                self._checkpoint()
                while s.next_checkpoint <= s.counters.env_steps:
                    s.next_checkpoint += cfg.checkpoint_every
            if bar is not None:
                bar.update(min(s.counters.env_steps, cfg.env_steps) - bar.n)
                bar.set_postfix(games=s.counters.games,
                                games_s=f"{metrics['charts/games_per_s']:.1f}",
                                elo=f"{s.last_elo:.0f}")
            if on_iteration is not None:
                on_iteration(self)
        if bar is not None:
            bar.close()
        return s.counters


def build_trainer(agent: str, board_size: int, env_steps: int, seed: int, out: str | Path,
                  overrides: Sequence[str] = (), progress: bool = True) -> Trainer:
    """What ``rlgo train`` does: configs from flags and ``--set key=value`` overrides."""
    train = TrainConfig(agent=agent, board_size=board_size, env_steps=env_steps, seed=seed)
    cfgs = apply_overrides(
        {"": agent_config_class(agent)(), "net": NetConfig(), "train": train}, overrides)
    return Trainer(cfgs["train"], cfgs[""], cfgs["net"], out, progress=progress)


def load_run_configs(out: str | Path) -> tuple[TrainConfig, Any, NetConfig]:
    """The configs stored in a run directory."""
    sections = RunDir(out).read_config()
    train = _from_table(TrainConfig, sections["train"])
    agent = _from_table(agent_config_class(train.agent), sections.get("agent", {}))
    net = _from_table(NetConfig, sections.get("net", {}))
    return train, agent, net
