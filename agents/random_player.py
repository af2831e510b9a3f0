"""The uniformly random player: the anchor of the Elo scale (``random`` = 0 Elo).

Passing rule: a point is drawn uniformly among the legal board points; pass is played
only when no board point is legal. This is the "light playout" player of Monte Carlo Go
and the rule of :meth:`GoEngine.random_actions`. Drawing pass as one more uniform
action instead would let two random players end most small-board games by chance
after a few dozen moves, so the anchor's strength would depend on the board size in a
second, arbitrary way. A random player that never passes fills its own eyes and keeps
playing until the move cap or until it has no legal point, so its games are long and
are scored as they stand (Tromp-Taylor).
"""

from __future__ import annotations

import numpy as np

from rlgo.protocols import Decision, Positions

__all__ = ["RandomPlayer", "random_legal_actions"]


def random_legal_actions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``mask`` [B, N*N+1] bool: uniform over the legal board
    points, the pass action (last column) only when no board point is legal. [B] int64

    Raises ValueError if a row has no legal action at all (a finished game).
    """
    mask = np.asarray(mask, bool)
    points = mask[:, :-1]
    forced_pass = ~points.any(axis=1)
    if (forced_pass & ~mask[:, -1]).any():
        raise ValueError("a position has no legal action (is its game over?)")
    counts = points.sum(axis=1)
    # k-th legal point, k uniform in 0..count-1: the first column where the running count
    # of legal points exceeds k.
    k = np.floor(rng.random(len(mask)) * np.maximum(counts, 1)).astype(np.int64)
    actions = (np.cumsum(points, axis=1) <= k[:, None]).sum(axis=1)
    return np.where(forced_pass, mask.shape[1] - 1, actions).astype(np.int64)


class RandomPlayer:
    """Uniform over the legal board points; passes only when forced (module docstring).

    Deterministic given ``seed`` and the sequence of batches it is asked to play.
    """

    kind = "random"
    """Player kind stored in the match database."""

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.name = name
        self.spec: dict | None = None
        """Nothing to rebuild it from but its kind (the seed does not change its strength)."""
        self._rng = np.random.default_rng(seed)

    def act(self, positions: Positions) -> Decision:
        return Decision(random_legal_actions(positions.mask, self._rng))

    def __repr__(self) -> str:
        return f"RandomPlayer(name={self.name!r})"
