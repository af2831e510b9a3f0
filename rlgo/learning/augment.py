"""The eight symmetries of the square (D4) for data augmentation, a helper that learners
call on the rows they train on (the harness never augments: only the learner knows which
of its fields move with the board, e.g. a stored log-probability would not).

A symmetry ``k`` in 0..7 is ``k % 4`` quarter turns followed, when ``k >= 4``, by a
left-right flip. Planes, masks, actions and policy vectors transform consistently: the
pass action maps to itself.
"""

from __future__ import annotations

from functools import cache

import numpy as np


def transform_planes(x: np.ndarray, k: int) -> np.ndarray:
    """Apply symmetry k to the last two (spatial) axes of ``x``."""
    y = np.rot90(x, k % 4, axes=(-2, -1))
    return np.flip(y, axis=-1) if k >= 4 else y


@cache
def action_permutation(board_size: int, k: int) -> np.ndarray:
    """[N*N+1] int64 ``perm`` with ``perm[a]`` = the image of action a under symmetry k."""
    n = board_size
    ids = np.arange(n * n).reshape(n, n)
    # The point that lands on position j after the transform is moved_ids.flat[j].
    moved = transform_planes(ids, k).reshape(-1)
    perm = np.empty(n * n + 1, np.int64)
    perm[moved] = np.arange(n * n)
    perm[n * n] = n * n
    perm.setflags(write=False)
    return perm


def transform_policy(p: np.ndarray, board_size: int, k: int) -> np.ndarray:
    """Apply symmetry k to vectors over actions ``p`` [..., N*N+1] (masks, policies)."""
    perm = action_permutation(board_size, k)
    out = np.empty_like(p)
    out[..., perm] = p
    return out


def augment(obs: np.ndarray, mask: np.ndarray, action: np.ndarray | None,
            policy: np.ndarray | None, rng: np.random.Generator,
            ownership: np.ndarray | None = None):
    """A random symmetry per row: returns (obs, mask, action, policy, ownership)
    transformed (``action`` [T], ``policy`` [T, A] and ``ownership`` [T, N*N] may be
    None)."""
    n = obs.shape[-1]
    ks = rng.integers(0, 8, len(obs))
    obs, mask = obs.copy(), mask.copy()
    action = None if action is None else action.copy()
    policy = None if policy is None else policy.copy()
    ownership = None if ownership is None else ownership.copy()
    for k in range(1, 8):
        rows = np.flatnonzero(ks == k)
        if len(rows) == 0:
            continue
        obs[rows] = transform_planes(obs[rows], k)
        mask[rows] = transform_policy(mask[rows], n, k)
        if action is not None:
            action[rows] = action_permutation(n, k)[action[rows]]
        if policy is not None:
            policy[rows] = transform_policy(policy[rows], n, k)
        if ownership is not None:
            shape = ownership[rows].shape
            ownership[rows] = transform_planes(
                ownership[rows].reshape(-1, n, n), k).reshape(shape)
    return obs, mask, action, policy, ownership
