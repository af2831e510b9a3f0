"""The contracts between the harness and the agents.

Two small protocols, designed against all four planned learners (MCTS-distillation,
REINFORCE, PPO, off-policy replay) and the fixed opponents:

* a :class:`Player` maps a batch of positions to actions (and, for learners, to whatever
  the learner wants recorded with each move: a search policy, a log-probability, a value);
* a :class:`Learner` is handed :class:`Experience` from the harness's self-play and returns
  its loss metrics. It owns its network and optimiser, and exposes the player it trains.

Who needs what from :class:`Experience`:

=================  =========================================================
REINFORCE          ``obs, mask, action, outcome``
PPO                ``obs, mask, action, reward, last, extras["logp"], extras["value"]``
MCTS-distillation  ``obs, mask, outcome, extras["policy"]`` (the visit distribution),
                   ``ownership`` (auxiliary target)
off-policy replay  everything, stored in its own buffer; ``extras["logp"]`` for importance
                   weights
=================  =========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rlgo.envs import GoEngine


@dataclass(frozen=True)
class Positions:
    """A batch of positions to move in, taken from games of one engine."""

    obs: np.ndarray
    """[B, 17, N, N] uint8 planes for the player to move (see ``GoEngine.observations``)."""
    mask: np.ndarray
    """[B, N*N+1] bool legal actions."""
    engine: GoEngine
    """The games the positions come from; search and GTP players read full state here."""
    games: np.ndarray
    """[B] int64 indices of the positions' games in ``engine``."""

    def __len__(self) -> int:
        return len(self.games)


@dataclass(frozen=True)
class Decision:
    """What a player returns for a batch of positions."""

    actions: np.ndarray
    """[B] int64 chosen actions, legal under ``Positions.mask``."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-move records for the learner, each with leading axis B: e.g. ``policy``
    [B, A] float32 search targets, ``logp`` [B] float32, ``value`` [B] float32."""
    nn_evals: int = 0
    """Network positions evaluated to make these decisions (search included)."""


@runtime_checkable
class Player(Protocol):
    """Anything that picks moves: a learner's policy, random, rollout MCTS, GNU Go."""

    name: str
    """Stable identifier used in the match database and the Elo table."""

    def act(self, positions: Positions) -> Decision:
        """Choose one action per position."""
        ...


@dataclass(frozen=True)
class Experience:
    """Self-play moves of finished games, one row per move made by a learner's side.

    Rows of one game appear in move order; ``game`` groups them.
    """

    obs: np.ndarray
    """[T, 17, N, N] uint8 planes seen by the mover."""
    mask: np.ndarray
    """[T, N*N+1] bool legal actions at that position."""
    player: np.ndarray
    """[T] int8 colour of the mover: 1 Black, 2 White."""
    action: np.ndarray
    """[T] int64 action played."""
    reward: np.ndarray
    """[T] float32 reward to the mover after this action: the game's result (+1 win,
    -1 loss, 0 draw) on the mover's last move of the game, 0 before."""
    outcome: np.ndarray
    """[T] float32 the game's final result from the mover's point of view (the
    undiscounted return of every move)."""
    last: np.ndarray
    """[T] bool: this is the mover's last move of the game (episode boundary for PPO)."""
    game: np.ndarray
    """[T] int64 game id, unique within a run."""
    move: np.ndarray
    """[T] int32 index of the move in its game (0 = Black's first move)."""
    ownership: np.ndarray | None = None
    """[T, N*N] int8 final Tromp-Taylor owner of every point from the mover's view: +1
    the mover's area, -1 the opponent's, 0 neither (KataGo's auxiliary ownership
    target); None where the producer did not record it."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """Whatever the acting player recorded in :attr:`Decision.extras`, row-aligned."""

    def __len__(self) -> int:
        return len(self.action)


@runtime_checkable
class Learner(Protocol):
    """A training algorithm. Built from ``(board_size, config, seed)`` by its module's
    ``make`` function; the harness does everything else."""

    config: Any
    """The learner's frozen config dataclass."""

    def player(self, greedy: bool = False) -> Player:
        """The policy that generates self-play (``greedy=False``) or plays evaluations."""
        ...

    def learn(self, batch: Experience) -> dict[str, float]:
        """Update on finished games; returns namespaced metrics (``losses/...``) plus
        ``train_samples``, the positions its gradient steps consumed (repeats counted),
        which the harness adds to its counter. Randomness must come from torch's global
        generator, which the harness seeds per iteration (so a resumed run replays the
        same numbers)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: network, optimiser, learner-side buffers."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...
