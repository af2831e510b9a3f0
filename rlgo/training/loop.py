"""The training loop every agent runs under: self-play, learn, evaluate, checkpoint.

One iteration plays ``games_per_iteration`` finished games with the learner's self-play
player (all games batched on one engine), hands their moves to ``learner.learn`` and logs
the returned metrics with the counters. On a fixed schedule of env steps a snapshot of the
learner plays the evaluation ladder, its Elo on the run's match database is logged, and a
checkpoint is written. Randomness is re-seeded from ``(seed, iteration)`` at the start of
every iteration, so a resumed run replays exactly the numbers of an uninterrupted one.

The loop sees the learner only through :class:`rlgo.protocols.Learner`: it plays
``learner.player()``, rates and pools the players of ``learner.snapshot()``, and
checkpoints ``learner.state_dict()``.

``wall_s`` counts self-play and learning only; evaluation time is logged separately as
``charts/eval_s`` (it is measurement, not training compute).
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlgo.agents.gtp_player import GTPPlayerError
from rlgo.envs import Rules
from rlgo.evaluation.ladder import Entrant, run_ladder, snapshot_name
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import make_player, refuse_programs
from rlgo.evaluation.reference import (
    ReferenceTable,
    adaptive_rating,
    ladder_play,
    leaving_out,
    playable_here,
)
from rlgo.learning.files import (
    CheckpointError,
    config_to_dict,
    load_file,
    rules_to_dict,
    save_file,
)
from rlgo.learning.network import NetConfig, resolve_device
from rlgo.protocols import (
    CannotSearchError,
    Experience,
    Player,
    Weights,
    close_players,
    describe,
)
from rlgo.registry import Agent, config_from_dict, get_agent
from rlgo.training.config import (
    TrainConfig,
    apply_overrides,
    read_config_file,
    to_table,
)
from rlgo.training.runs import Counters, RunDir, file_steps
from rlgo.training.samples import write_sgf_samples
from rlgo.training.selfplay import SelfPlay, SelfPlayStats


def budget_spent(c: Counters, cfg: TrainConfig) -> bool:
    """``c`` has used up the env-step budget of ``cfg``, or its wall-clock or
    network-evaluation budget where set."""
    return (c.env_steps >= cfg.env_steps
            or (cfg.wall_seconds > 0 and c.wall_s >= cfg.wall_seconds)
            or (cfg.nn_evals > 0 and c.nn_evals >= cfg.nn_evals))


def stopped_at(c: Counters, cfg: TrainConfig) -> str:
    """Where a run stopped and which budget stopped it, in one line: a run stops at the
    end of the iteration that spends a budget (learners learn from finished games only,
    so an iteration is never cut), so it passes the budget by less than one iteration."""
    iteration = f"{cfg.games_per_iteration} games per iteration"
    if c.env_steps >= cfg.env_steps:
        return (f"stopped at {c.env_steps:,} env steps (budget {cfg.env_steps:,}; a run stops "
                f"at the end of the iteration that reaches it, {iteration})")
    if cfg.wall_seconds > 0 and c.wall_s >= cfg.wall_seconds:
        return (f"stopped at {c.env_steps:,} env steps, {c.wall_s:,.0f} s of training "
                f"(budget train.wall_seconds = {cfg.wall_seconds:g})")
    if cfg.nn_evals > 0 and c.nn_evals >= cfg.nn_evals:
        return (f"stopped at {c.env_steps:,} env steps, {c.nn_evals:,} network evaluations "
                f"(budget train.nn_evals = {cfg.nn_evals:,})")
    return f"stopped at {c.env_steps:,} env steps, before its budget"


def finished(out: str | Path, cfg: TrainConfig) -> bool:
    """The run in ``out`` has spent its budget: its newest snapshot's counters do, and the
    checkpoint written with it exists (a run killed between the two is not finished)."""
    run = RunDir(out)
    snapshots = run.snapshot_files()
    if not snapshots:
        return False
    if not run.checkpoint_path(file_steps(snapshots[-1])).exists():
        return False
    try:
        counters = Counters.from_dict(dict(load_file(snapshots[-1])["counters"]))
    except CheckpointError:
        return False
    return budget_spent(counters, cfg)


def check_evaluation(cfg: TrainConfig, rules: Rules, allow_commands: bool = False) -> None:
    """Refuse an evaluation setting that would fail at the first evaluation, naming the
    key: an ``eval_ladder`` spec that names no player (each is built and closed once, so
    an engine that does not start fails here too) or an ``eval_reference`` table of
    another board size or komi; and, unless ``allow_commands`` (the user's
    ``--allow-commands``), anchors that run programs (``gtp:``), since a config can come
    from a file (:func:`rlgo.evaluation.players.refuse_programs`). A :class:`Trainer`
    calls it before it writes anything, so the corrected command starts afresh in the
    same folder."""
    if not cfg.eval_every:
        return
    refuse_programs(cfg.eval_ladder, "train.eval_ladder", allow_commands)
    if cfg.eval_reference:
        try:
            ReferenceTable.load(cfg.eval_reference, rules, allow_commands=allow_commands)
        except ValueError as exc:
            raise ValueError(f"train.eval_reference: {exc}") from exc
        return
    for spec in cfg.eval_ladder:
        try:
            close_players(make_player(spec, rules))
        except (ValueError, GTPPlayerError) as exc:
            raise ValueError(f"train.eval_ladder: {exc}") from exc


@dataclass
class _Progress:
    """What a checkpoint must restore besides the learner."""

    iteration: int = 0
    counters: Counters = dataclasses.field(default_factory=Counters)
    next_eval: int = 0
    next_checkpoint: int = 0
    next_pool: int = 0
    pool: list[Weights] = dataclasses.field(default_factory=list)
    last_elo: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "next_eval": self.next_eval,
                "next_checkpoint": self.next_checkpoint, "next_pool": self.next_pool,
                "pool": self.pool, "last_elo": self.last_elo}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> _Progress:
        h = payload["harness"]
        return cls(iteration=int(h["iteration"]),
                   counters=Counters.from_dict(payload["counters"]),
                   next_eval=int(h["next_eval"]), next_checkpoint=int(h["next_checkpoint"]),
                   next_pool=int(h["next_pool"]), pool=list(h["pool"]),
                   last_elo=float(h["last_elo"]))


class Trainer:
    """Runs one training run in ``out``; resumes if ``out`` holds a checkpoint. ``say``
    receives its one-line notices (where it resumed, a config it replaced).
    ``allow_commands`` (the user's ``--allow-commands``): the ladder and reference table
    may name anchors that run programs (``gtp:``); otherwise they are refused here
    (:func:`check_evaluation`)."""

    def __init__(self, train: TrainConfig, agent_config: Any, net_config: NetConfig,
                 out: str | Path, progress: bool = True, agent: Agent | None = None,
                 say: Callable[[str], None] | None = None, *,
                 allow_commands: bool = False) -> None:
        self.allow_commands = allow_commands
        self.cfg = train
        self.say = say or (lambda line: None)
        self.agent = agent if agent is not None else get_agent(train.agent)
        if not isinstance(agent_config, self.agent.config_class):
            raise ValueError(f"agent {train.agent!r} takes a {self.agent.config_class.__name__}, "
                             f"not a {type(agent_config).__name__}")
        self.agent_config = agent_config
        self.net_config = net_config
        self.run = RunDir(out)
        self.name = Path(out).name
        self.show_progress = progress
        self.rules = Rules(board_size=train.board_size, komi=train.komi)
        # before the run directory is touched
        check_evaluation(train, self.rules, allow_commands)
        if train.threads > 0:
            torch.set_num_threads(train.threads)
        torch.manual_seed(train.seed)
        self.device = resolve_device(train.device)
        self.learner = self.agent.make(self.rules, agent_config, net_config, train.seed,
                                       self.device)
        self.state = _Progress(next_eval=train.eval_every, next_checkpoint=train.checkpoint_every,
                               next_pool=0)
        self._db: MatchDB | None = None
        self._tb: Any = None  # torch's SummaryWriter with train.tensorboard
        self._last_play: tuple[Experience, SelfPlayStats] | None = None

    # ------------------------------------------------------------------ config / resume
    def sections(self) -> dict[str, dict[str, Any]]:
        return {"train": to_table(self.cfg), "agent": to_table(self.agent_config),
                "net": to_table(self.net_config)}

    def _stored_configs(self) -> tuple[Any, Any, Any]:
        """The run directory's configs, fields it lacks (written before they existed)
        at their defaults: a run resumes across versions that only add settings."""
        stored, where = self.run.read_config(), str(self.run.config_path)
        return (config_from_dict(TrainConfig, stored.get("train", {}), where),
                config_from_dict(self.agent.config_class, stored.get("agent", {}), where),
                config_from_dict(NetConfig, stored.get("net", {}), where))

    def _resume_point(self) -> tuple[Path | None, dict[str, Any] | None]:
        """The newest readable checkpoint and its payload; a damaged one is skipped with a
        warning naming it (the run then resumes from the one before)."""
        for ckpt in reversed(self.run.checkpoint_files()):
            try:
                return ckpt, load_file(ckpt)
            except CheckpointError as exc:
                warnings.warn(f"{exc}; resuming from the checkpoint before it",
                              RuntimeWarning, stacklevel=3)
        return None, None

    def _start_or_resume(self) -> None:
        ckpt, payload = self._resume_point()
        if payload is not None and payload.get("kind") != "checkpoint":
            raise ValueError(f"{ckpt} was written by rlgo {payload['rlgo_version']} and "
                             "cannot resume a run (it still plays: rlgo arena); use a new "
                             "--out")
        started = payload is not None or bool(self.run.snapshot_files())
        if self.run.exists() and started:
            if self._stored_configs() != (self.cfg, self.agent_config, self.net_config):
                raise ValueError(
                    f"{self.run.path} holds a run with a different config; use a new --out "
                    "(or the same flags as that run to resume it)"
                )
        elif self.run.exists() and not self._same_config():
            # a start that failed before its first checkpoint: nothing of it is kept
            self.say(f"replacing the config of {self.run.path}: its run never reached a "
                     "checkpoint")
        self.run.write_config(self.sections())
        if payload is None:
            self.run.open_metrics(keep_rows=0)
            self._open_tensorboard()
            self._forget_after(-1)  # a kill before the first checkpoint can leave a snapshot
            return
        self.learner.load_state_dict(payload["learner"])
        self.state = _Progress.from_payload(payload)
        self.say(f"resumed at env step {self.state.counters.env_steps:,} from checkpoint "
                 f"{ckpt}")
        self.run.open_metrics(keep_rows=int(payload["metrics_rows"]))
        self._open_tensorboard()
        self._forget_after(self.state.counters.env_steps)

    def _same_config(self) -> bool:
        """The stored configs are this trainer's (False if they cannot be read)."""
        try:
            return self._stored_configs() == (self.cfg, self.agent_config, self.net_config)
        except ValueError:  # unreadable, or keys this version does not know
            return False

    def _open_tensorboard(self) -> None:
        """With ``train.tensorboard``: TensorBoard scalars in ``<out>/tensorboard``, made
        anew from ``metrics.csv`` (the source of truth; a resume has just dropped its rows
        after the checkpoint), then appended to as rows are logged."""
        if not self.cfg.tensorboard:
            return
        import shutil

        from torch.utils.tensorboard import SummaryWriter

        folder = self.run.path / "tensorboard"
        shutil.rmtree(folder, ignore_errors=True)
        self._tb = SummaryWriter(str(folder))
        if self.run.rows:
            for row in self.run.metrics().itertuples(index=False):
                self._tb.add_scalar(row.metric, row.value, global_step=int(row.env_steps))
        self._tb.flush()

    def _log(self, metrics: dict[str, float]) -> None:
        """A metrics row to ``metrics.csv`` and, if on, to TensorBoard (step: env steps)."""
        c = self.state.counters
        self.run.log(c, metrics)
        if self._tb is not None:
            for name, value in metrics.items():
                self._tb.add_scalar(name, float(value), global_step=c.env_steps)
            self._tb.flush()

    def _forget_after(self, env_steps: int) -> None:
        """Work after the resume point will be redone: its evaluation games, and snapshot
        and checkpoint files (a kill between writing a snapshot and its checkpoint, or a
        damaged checkpoint, leaves some) that the ladder would otherwise play as
        "earlier" snapshots."""
        self._forget_games_after(env_steps)
        for path in self.run.snapshot_files() + self.run.checkpoint_files():
            if file_steps(path) > env_steps:
                path.unlink()
        for path in (self.run.path / "games").glob("step_*.sgf"):
            if file_steps(path) > env_steps:
                path.unlink()

    def _header(self, kind: str, weights: Weights) -> dict[str, Any]:
        return {"kind": kind, "agent": self.cfg.agent, "rules": rules_to_dict(self.rules),
                "agent_config": config_to_dict(self.agent_config),
                "net_config": config_to_dict(self.net_config),
                "counters": self.state.counters.as_dict(), "weights": weights}

    def _checkpoint(self) -> Path:
        """A snapshot (weights only) and a checkpoint (everything to resume) at the
        current env steps; the snapshot first, so every checkpoint has one."""
        s = self.state
        weights = self.learner.snapshot()
        save_file(self.run.snapshot_path(s.counters.env_steps),
                  self._header("snapshot", weights))
        payload = {**self._header("checkpoint", weights), "learner": self.learner.state_dict(),
                   "harness": s.to_dict(), "metrics_rows": self.run.rows}
        path = save_file(self.run.checkpoint_path(s.counters.env_steps), payload)
        for old in self.run.checkpoint_files()[: -self.cfg.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ matches
    @property
    def db_url(self) -> str:
        return self.cfg.db or f"sqlite:///{self.run.path / 'matches.sqlite'}"

    def db(self) -> MatchDB:
        if self._db is None:
            self._db = MatchDB(self.db_url)
        return self._db

    def _forget_games_after(self, env_steps: int) -> None:
        """Evaluation games stored after the checkpoint we resume from will be replayed.
        Only this run's games go: games of another run with the same name in a shared
        database make the run refuse to start instead (:meth:`RunDir.run_id`)."""
        if not self.cfg.eval_every:
            return
        mine = self.run.run_id()
        stored = self.db().games(run=self.name, with_sgf=False)
        foreign = [t for t in stored.tags if (t or {}).get("run_id") != mine]
        if foreign:
            raise ValueError(
                f"the match database {self.db_url} holds {len(foreign)} games of another run "
                f"named {self.name!r} (another run directory with the same name); use "
                "another --out name or another train.db")
        self.db().delete_games(run=self.name, after_env_steps=env_steps)

    # ------------------------------------------------------------------ training
    def _opponent(self, rng: np.random.Generator) -> Player | None:
        if self.cfg.opponent == "self" or not self.state.pool:
            return None
        weights = self.state.pool[int(rng.integers(len(self.state.pool)))]
        return self.learner.snapshot_player(weights, name="pool", greedy=False,
                                            seed=int(rng.integers(2**31)))

    def iterate(self) -> dict[str, float]:
        """One iteration: self-play, learn; returns the logged metrics."""
        s, cfg = self.state, self.cfg
        torch.manual_seed(cfg.seed * 1_000_003 + s.iteration)
        rng = np.random.default_rng([cfg.seed, s.iteration])
        t0 = time.perf_counter()
        if cfg.opponent == "pool" and s.counters.env_steps >= s.next_pool:
            s.pool = [self.learner.snapshot(), *s.pool][: cfg.pool_size]
            s.next_pool += cfg.pool_every
        play = SelfPlay(self.rules, cfg.parallel_games, self.learner.player(),
                        self._opponent(rng), first_game_id=s.counters.games,
                        opponent_share=cfg.pool_share, opening_moves=cfg.opening_moves,
                        rng=rng)
        batch, stats = play.play(cfg.games_per_iteration)
        self._last_play = (batch, stats)
        t1 = time.perf_counter()
        metrics = self.learner.learn(batch)
        t2 = time.perf_counter()
        c = s.counters
        c.env_steps += stats.env_steps
        c.games += stats.games
        c.nn_evals_act += stats.nn_evals_act
        c.nn_evals_opponent += stats.nn_evals_opponent
        c.nn_evals_learner += int(metrics.pop("nn_evals", 0))
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
        if stats.opponent_games:
            metrics["charts/score_vs_pool"] = stats.learner_score / stats.opponent_games
        return metrics

    def evaluate(self) -> dict[str, float]:
        """The current snapshot plays the ladder; returns ``eval/...`` metrics."""
        t0 = time.perf_counter()
        cfg, steps = self.cfg, self.state.counters.env_steps
        seed = cfg.seed * 7919 + self.state.iteration
        weights = self.learner.snapshot()
        name = snapshot_name(self.name, steps)
        spec = {"run": self.name, "env_steps": int(steps), "greedy": cfg.eval_greedy}
        me = self.learner.snapshot_player(weights, name=name, greedy=cfg.eval_greedy,
                                          seed=seed)
        describe(me, spec)
        entrants = [Entrant("eval", me, self._earlier_snapshots(seed))]
        if cfg.eval_search > 0:
            searcher = self._search_player(weights, name, seed)
            if searcher is not None:
                describe(searcher, {**spec, "greedy": True, "search": cfg.eval_search})
                entrants.append(Entrant("eval/search", searcher))
        if cfg.eval_reference:  # every entrant on the table's fixed scale
            metrics = {}
            for e in entrants:
                metrics.update(self._rate_on_reference(e.player, e.prefix, steps, seed))
        else:
            metrics = run_ladder(entrants, rules=self.rules, db=self.db(), run=self.name,
                                 env_steps=steps, ladder=cfg.eval_ladder,
                                 games=cfg.eval_games, seed=seed,
                                 tags={"run_id": self.run.run_id()})
        if cfg.sgf_samples and self._last_play is not None:
            write_sgf_samples(self.run.path / "games", steps, self.rules, *self._last_play,
                              cfg.sgf_samples, player=f"{self.name} ({cfg.agent})")
        metrics["charts/eval_s"] = time.perf_counter() - t0
        self.state.last_elo = metrics.get("eval/elo", float("nan"))
        return metrics

    def _rate_on_reference(self, me: Player, prefix: str, steps: int,
                           seed: int) -> dict[str, float]:
        """``<prefix>/...`` metrics of adaptive match-making against ``train.eval_reference``
        (:mod:`rlgo.evaluation.reference`): the Elo on its fixed scale, the error, the
        bound flag, the games played and the score against each anchor met."""
        cfg = self.cfg
        table, missing = playable_here(ReferenceTable.load(
            cfg.eval_reference, self.rules, allow_commands=self.allow_commands))
        if missing:
            warnings.warn(f"train.eval_reference: {leaving_out(missing)}", stacklevel=2)
        play = ladder_play(me, self.rules, self.db(), run=self.name, env_steps=steps,
                           seed=seed, tags={"run_id": self.run.run_id()})
        start = (self.state.last_elo if prefix == "eval" and math.isfinite(self.state.last_elo)
                 else None)
        try:
            result = adaptive_rating(table, play, start_elo=start,
                                     target_stderr=cfg.eval_target_stderr,
                                     max_games=cfg.eval_max_games,
                                     round_games=max(2, cfg.eval_games // 2 * 2))
        finally:
            close_players(*play.anchors.values())  # type: ignore[attr-defined]
        r = result.rating
        metrics = {f"{prefix}/elo": r.elo, f"{prefix}/elo_stderr": r.stderr,
                   f"{prefix}/elo_bound": {">": 1.0, "<": -1.0}.get(r.bound, 0.0),
                   f"{prefix}/games": float(r.games)}
        metrics.update({f"{prefix}/vs_{a}/score": float(np.mean(s))
                        for a, s in result.played.items()})
        return metrics

    def _search_player(self, weights: Weights, name: str, seed: int) -> Player | None:
        """The snapshot with search, or None for a learner that cannot search."""
        try:
            return self.learner.snapshot_player(weights, name=f"{name}:search="
                                                f"{self.cfg.eval_search}",
                                                search=self.cfg.eval_search, seed=seed)
        except CannotSearchError:
            return None

    def _earlier_snapshots(self, seed: int) -> list[Player]:
        """The last ``eval_snapshots`` snapshot files of the run, as players."""
        if not self.cfg.eval_snapshots:
            return []
        players = []
        now = self.state.counters.env_steps
        earlier = [p for p in self.run.snapshot_files() if file_steps(p) < now]
        for path in earlier[-self.cfg.eval_snapshots:]:
            payload = load_file(path)
            steps = int(payload["counters"]["env_steps"])
            player = self.learner.snapshot_player(
                payload["weights"], name=snapshot_name(self.name, steps),
                greedy=self.cfg.eval_greedy, seed=seed)
            describe(player, {"run": self.name, "env_steps": steps,
                              "greedy": self.cfg.eval_greedy})
            players.append(player)
        return players

    def budget_spent(self) -> bool:
        """The env-step budget, or the wall-clock or network-evaluation one if set, is
        used up."""
        return budget_spent(self.state.counters, self.cfg)

    def fit(self, on_iteration: Callable[[Trainer], None] | None = None,
            on_evaluation: Callable[[Trainer, dict[str, float]], None] | None = None,
            ) -> Counters:
        """Train until a budget is spent (:meth:`budget_spent`); returns the counters.
        ``on_iteration(trainer)`` is called after every iteration and
        ``on_evaluation(trainer, metrics)`` after every evaluation (once logged and, past
        step 0, checkpointed); either may raise to stop the run there, which then resumes
        from that point. The run directory is locked meanwhile: a second process gets
        RunLockedError."""
        with self.run.lock():
            return self._fit(on_iteration, on_evaluation)

    def _fit(self, on_iteration: Callable[[Trainer], None] | None,
             on_evaluation: Callable[[Trainer, dict[str, float]], None] | None) -> Counters:
        self._start_or_resume()
        s, cfg = self.state, self.cfg
        bar = self._progress_bar()
        if s.iteration == 0 and cfg.eval_every:
            metrics = self.evaluate()  # the untrained network: Elo at step 0
            self._log(metrics)
            if on_evaluation is not None:
                on_evaluation(self, metrics)
        while not self.budget_spent():
            metrics = self.iterate()
            self._log(metrics)
            done = self.budget_spent()
            evaluated = bool(cfg.eval_every) and (s.counters.env_steps >= s.next_eval or done)
            evaluation = self.evaluate() if evaluated else {}
            if evaluated:
                self._log(evaluation)
                while s.next_eval <= s.counters.env_steps:
                    s.next_eval += cfg.eval_every
            if evaluated or done or s.counters.env_steps >= s.next_checkpoint:
                self._checkpoint()
                while s.next_checkpoint <= s.counters.env_steps:
                    s.next_checkpoint += cfg.checkpoint_every
            if evaluated and on_evaluation is not None:
                on_evaluation(self, evaluation)
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

    def _progress_bar(self):
        if not self.show_progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.cfg.env_steps,
                    initial=min(self.state.counters.env_steps, self.cfg.env_steps),
                    unit="step", desc=f"{self.cfg.agent} {self.cfg.board_size}x"
                    f"{self.cfg.board_size}", dynamic_ncols=True)


@dataclass(frozen=True)
class RunConfigs:
    """Everything a run is built from."""

    train: TrainConfig
    agent: Any
    """The learner's config (an instance of ``entry.config_class``)."""
    net: NetConfig
    entry: Agent
    """The learner, as the registry found it."""

    def default_out(self) -> str:
        """``runs/<agent><board>-s<seed>``, where ``rlgo train`` puts a run by default."""
        return f"runs/{self.train.agent}{self.train.board_size}-s{self.train.seed}"


def resolve_configs(agent: str | None = None, board_size: int | None = None,
                    env_steps: int | None = None, seed: int | None = None,
                    overrides: Sequence[str] = (), *, config: str | Path | None = None,
                    ) -> RunConfigs:
    """Configs built from, later winning: the defaults, the config file ``config``
    (:func:`~rlgo.training.config.read_config_file`), the arguments not None, and the
    ``key=value`` overrides (:func:`~rlgo.training.config.apply_overrides`)."""
    sections = read_config_file(config) if config is not None else {}
    where = str(config) if config is not None else "the command line"
    table = dict(sections.get("train", {}))
    given = {"agent": agent, "board_size": board_size, "env_steps": env_steps, "seed": seed}
    table.update({k: v for k, v in given.items() if v is not None})
    if not table.get("agent"):
        raise ValueError("name a learner: --agent, or agent in the [train] table of --config")
    entry = get_agent(table["agent"])
    cfgs = apply_overrides({
        "": config_from_dict(entry.config_class, sections.get("agent", {}), where),
        "net": config_from_dict(NetConfig, sections.get("net", {}), where),
        "train": config_from_dict(TrainConfig, table, where)}, overrides)
    return RunConfigs(cfgs["train"], cfgs[""], cfgs["net"], entry)


def build_trainer(agent: str | None = None, board_size: int | None = None,
                  env_steps: int | None = None, seed: int | None = None,
                  out: str | Path = "", overrides: Sequence[str] = (), progress: bool = True,
                  *, config: str | Path | None = None, allow_commands: bool = False,
                  say: Callable[[str], None] | None = None) -> Trainer:
    """What ``rlgo train`` does: :func:`resolve_configs`, then a :class:`Trainer` in
    ``out`` (default :meth:`RunConfigs.default_out`); ``say`` gets its notices."""
    c = resolve_configs(agent, board_size, env_steps, seed, overrides, config=config)
    return Trainer(c.train, c.agent, c.net, out or c.default_out(), progress=progress,
                   agent=c.entry, say=say, allow_commands=allow_commands)


def load_run_configs(out: str | Path) -> tuple[TrainConfig, Any, NetConfig]:
    """The configs stored in a run directory."""
    sections = RunDir(out).read_config()
    where = f"{RunDir(out).config_path}"
    train = config_from_dict(TrainConfig, sections["train"], where)
    agent = config_from_dict(get_agent(train.agent).config_class, sections.get("agent", {}),
                             where)
    net = config_from_dict(NetConfig, sections.get("net", {}), where)
    return train, agent, net
