"""The evaluation ladder a training run plays on a schedule of env steps.

The current snapshot, named ``<run>@<env_steps>``, plays ``games`` games (colours
alternating) against every fixed opponent of the ladder and against a few earlier
snapshots of the same run; all games go to the run's match database and the snapshot's
Elo is fitted over every game of that board size in the database (Bradley-Terry, anchored
at ``random`` = 0: see :mod:`rlgo.evaluation.elo`). Optionally the same snapshot also plays
the fixed ladder with tree search (``<run>@<env_steps>:search=<n>``), so the raw policy and
the policy with search are both on the scale.

The ladder sees players only: the training loop builds them from the learner's snapshots
(:meth:`rlgo.protocols.Learner.snapshot_player`), so any learner is rated the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rlgo.envs import Rules
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import make_player
from rlgo.protocols import Player, close_players


def snapshot_name(run: str, env_steps: int) -> str:
    return f"{run}@{env_steps}"


@dataclass
class Entrant:
    """A player rated by the ladder: its metrics go under ``prefix`` (``eval``,
    ``eval/search``)."""

    prefix: str
    player: Player
    earlier: list[Player] = field(default_factory=list)
    """Earlier snapshots it also plays (labelled ``snapshot`` in the metrics)."""


def run_ladder(entrants: Sequence[Entrant], *, rules: Rules, db: MatchDB, run: str,
               env_steps: int, ladder: Sequence[str], games: int, seed: int = 0,
               tags: dict[str, str] | None = None) -> dict[str, float]:
    """Play the ladder; returns ``<prefix>/elo``, ``<prefix>/elo_stderr``,
    ``<prefix>/elo_bound`` (+1: it won every game it played, so the Elo is only a lower
    bound; -1: lost every one; 0: a rating), per-opponent
    ``<prefix>/vs_<opponent>/score`` (mean points: 1 a win, 1/2 a draw) for every
    entrant, and the fixed opponents' Elo ``eval/elo_of/<opponent>``."""
    fixed = [(spec, make_player(spec, rules, seed=seed + i)) for i, spec in enumerate(ladder)]
    metrics: dict[str, float] = {}
    try:
        for e in entrants:
            for label, opp in fixed + [("snapshot", p) for p in e.earlier]:
                summary = play_match(e.player, opp, games, rules, db, run=run,
                                     env_steps=env_steps, tags=tags)
                metrics[f"{e.prefix}/vs_{label}/score"] = summary.score
    finally:
        close_players(*(opp for _, opp in fixed))
    table = fit_elo(db.games(board_size=rules.board_size, with_sgf=False))
    elo = dict(zip(table.player, table.elo, strict=True))
    err = dict(zip(table.player, table.stderr, strict=True))
    bound = dict(zip(table.player, table.bound, strict=True))
    for e in entrants:
        metrics[f"{e.prefix}/elo"] = float(elo[e.player.name])
        metrics[f"{e.prefix}/elo_stderr"] = float(err[e.player.name])
        metrics[f"{e.prefix}/elo_bound"] = {">": 1.0, "<": -1.0}.get(bound[e.player.name], 0.0)
    for spec, _ in fixed:
        if spec in elo:
            metrics[f"eval/elo_of/{spec}"] = float(elo[spec])
    return metrics
