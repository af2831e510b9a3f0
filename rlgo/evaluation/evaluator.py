"""How a training run rates its snapshots, in one place: :meth:`Evaluator.rate`.

A snapshot is rated as the greedy (or sampling) policy of its weights, and also with
``search`` simulations of tree search per move when the learner can search. Either
against a ladder of fixed opponents plus the run's earlier snapshots, on an Elo scale fitted
over the run's match database (:func:`rlgo.evaluation.ladder.run_ladder`), or, with a
reference table, on that table's fixed scale by adaptive match-making
(:mod:`rlgo.evaluation.reference`). Metrics come back under ``eval/`` and
``eval/search/``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlgo.envs import Rules
from rlgo.evaluation.ladder import Entrant, run_ladder, snapshot_name
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.reference import (
    ReferenceTable,
    adaptive_rating,
    ladder_play,
    leaving_out,
    playable_here,
)
from rlgo.learning.checks import check_config
from rlgo.learning.files import load_file
from rlgo.protocols import CannotSearchError, Learner, Player, Weights, close_players, describe


@dataclass(frozen=True)
class EvalConfig:
    """How and when a run rates its snapshots: a config file's ``[eval]`` table (``--set
    eval.<key>``), a study file's ``[evaluation]``."""

    every: int = 50_000
    """Env steps between evaluations (and checkpoints); 0 disables evaluation."""
    games: int = 20
    """Games against each ladder opponent per evaluation (colours alternate); with a
    reference table, games per adaptive round."""
    ladder: tuple[str, ...] = ("random", "rollout:32", "gnugo:0")
    """Fixed opponents of every evaluation (player specs, see ``rlgo.evaluation.players``)."""
    reference: str = ""
    """A reference table (``rlgo ladder calibrate``; ``studies/anchors/<N>x<N>.toml``):
    if set, each evaluation rates the snapshot on the table's fixed scale by adaptive
    match-making (rounds of ``games`` games against the anchor nearest its estimate,
    until ``target_stderr`` or ``max_games``) instead of playing the whole ``ladder``;
    "" keeps the fixed ladder."""
    target_stderr: float = 50.0
    """With ``reference``: stop once the snapshot's standard error is this (Elo)."""
    max_games: int = 200
    """With ``reference``: at most this many games per evaluation."""
    snapshots: int = 2
    """Earlier snapshots of the run each evaluation also plays (ladder only)."""
    greedy: bool = False
    """Evaluate the raw policy's best move (True) or samples from it (False)."""
    search: int = 0
    """If > 0, the snapshot also plays with this many search simulations per move
    (``<snapshot>:search=<n>``), so the raw policy and the policy with search both get an
    Elo (logged as ``eval/search/...``); learners without a policy-value network skip
    it."""

    def __post_init__(self) -> None:
        check_config(self, positive=("games", "target_stderr", "max_games"),
                     non_negative=("every", "snapshots", "search"))
        if self.reference and self.max_games < max(2, self.games // 2 * 2):
            raise ValueError(f"max_games = {self.max_games} allows no round of "
                             f"{max(2, self.games // 2 * 2)} games (games, made even) "
                             "against the reference table's anchors")


@dataclass
class Evaluator:
    """Rates a run's snapshots: the run ``run`` (with id ``run_id``) on ``rules``, its
    games stored in ``db``. ``allow_commands``: a reference table may name anchors that
    run programs."""

    config: EvalConfig
    rules: Rules
    db: MatchDB
    run: str
    run_id: str
    allow_commands: bool = False

    def rate(self, learner: Learner, weights: Weights, env_steps: int, seed: int,
             earlier: Sequence[Path] = (), start_elo: float = float("nan"),
             ) -> dict[str, float]:
        """``eval/...`` (and ``eval/search/...``) metrics of the snapshot ``weights`` at
        ``env_steps``. ``earlier``: the run's snapshot files before it, oldest first
        (the last ``snapshots`` are played); ``start_elo``: the previous rating, where
        adaptive rating starts (NaN: from the table's middle)."""
        s = self.config
        name = snapshot_name(self.run, env_steps)
        spec = {"run": self.run, "env_steps": int(env_steps), "greedy": s.greedy}
        me = learner.snapshot_player(weights, name=name, greedy=s.greedy, seed=seed)
        describe(me, spec)
        entrants = [Entrant("eval", me, self._earlier(learner, earlier, seed))]
        if s.search > 0:
            searcher = _search_player(learner, weights, name, s.search, seed)
            if searcher is not None:
                describe(searcher, {**spec, "greedy": True, "search": s.search})
                entrants.append(Entrant("eval/search", searcher))
        if not s.reference:
            return run_ladder(entrants, rules=self.rules, db=self.db, run=self.run,
                              env_steps=env_steps, ladder=s.ladder, games=s.games,
                              seed=seed, tags={"run_id": self.run_id})
        metrics: dict[str, float] = {}
        for e in entrants:
            start = start_elo if e.prefix == "eval" and math.isfinite(start_elo) else None
            metrics.update(self._on_reference(e.player, e.prefix, env_steps, seed, start))
        return metrics

    def _on_reference(self, me: Player, prefix: str, env_steps: int, seed: int,
                      start_elo: float | None) -> dict[str, float]:
        """``<prefix>/...`` metrics of adaptive match-making against the reference table:
        the Elo on its fixed scale, the error, the bound flag, the games played and the
        score against each anchor met."""
        s = self.config
        table, missing = playable_here(ReferenceTable.load(
            s.reference, self.rules, allow_commands=self.allow_commands))
        if missing:
            warnings.warn(f"eval.reference: {leaving_out(missing)}", stacklevel=3)
        play = ladder_play(me, self.rules, self.db, run=self.run, env_steps=env_steps,
                           seed=seed, tags={"run_id": self.run_id})
        try:
            result = adaptive_rating(table, play, start_elo=start_elo,
                                     target_stderr=s.target_stderr, max_games=s.max_games,
                                     round_games=max(2, s.games // 2 * 2))
        finally:
            close_players(*play.anchors.values())  # type: ignore[attr-defined]
        r = result.rating
        metrics = {f"{prefix}/elo": r.elo, f"{prefix}/elo_stderr": r.stderr,
                   f"{prefix}/elo_bound": {">": 1.0, "<": -1.0}.get(r.bound, 0.0),
                   f"{prefix}/games": float(r.games)}
        metrics.update({f"{prefix}/vs_{a}/score": float(np.mean(scores))
                        for a, scores in result.played.items()})
        return metrics

    def _earlier(self, learner: Learner, files: Sequence[Path], seed: int) -> list[Player]:
        """The last ``snapshots`` of ``files``, as players."""
        s = self.config
        if not s.snapshots:
            return []
        players = []
        for path in list(files)[-s.snapshots:]:
            payload = load_file(path)
            steps = int(payload["counters"]["env_steps"])
            player = learner.snapshot_player(payload["weights"],
                                             name=snapshot_name(self.run, steps),
                                             greedy=s.greedy, seed=seed)
            describe(player, {"run": self.run, "env_steps": steps, "greedy": s.greedy})
            players.append(player)
        return players


def _search_player(learner: Learner, weights: Weights, name: str, simulations: int,
                   seed: int) -> Player | None:
    """The snapshot with search, or None for a learner that cannot search."""
    try:
        return learner.snapshot_player(weights, name=f"{name}:search={simulations}",
                                       search=simulations, seed=seed)
    except CannotSearchError:
        return None
