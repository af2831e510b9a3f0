"""A strong player diluted by random moves: a strength knob from random to the strong player.

``MixedPlayer(strong, epsilon)`` plays, at each of its moves independently, a uniformly
random legal move with probability ``epsilon`` and ``strong``'s move otherwise. At
``epsilon = 1`` it is exactly the random anchor's move distribution (a uniform legal board
point; pass only when no point is legal, :func:`random_legal_actions`); at ``epsilon = 0``
it is ``strong``. Between the two its Elo falls continuously, so a family such as
``mix:gnugo:0:<e>`` bridges a gap on a board where no engine setting lands between two
anchors (the player-spec grammar, :mod:`rlgo.evaluation.players`).

``strong`` is asked only for the moves it plays: a GTP engine replays the game record
(random moves included) before its next ``genmove``, so its board is always the game's.
The random draws come from the mixed player's own generator, one coin and one random
move per position whatever ``strong`` does, so a seed gives the same coins and the same
random moves in every run.
"""

from __future__ import annotations

import math

import numpy as np

from rlgo.agents.random_player import random_legal_actions
from rlgo.protocols import Decision, Player, Positions, close_players

__all__ = ["MixedPlayer"]


class MixedPlayer:
    """``strong``'s move with probability ``1 - epsilon``, else a uniform random legal one."""

    kind = "mixed"
    """Player kind stored in the match database."""

    def __init__(self, strong: Player, epsilon: float, seed: int = 0,
                 name: str | None = None) -> None:
        if not (isinstance(epsilon, int | float) and math.isfinite(epsilon)
                and 0.0 <= epsilon <= 1.0):
            raise ValueError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
        self.strong, self.epsilon = strong, float(epsilon)
        self.name = name or f"mix:{strong.name}:{self.epsilon:g}"
        self.spec: dict | None = {"strong": strong.name, "epsilon": self.epsilon}
        self._rng = np.random.default_rng([seed, 0x6D6978])

    def act(self, positions: Positions) -> Decision:
        n = len(positions)
        coins = self._rng.random(n)
        actions = random_legal_actions(positions.mask, self._rng)
        mine = np.flatnonzero(coins >= self.epsilon)  # the rows the strong player moves in
        if len(mine) == 0:
            return Decision(actions)
        sub = Positions(obs=positions.obs[mine], mask=positions.mask[mine],
                        engine=positions.engine, games=np.asarray(positions.games)[mine])
        decision = self.strong.act(sub)
        actions[mine] = decision.actions
        return Decision(actions, nn_evals=decision.nn_evals)

    def close(self) -> None:
        close_players(self.strong)

    def __repr__(self) -> str:
        return f"MixedPlayer({self.strong!r}, epsilon={self.epsilon:g})"
