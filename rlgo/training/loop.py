"""The training loop every agent runs under: self-play, learn, evaluate, checkpoint.

:meth:`Trainer.fit` reads top to bottom: start or resume the run; rate the untrained
network; while budget remains, play ``games_per_iteration`` finished games with the
learner's self-play player (all batched on one engine), hand their moves to
``learner.learn``, count and log; evaluate when due; checkpoint when due (and after every
evaluation); show the logged rows to the hooks. The run's life (resume, checkpoints,
metrics, TensorBoard, forgetting work after a resume point) is
:class:`~rlgo.training.state.RunState`'s; how a snapshot is rated is
:class:`~rlgo.evaluation.evaluator.Evaluator`'s. Randomness is re-seeded from ``(seed,
iteration)`` at the start of every iteration, so a resumed run replays exactly the numbers
of an uninterrupted one.

The loop sees the learner only through :class:`rlgo.protocols.Learner`: it plays
``learner.player()``, rates and pools the players of ``learner.snapshot()``, and
checkpoints ``learner.state_dict()``. Hooks (:data:`Hook`) watch it without subclassing:
the divergence check of :mod:`rlgo.tuning.objective` is one. :meth:`Trainer.rows` is the
same loop as a generator, for a caller that advances several runs in turn.

``wall_s`` counts self-play and learning only; evaluation time is logged separately as
``charts/eval_s`` (it is measurement, not training compute).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from rlgo.agents.gtp_player import GTPPlayerError
from rlgo.envs import Rules
from rlgo.evaluation.evaluator import EvalConfig, Evaluator
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import make_player, refuse_programs
from rlgo.evaluation.reference import ReferenceTable
from rlgo.learning.files import CheckpointError, load_file
from rlgo.learning.network import resolve_device
from rlgo.protocols import Experience, Learned, Player, close_players
from rlgo.training.config import RunConfigs, TrainConfig, read_config_file, renamed_tables
from rlgo.training.runs import Counters, RunDir, file_steps
from rlgo.training.samples import write_sgf_samples
from rlgo.training.selfplay import SelfPlay, SelfPlayStats
from rlgo.training.state import Progress, RunState


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


def check_evaluation(cfg: EvalConfig, rules: Rules, allow_commands: bool = False) -> None:
    """Refuse an evaluation setting that would fail at the first evaluation, naming the
    key: an ``eval.ladder`` spec that names no player (each is built and closed once, so
    an engine that does not start fails here too) or an ``eval.reference`` table of
    another board size or komi; and, unless ``allow_commands`` (the user's
    ``--allow-commands``), anchors that run programs (``gtp:``), since a config can come
    from a file (:func:`rlgo.evaluation.players.refuse_programs`). A :class:`Trainer`
    calls it before it writes anything, so the corrected command starts afresh in the
    same folder."""
    if not cfg.every:
        return
    refuse_programs(cfg.ladder, "eval.ladder", allow_commands)
    if cfg.reference:
        try:
            ReferenceTable.load(cfg.reference, rules, allow_commands=allow_commands)
        except ValueError as exc:
            raise ValueError(f"eval.reference: {exc}") from exc
        return
    for spec in cfg.ladder:
        try:
            close_players(make_player(spec, rules))
        except (ValueError, GTPPlayerError) as exc:
            raise ValueError(f"eval.ladder: {exc}") from exc


Hook = Callable[["Trainer", dict[str, float]], None]
"""Called with the trainer and each metrics row just logged: after every iteration (its
``losses/...`` and ``charts/...``) and after every evaluation (its ``eval/...``, once
checkpointed past step 0). A hook that raises stops the run there; it resumes from its
last checkpoint."""


class Trainer:
    """One training run in ``out``, which resumes if ``out`` holds a checkpoint: the
    learner, its run's life (:class:`~rlgo.training.state.RunState`) and the evaluation
    (:class:`~rlgo.evaluation.evaluator.Evaluator`), joined by :meth:`fit`. ``say``
    receives one-line notices (where it resumed, a config it replaced).
    ``allow_commands`` (the user's ``--allow-commands``): the ladder and reference table
    may name anchors that run programs (``gtp:``); otherwise they are refused here
    (:func:`check_evaluation`)."""

    def __init__(self, configs: RunConfigs, out: str | Path, progress: bool = True,
                 say: Callable[[str], None] | None = None, *,
                 allow_commands: bool = False) -> None:
        train = configs.train
        self.configs, self.cfg, self.eval_cfg = configs, train, configs.eval
        self.entry = configs.entry
        if not isinstance(configs.learner, self.entry.config_class):
            raise ValueError(f"learner {train.learner!r} takes a "
                             f"{self.entry.config_class.__name__}, not a "
                             f"{type(configs.learner).__name__}")
        self.learner_config, self.net_config = configs.learner, configs.net
        self.show_progress = progress
        self.rules = Rules(board_size=train.board_size, komi=train.komi)
        check_evaluation(configs.eval, self.rules, allow_commands)  # before any file
        if train.threads > 0:
            torch.set_num_threads(train.threads)
        torch.manual_seed(train.seed)
        self.device = resolve_device(train.device)
        self.learner = self.entry.make(self.rules, configs.learner, configs.net, train.seed,
                                       self.device)
        self.run = RunDir(out)
        self.name = self.run.path.name
        self.life = RunState(self.run, configs, self.rules, say or (lambda line: None))
        self.allow_commands = allow_commands
        self._evaluator: Evaluator | None = None  # made on first use: it opens the database
        self._last_play: tuple[Experience, SelfPlayStats] | None = None

    @property
    def state(self) -> Progress:
        """Where the run stands: counters, iteration, schedules, opponent pool."""
        return self.life.progress

    def db(self) -> MatchDB:
        """The run's match database."""
        return self.life.db()

    @property
    def evaluator(self) -> Evaluator:
        """How this run rates its snapshots (made when first asked for: it opens the
        run's match database and its run id, which nothing may write before the run
        starts)."""
        if self._evaluator is None:
            self._evaluator = Evaluator(self.eval_cfg, self.rules, self.life.db(),
                                        self.name, self.run.run_id(), self.allow_commands)
        return self._evaluator

    # ------------------------------------------------------------------ one iteration
    def iterate(self) -> dict[str, float]:
        """One iteration: self-play, learn, count; returns the metrics to log."""
        s, cfg = self.state, self.cfg
        torch.manual_seed(cfg.seed * 1_000_003 + s.iteration)
        rng = np.random.default_rng([cfg.seed, s.iteration])
        t0 = time.perf_counter()
        if cfg.opponent == "pool" and s.pool_refresh.due(s.counters.env_steps):
            s.pool = [self.learner.snapshot(), *s.pool][: cfg.pool_size]
            s.pool_refresh.advance()
        play = SelfPlay(self.rules, cfg.parallel_games, self.learner.player(),
                        self._opponent(rng), first_game_id=s.counters.games,
                        opponent_share=cfg.pool_share, opening_moves=cfg.opening_moves,
                        rng=rng)
        batch, stats = play.play(cfg.games_per_iteration)
        self._last_play = (batch, stats)
        t1 = time.perf_counter()
        learned = self.learner.learn(batch)
        t2 = time.perf_counter()
        if not isinstance(learned, Learned):
            raise TypeError(f"learner {cfg.learner!r}: learn returned a {type(learned).__name__}"
                            ", not an rlgo.protocols.Learned(metrics, train_samples, "
                            "nn_evals)")
        metrics = dict(learned.metrics)
        c = s.counters
        c.env_steps += stats.env_steps
        c.games += stats.games
        c.nn_evals_act += stats.nn_evals_act
        c.nn_evals_opponent += stats.nn_evals_opponent
        c.nn_evals_learner += int(learned.nn_evals)
        c.train_samples += int(learned.train_samples)
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

    def _opponent(self, rng: np.random.Generator) -> Player | None:
        if self.cfg.opponent == "self" or not self.state.pool:
            return None
        weights = self.state.pool[int(rng.integers(len(self.state.pool)))]
        return self.learner.snapshot_player(weights, name="pool", greedy=False,
                                            seed=int(rng.integers(2**31)))

    def evaluate(self) -> dict[str, float]:
        """The current snapshot rated as the run's evaluation settings say (its sample
        games written beside); returns ``eval/...`` metrics."""
        t0 = time.perf_counter()
        s, cfg = self.state, self.cfg
        steps = s.counters.env_steps
        earlier = [p for p in self.run.snapshot_files() if file_steps(p) < steps]
        metrics = self.evaluator.rate(self.learner, self.learner.snapshot(), steps,
                                      seed=cfg.seed * 7919 + s.iteration, earlier=earlier,
                                      start_elo=s.last_elo)
        if cfg.sgf_samples and self._last_play is not None:
            write_sgf_samples(self.run.path / "games", steps, self.rules, *self._last_play,
                              cfg.sgf_samples, player=f"{self.name} ({cfg.learner})")
        metrics["charts/eval_s"] = time.perf_counter() - t0
        s.last_elo = metrics.get("eval/elo", float("nan"))
        return metrics

    def budget_spent(self) -> bool:
        """The env-step budget, or the wall-clock or network-evaluation one if set, is
        used up."""
        return budget_spent(self.state.counters, self.cfg)

    # ------------------------------------------------------------------ the loop
    def fit(self, hooks: Sequence[Hook] = ()) -> Counters:
        """Train until a budget is spent, showing every logged row to ``hooks``; returns
        the counters. The run directory is locked meanwhile: a second process gets
        RunLockedError."""
        steps = self.rows()
        try:  # closed here, not when a hook's traceback lets go of it: that frees the lock
            for rows in steps:
                _notify(hooks, self, rows)
        finally:
            steps.close()
        return self.state.counters

    def rows(self) -> Iterator[list[dict[str, float]]]:
        """The loop, one step at a time: yields the rows logged by each step (the
        untrained network's evaluation; then an iteration's row, with its evaluation's
        when one was due), once they are logged and checkpointed. The caller may stop
        between steps (several runs advanced in turn, :mod:`rlgo.tuning.objective`); the
        run directory is locked until the generator ends or is closed."""
        with self.run.lock():
            yield from self._steps()

    def _steps(self) -> Iterator[list[dict[str, float]]]:
        cfg, life, every = self.cfg, self.life, self.eval_cfg.every
        s = life.start(self.learner)
        bar = self._progress_bar()
        try:
            if s.iteration == 0 and every:
                first = self.evaluate()  # the untrained network: Elo at step 0
                life.log(first)
                yield [first]
            while not self.budget_spent():
                rows = [self.iterate()]
                life.log(rows[0])
                done = self.budget_spent()
                if every and (s.evaluation.due(s.counters.env_steps) or done):
                    rows.append(self.evaluate())
                    life.log(rows[1])
                    s.evaluation.skip_past(s.counters.env_steps)
                if len(rows) > 1 or done or s.checkpoint.due(s.counters.env_steps):
                    life.checkpoint(self.learner)
                    s.checkpoint.skip_past(s.counters.env_steps)
                if bar is not None:
                    bar.update(min(s.counters.env_steps, cfg.env_steps) - bar.n)
                    bar.set_postfix(games=s.counters.games,
                                    games_s=f"{rows[0]['charts/games_per_s']:.1f}",
                                    elo=f"{s.last_elo:.0f}")
                yield rows
        finally:
            if bar is not None:
                bar.close()

    def _progress_bar(self):
        if not self.show_progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.cfg.env_steps,
                    initial=min(self.state.counters.env_steps, self.cfg.env_steps),
                    unit="step", desc=f"{self.cfg.learner} {self.cfg.board_size}x"
                    f"{self.cfg.board_size}", dynamic_ncols=True)


def _notify(hooks: Sequence[Hook], trainer: Trainer, rows: list[dict[str, float]]) -> None:
    """Show every logged row to every hook, in order."""
    for metrics in rows:
        for hook in hooks:
            hook(trainer, metrics)


def resolve_configs(learner: str | None = None, board_size: int | None = None,
                    env_steps: int | None = None, seed: int | None = None,
                    overrides: Sequence[str] = (), *, config: str | Path | None = None,
                    ) -> RunConfigs:
    """Configs built from, later winning: the defaults, the config file ``config``
    (:func:`~rlgo.training.config.read_config_file`), the arguments not None, and the
    ``key=value`` overrides (:func:`~rlgo.training.config.apply_overrides`)."""
    where = str(config) if config is not None else "the command line"
    sections = renamed_tables(read_config_file(config), where) if config is not None else {}
    table = dict(sections.get("train", {}))
    given = {"learner": learner, "board_size": board_size, "env_steps": env_steps,
             "seed": seed}
    table.update({k: v for k, v in given.items() if v is not None})
    if not table.get("learner"):
        raise ValueError("name a learner: --learner, or learner in the [train] table of "
                         "--config")
    return RunConfigs.from_tables({**sections, "train": table}, where).overridden(overrides)


def build_trainer(learner: str | None = None, board_size: int | None = None,
                  env_steps: int | None = None, seed: int | None = None,
                  out: str | Path = "", overrides: Sequence[str] = (), progress: bool = True,
                  *, config: str | Path | None = None, allow_commands: bool = False,
                  say: Callable[[str], None] | None = None) -> Trainer:
    """What ``rlgo train`` does: :func:`resolve_configs`, then a :class:`Trainer` in
    ``out`` (default :meth:`RunConfigs.default_out`); ``say`` gets its notices."""
    c = resolve_configs(learner, board_size, env_steps, seed, overrides, config=config)
    return Trainer(c, out or c.default_out(), progress=progress, say=say,
                   allow_commands=allow_commands)


def load_run_configs(out: str | Path) -> RunConfigs:
    """The configs stored in a run directory."""
    run = RunDir(out)
    return RunConfigs.from_tables(run.read_config(), str(run.config_path))
