"""Episodes, successors and returns over self-play rows, as functions over arrays.

Experience comes as rows, one per recorded move, all arrays of length T:
``game [T] int64``, ``move [T] int32`` (index of the move in its game, 0 = Black's
first), ``player [T] int8`` (1 Black, 2 White), ``outcome [T] float32`` (final result
from the mover's view) and ``value [T] float32`` (a network's estimate for the player to
move). Rows may come in any order, and a batch may hold only one colour's moves (a
learner against a frozen opponent); nothing here assumes contiguity.

The chain structure is one array, ``next_index [T] int64`` (the row that follows each
row, -1 if none, from :func:`successors`), plus ``sign [T] float32``.

**Sign convention, stated once here: values and rewards are from the point of view of
the player to move at their row; a successor whose mover is the opponent enters with a
minus sign (negamax), one whose mover is the same colour with a plus sign, so with
``per_player=True`` there is never a sign flip.** Discount ``gamma = 1`` is the default:
Go is zero-sum with a single terminal reward, so there is nothing to discount.

Generalised advantage estimation (Schulman et al. 2016), with ``n = next_t``:

    delta_t = r_t + gamma * sign_t * V_n - V_t
    A_t     = delta_t + gamma * lam * sign_t * A_n,     returns_t = A_t + V_t

where the ``V_n`` and ``A_n`` terms vanish when ``n == -1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "episode_ids",
    "gae",
    "n_step_returns",
    "n_step_targets",
    "successors",
    "terminal_rewards",
]


def episode_ids(game: np.ndarray, player: np.ndarray) -> np.ndarray:
    """Dense id 0..E-1 of each row's (game, player) pair, ordered by game then player.

    Args: ``game [T]``, ``player [T]``. Returns ``[T] int64``.
    """
    pairs = np.stack([np.asarray(game, np.int64), np.asarray(player, np.int64)], axis=1)
    _, ids = np.unique(pairs, axis=0, return_inverse=True)
    return ids.reshape(-1).astype(np.int64)


def successors(
    game: np.ndarray, player: np.ndarray, move: np.ndarray, per_player: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The row that follows each row, and the sign its values enter with.

    ``per_player=True``: the same player's next recorded move in the same game.
    ``per_player=False`` (along plies): the next recorded row of the same game, whoever
    moved. Args: ``game [T]``, ``player [T]``, ``move [T]``.

    Returns ``(next_index [T] int64, sign [T] float32)``: ``next_index`` is -1 where no
    row follows; ``sign`` is -1 where the successor's mover is the opponent, else +1.
    Raises ValueError if a group holds two rows with the same move number.
    """
    game, player, move = (np.asarray(a, np.int64) for a in (game, player, move))
    group = game * 3 + player if per_player else game  # player is 1 or 2
    order = np.lexsort((move, group))
    same = group[order][1:] == group[order][:-1]
    if np.any(move[order][1:][same] == move[order][:-1][same]):
        raise ValueError("two rows of one game share a move number")
    next_index = np.full(len(game), -1, np.int64)
    next_index[order[:-1][same]] = order[1:][same]
    flip = (next_index >= 0) & (player[next_index] != player)
    return next_index, np.where(flip, -1.0, 1.0).astype(np.float32)


def terminal_rewards(outcome: np.ndarray, next_index: np.ndarray) -> np.ndarray:
    """Reward ``[T] float32``: the outcome on rows without a successor, 0 elsewhere.

    A row with no successor ends its chain: per player, each colour's last move; along the
    plies, the game's last recorded move (the other colour's last move then reaches the
    outcome through the negamax bootstrap). Its return is the game's outcome for its
    mover. Args: ``outcome [T]``, ``next_index [T]``.
    """
    return np.where(np.asarray(next_index) < 0, outcome, 0.0).astype(np.float32)


def gae(
    value: np.ndarray,
    reward: np.ndarray,
    next_index: np.ndarray,
    sign: np.ndarray,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Negamax GAE(lambda) along the chains of ``next_index`` (see the module docstring).

    Args: ``value [T]``, ``reward [T]``, ``next_index [T]``, ``sign [T]``.
    Returns ``(advantages [T] float32, returns [T] float32)``; ``lam=1`` gives the
    Monte-Carlo return minus V, ``lam=0`` the one-step TD error.
    """
    v = np.asarray(value, np.float64)
    nxt = np.asarray(next_index, np.int64)
    coef = gamma * np.where(nxt >= 0, sign, 0.0)
    delta = np.asarray(reward, np.float64) + coef * v[np.maximum(nxt, 0)] - v
    adv = _backward_sum(delta, lam * coef, nxt)
    return adv.astype(np.float32), (adv + v).astype(np.float32)


@njit(cache=True)
def _backward_sum(x: np.ndarray, coef: np.ndarray, next_index: np.ndarray) -> np.ndarray:
    """``y[i] = x[i] + coef[i] * y[next_index[i]]`` (the last term absent at -1), [T].

    Each chain is walked from its head, then accumulated from its end backwards: the
    order of decreasing move number, without needing ``move``.
    """
    t = len(x)
    is_head = np.ones(t, np.bool_)
    for i in range(t):
        if next_index[i] >= 0:
            is_head[next_index[i]] = False
    y = np.zeros(t)
    chain = np.empty(t, np.int64)
    for head in range(t):
        if not is_head[head]:
            continue
        n, i = 0, head
        while i >= 0:
            chain[n] = i
            n, i = n + 1, next_index[i]
        for k in range(n - 1, -1, -1):
            i = chain[k]
            y[i] = x[i] + (coef[i] * y[next_index[i]] if next_index[i] >= 0 else 0.0)
    return y


def n_step_targets(
    reward: np.ndarray, next_index: np.ndarray, sign: np.ndarray, n: int, gamma: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n-step return split into its rewards and its bootstrap term.

    Along the chain ``s_0 = t, s_{i+1} = next_index[s_i]`` with coefficients ``c_0 = 1,
    c_{i+1} = c_i * gamma * sign[s_i]``, the return is ``sum_{i<n} c_i * reward[s_i]``
    (rows that exist) plus ``c_n * bootstrap[s_n]`` if ``s_n`` exists. The caller
    evaluates the bootstrap rows (e.g. with a target network) and adds them.

    Args: ``reward [T]``, ``next_index [T]``, ``sign [T]``, ``n >= 1``.
    Returns ``(partial_return [T] float32, boot_index [T] int64, boot_coef [T] float32)``
    with ``boot_index = s_n`` (-1 if the chain ended first) and ``boot_coef = c_n``
    (0 where ``boot_index == -1``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    reward, sign = np.asarray(reward, np.float64), np.asarray(sign, np.float64)
    next_index = np.asarray(next_index, np.int64)
    rows = np.arange(len(reward), dtype=np.int64)
    coef = np.ones(len(reward))
    partial = np.zeros(len(reward))
    for _ in range(n):  # over steps, not rows: every row advances at once
        live = rows >= 0
        at = np.where(live, rows, 0)
        partial += np.where(live, coef * reward[at], 0.0)
        coef = np.where(live, coef * gamma * sign[at], 0.0)
        rows = np.where(live, next_index[at], -1)
    boot_coef = np.where(rows >= 0, coef, 0.0)
    return partial.astype(np.float32), rows, boot_coef.astype(np.float32)


def n_step_returns(
    reward: np.ndarray,
    bootstrap: np.ndarray,
    next_index: np.ndarray,
    sign: np.ndarray,
    n: int,
    gamma: float = 1.0,
) -> np.ndarray:
    """n-step return ``[T] float32`` bootstrapped from ``bootstrap [T]`` (see
    :func:`n_step_targets`); ``bootstrap[s]`` is row s's value from its own mover's view.
    """
    partial, boot_index, boot_coef = n_step_targets(reward, next_index, sign, n, gamma)
    bootstrap = np.asarray(bootstrap, np.float64)
    boot = np.where(boot_index >= 0, bootstrap[np.maximum(boot_index, 0)], 0.0)
    return (partial + boot_coef * boot).astype(np.float32)
