"""The contract between the harness and the agents: everything an agent must provide.

* a :class:`Player` maps a batch of positions to actions (and, for learners, to whatever
  the learner wants recorded with each move: a search policy, a log-probability, a value);
* a :class:`Learner` is handed :class:`Experience` from the harness's self-play and returns
  what it learned (:class:`Learned`: metrics and counters). It owns its networks,
  optimisers and buffers; the harness never touches them. It hands out players: one for
  self-play (:meth:`Learner.player`) and frozen *snapshots* of its acting policy
  (:meth:`Learner.snapshot`, weights only, cheap to store) that become players again
  through :meth:`Learner.snapshot_player`: the evaluation ladder, the opponent pool and
  ``rlgo arena`` play those.

An agent is a module (or any callable) ``make(rules, config, net_config, seed, device) ->
Learner`` whose ``config`` parameter is annotated with the agent's frozen config
dataclass; :mod:`rlgo.registry` finds the built-in ones in :mod:`rlgo.agents` and
third-party ones by ``package.module:make`` or the ``rlgo.agents`` entry-point group.

Who needs what from :class:`Experience`:

=================  =========================================================
REINFORCE          ``obs, mask, action, outcome``
PPO                ``obs, mask, action, game, player, move, outcome,
                   extras["logp"], extras["value"]``
MCTS-distillation  ``obs, mask, outcome, move, extras["policy"]`` (the search's
                   target), ``extras["policy_weight"]``, ``ownership`` (auxiliary
                   target); with reanalyse ``extras["record"]``
off-policy replay  everything, stored in its own buffer
=================  =========================================================

Episode structure (who moves next, negamax GAE and n-step returns) is derived from
``game, player, move`` by :mod:`rlgo.learning.episodes`, which states the sign convention.

Counters belong to whoever spends them: the harness counts the network evaluations of
the learner's self-play moves (:attr:`Decision.nn_evals` of :meth:`Learner.player`) and
of the opponent's; the learner reports the ones it spends itself (reanalyse, target
networks) as :attr:`Learned.nn_evals` in what :meth:`Learner.learn` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from rlgo.errors import RlgoError

if TYPE_CHECKING:  # annotations only: the contract itself loads no engine
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
    [B, A] float32 search targets, ``logp`` [B] float32 (the log-probability of the
    action under the distribution it was sampled from), ``value`` [B] float32."""
    nn_evals: int = 0
    """Network positions evaluated to make these decisions (search included)."""


@runtime_checkable
class Player(Protocol):
    """Anything that picks moves: a learner's policy, random, rollout MCTS, GNU Go.

    Optional attributes the match database stores when present: ``kind`` (a short word,
    e.g. "network") and ``spec`` (a JSON-able description, set through :func:`describe`).
    """

    name: str
    """Stable identifier used in the match database and the Elo table."""

    def act(self, positions: Positions) -> Decision:
        """Choose one action per position."""
        ...


@dataclass(frozen=True)
class Experience:
    """Self-play moves of finished games, one row per move made by a learner's side.

    Rows of one game appear in move order; ``game`` groups them. Against a frozen
    opponent only the learner's own moves are rows.
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
    """[T] bool: this is the mover's last move of the game."""
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


@dataclass(frozen=True)
class Learned:
    """What :meth:`Learner.learn` returns: its metrics and the two counters the harness
    adds up."""

    metrics: dict[str, float]
    """Namespaced metrics of the update (``losses/...``, ``charts/...``), logged as they
    are."""
    train_samples: int
    """Positions its gradient steps consumed, repeats counted (epochs times positions;
    minibatches times their size)."""
    nn_evals: int = 0
    """Network evaluations it spent itself outside acting (reanalyse searches, target
    networks)."""


def describe(player: Player, spec: dict[str, Any]) -> None:
    """Attach ``spec`` (stored with the player in the match database) where the player
    accepts attributes; a player that does not is stored without one."""
    try:
        player.spec = spec  # type: ignore[attr-defined]
    except AttributeError:
        pass


def close_players(*players: object) -> None:
    """Release every player that holds resources (a GTP player's engine processes: its
    ``close``); players without one need nothing."""
    for player in players:
        close = getattr(player, "close", None)
        if close is not None:
            close()


class CannotSearchError(RlgoError, ValueError):
    """Raised by :meth:`Learner.snapshot_player` asked for search by a learner without a
    policy-value network."""


Weights = dict[str, Any]
"""A snapshot: a flat dict of tensors (and numbers), loadable with
``torch.load(weights_only=True)``; all a learner needs to rebuild its acting policy."""


@runtime_checkable
class Learner(Protocol):
    """A training algorithm, built by its agent's ``make(rules, config, net_config, seed,
    device)``; the harness does everything else."""

    config: Any
    """The learner's frozen config dataclass."""

    def player(self) -> Player:
        """The policy that generates self-play (exploring: sampling, noise, epsilon)."""
        ...

    def snapshot(self) -> Weights:
        """A frozen copy of the acting policy's weights, on the CPU (independent of later
        updates): stored beside checkpoints, rated by the ladder, kept in the pool."""
        ...

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        """A player from a snapshot of this learner (any earlier one of the same config).

        ``greedy``: its best move (a policy's argmax, a Q-learner's argmax over legal Q);
        otherwise it samples from its policy. ``search`` > 0: that many tree-search
        simulations per move with the snapshot's network; a learner without a
        policy-value network raises :class:`CannotSearchError`. Weights that do not fit
        raise ValueError."""
        ...

    def learn(self, batch: Experience) -> Learned:
        """Update on finished games; returns its metrics and counters (:class:`Learned`).
        Randomness must come from torch's global generator, which the harness seeds per
        iteration (so a resumed run replays the same numbers)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks, optimisers, buffers, schedules."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...


@dataclass(frozen=True)
class Credit:
    """How a learner assigns credit to the moves of a batch (:class:`CreditAssigner`).
    Rows align with the batch; NaN marks a row the learner does not learn from (e.g. an
    MCTS move searched with the cheap budget, which carries no policy target)."""

    played: np.ndarray
    """[T] float32: the weight its update puts on grad log pi(a|s) of the move played:
    REINFORCE's return minus baseline, PPO's GAE advantage, MCTS's search target minus
    network policy at the move, the replay learner's Q(s, a) - V(s)."""
    policy: np.ndarray
    """[T, A] float32: the learner's policy at s (zero on illegal actions): the
    distribution its update moves, and the baseline of the oracle advantage."""
    vector: np.ndarray | None = None
    """[T, A] float32: the credit of every legal action where the learner gives one
    (NaN on illegal actions): MCTS's improvement vector, the replay learner's Q - V."""
    target: np.ndarray | None = None
    """[T, A] float32: the distribution a distillation learner's policy is pulled
    towards (the search's), for the information its target carries."""


@runtime_checkable
class CreditAssigner(Protocol):
    """Optional, for ``rlgo analyze credit``: a learner that shows, for the self-play of
    one of its snapshots, the credit its update would assign to every move."""

    def load_snapshot(self, weights: Weights, env_steps: int) -> None:
        """Act and assign credit as the learner did when the snapshot was taken, at
        ``env_steps`` (schedules such as exploration follow it); optimisers untouched."""
        ...

    def credit(self, batch: Experience) -> Credit:
        """Per-move credit of a batch of its own self-play (see :class:`Credit`)."""
        ...

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """The flat gradient, over the learner's policy parameters, of
        ``sum_t sum_a weights[t, a] * log pi(a | s_t)`` (the network in eval mode, the
        function that acted): with ``weights`` one-hot at the played moves times a credit,
        the direction a policy-gradient update takes."""
        ...
