"""Batched Monte-Carlo tree search guided by a policy-value function, as a function over
arrays: AlphaZero's PUCT (Silver et al. 2017, 2018) or Gumbel MuZero's root (Danihelka
et al. 2022), for many games at once.

The search knows nothing of networks: it sees the model through one function,

    evaluate(obs [B, 17, N, N] uint8, mask [B, A] bool) -> (logp [B, A], value [B])

(``PolicyValueNet.evaluate`` fits), and of the game only through the compiled Go kernels
(``rlgo.envs.kernels``). :func:`run_search` returns a :class:`SearchOutput` whose
``action_weights`` is exactly the policy training target.

Notation (AlphaGo's). For an edge (s, a), the action a taken at node s:

* ``N(s, a)``: visit count; ``N(s) = 1 + sum_b N(s, b)`` (the node's own evaluation
  counts one, as in mctx, so that the priors order the first visits).
* ``W(s, a)``: total value backed up through the edge; ``Q(s, a) = W(s, a) / N(s, a)``.
* ``P(s, a)``: prior probability, the network's policy at s (at the root of a PUCT
  search, mixed with Dirichlet noise in self-play).
* ``V(s)``: the value of s itself: the network's, or the Tromp-Taylor result when the
  game is over at s.
* ``U(s, a) = c_puct * P(s, a) * sqrt(N(s)) / (1 + N(s, a))``.

PUCT selection takes ``argmax_a Q(s, a) + U(s, a)`` over the legal actions (first
maximum); an unvisited edge has ``Q(s, a) = V(s) - fpu_reduction`` (first-play urgency,
as in Leela Zero and KataGo).

**Sign convention for alternating players, stated once here: V(s), Q(s, a) and W(s, a)
are from the point of view of the player to move at s** (the player who chooses a). The
network's value of a leaf is for the player to move at the leaf; backing up, every edge
(s, a) of the path adds ``+v`` to W(s, a) if the player to move at s is the leaf's player
to move, and ``-v`` otherwise (passes alternate the player too). A finished game's value
is +1 / -1 / 0 for a win / loss / draw of its player to move (Tromp-Taylor, komi
included). So every node maximises its own Q + U, no negation appears in selection, and
the root's Q is for the side to move in the searched position.

Gumbel root (``SearchConfig.gumbel``), following the paper and mctx's implementation:
Gumbel noise ``g(a)`` (zero when the search is not noisy) plus the prior logits pick
``m = min(max_considered, legal actions)`` root actions without replacement (Gumbel-Top-k
trick), and sequential halving (:func:`halving_rounds`) shares the simulation budget
among them, halving the candidates each round by the score
``g(a) + logits(a) + sigma(completed Q(a))``. The move is the best-scoring action among
the most visited; the policy target is ``softmax(logits + sigma(completed Q))`` over the
legal actions, where completed Q is Q(s, a) for visited actions and, for unvisited ones,
the mixed value ``v_mix = (V(s) + N * sum_visited P Q / sum_visited P) / (1 + N)``;
completed Q is rescaled to [0, 1] by its min and max over the legal actions and
``sigma(q) = (c_visit + max_b N(s, b)) * c_scale * q``. Below the root, actions follow the
paper's deterministic rule ``argmax_a pi'(a) - N(s, a) / (1 + sum_b N(s, b))`` with
``pi' = softmax(log P + sigma(completed Q))``. Dirichlet noise is not used with Gumbel
(the Gumbel noise explores).

The tree is arrays indexed by [game, node id, action] (node 0 is the root), with an edge's
statistics in its parent's row (:class:`Tree`). Every simulation adds at most one node.

One simulation step for all B games is three calls: ``_select_*`` (compiled, parallel over
games from ``SERIAL_BELOW`` games on, as the engine) descends each tree to the first
unexpanded edge or a finished game and writes the leaf's planes and legal mask; one
``evaluate`` on the leaves that need the network; ``_expand_backup_*`` (compiled) adds the
new nodes and backs their values up.

Node states: each node's position is stored (a Boards record with one board per node: a
new leaf is its parent's board plus ``play_checked``), or, when that would exceed
:data:`STATE_MEMORY`, replayed from the root along the path each simulation (~8 KB per
stored 9x9 position, ~34 KB on 19x19). Either way a leaf carries the exact history of its
path (superko set, history planes, move count), so two paths that reach the same stones
are two nodes with their own statistics and legal moves: there is no transposition table
keyed by the board.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rlgo.envs import GoEngine
from rlgo.envs import kernels as K
from rlgo.envs.engine import SERIAL_BELOW
from rlgo.envs.kernels import BLACK, NUM_PLANES, Boards, Geometry
from rlgo.learning.checks import check_config

__all__ = ["STATE_MEMORY", "EvaluateFn", "SearchConfig", "SearchOutput", "Tree",
           "Workspace", "completed_q_sigma", "considered_visits", "halving_rounds",
           "run_search"]

EvaluateFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``evaluate(obs [B, 17, N, N] uint8, mask [B, A] bool) -> (logp [B, A], value [B])``:
log-probabilities over the actions and the value for the player to move, in [-1, 1]."""

UNEXPANDED = -1
"""``Tree.children`` entry of an edge without a node yet."""

# What a simulation found at its leaf (``_select_one``'s ``status``).
NEED_EVAL, NEW_TERMINAL, OLD_TERMINAL, IDLE = 0, 1, 2, 3

#: Bytes of node positions above which ``run_search`` replays paths from the root
#: instead of storing a position per node (~8 KB per node on 9x9, ~34 KB on 19x19: 64
#: games of 64 simulations take 34 MB on 9x9, 141 MB on 19x19).
STATE_MEMORY = 256 * 2**20

#: Dirichlet concentration per legal move when ``dirichlet_alpha`` is None: AlphaZero's
#: 0.03 on 19x19, scaled by the number of legal moves as in KataGo.
DIRICHLET_TOTAL = 0.03 * 361


@dataclass(frozen=True)
class SearchConfig:
    """Constants of the search (the budget and the noise are per call: see run_search)."""

    gumbel: bool = False
    """False: AlphaZero's PUCT everywhere, target = visit distribution. True: Gumbel
    MuZero's root (sequential halving) and interior rule, target = softmax(logits +
    sigma(completed Q)): policy improvement even with 2..16 simulations."""
    c_puct: float = 1.25
    """PUCT exploration constant (mctx's default pb_c_init)."""
    fpu_reduction: float = 0.2
    """PUCT: an unvisited edge's Q is V(s) minus this (first-play urgency)."""
    dirichlet_alpha: float | None = None
    """PUCT root noise concentration; None: 10.83 / (legal actions) (AlphaZero's 0.03 on
    19x19, scaled by the legal moves as in KataGo)."""
    dirichlet_fraction: float = 0.25
    """PUCT root prior = (1 - fraction) * P + fraction * Dirichlet (AlphaZero: 0.25)."""
    max_considered: int = 16
    """Gumbel: root actions sampled without replacement (the paper's m)."""
    c_visit: float = 50.0
    """Gumbel: sigma(q) = (c_visit + max_b N(b)) * c_scale * q (mctx's maxvisit_init)."""
    c_scale: float = 0.1
    """Gumbel: see c_visit (mctx's value_scale)."""

    def __post_init__(self) -> None:
        check_config(self, positive=("c_puct", "max_considered", "dirichlet_alpha"),
                     non_negative=("c_visit", "c_scale", "fpu_reduction"),
                     unit=("dirichlet_fraction",))


class Tree(NamedTuple):
    """Search trees of B games, M nodes each, A = N*N + 1 actions. Node 0 is the root;
    an edge's statistics live in its parent's row."""

    children: np.ndarray
    """[B, M, A] int32: node reached by action a from the node, UNEXPANDED if none."""
    N: np.ndarray
    """[B, M, A] int32: visit count N(s, a)."""
    W: np.ndarray
    """[B, M, A] float32: total value W(s, a), for the player to move at s."""
    P: np.ndarray
    """[B, M, A] float32: prior P(s, a), zero on illegal actions (root: noise mixed in)."""
    value: np.ndarray
    """[B, M] float32: V(s), network value or game result, for the player to move at s."""
    to_play: np.ndarray
    """[B, M] int8: colour to move at each node (BLACK 1, WHITE 2)."""
    terminal: np.ndarray
    """[B, M] bool: the game is over at the node (V is its Tromp-Taylor result)."""
    num_nodes: np.ndarray
    """[B] int32: nodes in use; rows from num_nodes on are unused."""


class SearchOutput(NamedTuple):
    """What :func:`run_search` returns; row i is the game ``games[i]``. Finished games
    have action -1 and zero weights, visits and values."""

    action: np.ndarray
    """[B] int64: the search's move, before any temperature: PUCT the most visited root
    action (Q breaks ties); Gumbel the best of g + logits + sigma(completed Q) among the
    most visited (sequential halving's winner)."""
    action_weights: np.ndarray
    """[B, A] float32: the policy training target. PUCT: N(root, a) / sum_b N(root, b).
    Gumbel: softmax(logits + sigma(completed Q)) over the legal actions."""
    visit_counts: np.ndarray
    """[B, A] int32: N(root, a); each row sums to the game's simulation budget."""
    q_values: np.ndarray
    """[B, A] float32: Q(root, a), zero where unvisited."""
    prior_logp: np.ndarray
    """[B, A] float32: the model's log-probabilities at the root (no noise)."""
    raw_value: np.ndarray
    """[B] float32: the model's value of the root, for the player to move."""
    value: np.ndarray
    """[B] float32: the search's value of the root, (V + sum_a W) / (1 + sum_a N)."""
    nn_evals: int
    """Positions the model evaluated (roots and non-terminal leaves)."""
    tree: Tree
    """The trees themselves."""


class Workspace:
    """Boards kept from one :func:`run_search` call to the next (pass the same object).

    The node-position store is large (34 MB for 64 games of 64 simulations on 9x9) and
    fresh memory costs a page fault per 4 KB at first touch, about 5% of a search; reused
    boards need no clearing, every board is overwritten before it is read. Not for use
    by two searches at once."""

    def __init__(self) -> None:
        self._boards: Boards | None = None

    def boards(self, template: Boards, count: int) -> Boards:
        """``count`` boards shaped like ``template``'s (contents undefined)."""
        have = self._boards
        if (have is None or len(have.hash) < count
                or any(a.shape[1:] != t.shape[1:] for a, t in zip(have, template, strict=True))):
            self._boards = Boards(*(np.zeros((count, *t.shape[1:]), t.dtype)
                                    for t in template))
        return Boards(*(a[:count] for a in self._boards))


# --------------------------------------------------------------------------- schedule


def halving_rounds(max_considered: int, simulations: int) -> list[tuple[int, int]]:
    """Sequential halving's rounds as ``(actions considered, visits added to each)``, in
    mctx's form of the paper's schedule: ``log2(m)`` rounds, round k gives each of its
    ``m_k`` actions ``max(1, floor(n / (ceil(log2 m) * m_k)))`` visits, ``m_k`` halves
    (never below 2). The last round is cut where the budget ``n`` runs out."""
    if max_considered <= 1:
        return [(1, simulations)] if simulations else []
    log2max = math.ceil(math.log2(max_considered))
    rounds, used, considered = [], 0, max_considered
    while used < simulations:
        extra = max(1, simulations // (log2max * considered))
        rounds.append((considered, extra))
        used += extra * considered
        considered = max(2, considered // 2)
    return rounds


@cache
def considered_visits(max_considered: int, simulations: int) -> np.ndarray:
    """[simulations] int32: for simulation k, the visit count a root action must have to
    be chosen (mctx's ``get_sequence_of_considered_visits``): within a round every
    considered action is visited once before any gets a second visit."""
    sequence: list[int] = []
    visits = [0] * max(max_considered, 1)
    for considered, extra in halving_rounds(max_considered, simulations):
        for _ in range(extra):
            sequence.extend(visits[:considered])
            for i in range(considered):
                visits[i] += 1
    out = np.array(sequence[:simulations], np.int32)
    out.setflags(write=False)
    return out


# --------------------------------------------------------------------------- selection


@njit(cache=True)
def _puct(tree: Tree, b: int, node: int, legal: np.ndarray, c_puct: float,
          fpu_reduction: float) -> int:
    """argmax_a Q(s, a) + U(s, a) over the legal actions (module docstring)."""
    n_row = tree.N[b, node]
    w_row = tree.W[b, node]
    p_row = tree.P[b, node]
    total = 0
    for a in range(legal.shape[0]):
        total += n_row[a]
    explore = c_puct * np.sqrt(1.0 + total)
    q_fpu = tree.value[b, node] - fpu_reduction
    best = -1
    best_score = -np.inf
    for a in range(legal.shape[0]):
        if legal[a]:
            n = n_row[a]
            q = w_row[a] / n if n > 0 else q_fpu
            score = q + explore * p_row[a] / (1.0 + n)
            if score > best_score:
                best_score = score
                best = a
    return best


@njit(cache=True)
def _sigma_params(tree: Tree, b: int, node: int, legal: np.ndarray, c_visit: float,
                  c_scale: float) -> tuple[float, float, float]:
    """(v_mix, lo, scale) with sigma(completed Q(a)) = scale * (completed Q(a) - lo)."""
    n_row = tree.N[b, node]
    w_row = tree.W[b, node]
    p_row = tree.P[b, node]
    total = 0
    max_n = 0
    sum_p = 0.0
    weighted = 0.0
    for a in range(legal.shape[0]):
        n = n_row[a]
        if n > 0:
            total += n
            max_n = max(max_n, n)
            p = max(p_row[a], 1e-30)
            sum_p += p
            weighted += p * w_row[a] / n
    raw = tree.value[b, node]
    v_mix = raw if total == 0 else (raw + total * weighted / sum_p) / (total + 1)
    lo = np.inf
    hi = -np.inf
    for a in range(legal.shape[0]):
        if legal[a]:
            q = w_row[a] / n_row[a] if n_row[a] > 0 else v_mix
            lo = min(lo, q)
            hi = max(hi, q)
    scale = (c_visit + max_n) * c_scale / max(hi - lo, 1e-8)
    return v_mix, lo, scale


@njit(cache=True)
def _gumbel_root(tree: Tree, b: int, legal: np.ndarray, logits: np.ndarray,
                 gumbel: np.ndarray, visit: int, c_visit: float, c_scale: float) -> int:
    """Sequential halving's choice: the best g + logits + sigma(completed Q) among the
    legal root actions with exactly ``visit`` visits (mctx's ``score_considered``)."""
    v_mix, lo, scale = _sigma_params(tree, b, 0, legal, c_visit, c_scale)
    n_row = tree.N[b, 0]
    w_row = tree.W[b, 0]
    best = -1
    best_score = -np.inf
    fallback = -1
    fallback_score = -np.inf
    for a in range(legal.shape[0]):
        if legal[a]:
            q = w_row[a] / n_row[a] if n_row[a] > 0 else v_mix
            score = max(-1e9, gumbel[a] + logits[a] + scale * (q - lo))
            if n_row[a] == visit and score > best_score:
                best_score = score
                best = a
            if score > fallback_score:
                fallback_score = score
                fallback = a
    return best if best >= 0 else fallback  # (no action at ``visit``: cannot happen)


@njit(cache=True)
def _gumbel_interior(tree: Tree, b: int, node: int, legal: np.ndarray, c_visit: float,
                     c_scale: float) -> int:
    """The paper's deterministic interior rule: argmax_a pi'(a) - N(s, a) / (1 + N)."""
    v_mix, lo, scale = _sigma_params(tree, b, node, legal, c_visit, c_scale)
    n_row = tree.N[b, node]
    w_row = tree.W[b, node]
    p_row = tree.P[b, node]
    total = 0
    top = -np.inf
    for a in range(legal.shape[0]):
        total += n_row[a]
        if legal[a]:
            q = w_row[a] / n_row[a] if n_row[a] > 0 else v_mix
            top = max(top, np.log(max(p_row[a], 1e-30)) + scale * (q - lo))
    z = 0.0
    for a in range(legal.shape[0]):
        if legal[a]:
            q = w_row[a] / n_row[a] if n_row[a] > 0 else v_mix
            z += np.exp(np.log(max(p_row[a], 1e-30)) + scale * (q - lo) - top)
    best = -1
    best_score = -np.inf
    for a in range(legal.shape[0]):
        if legal[a]:
            q = w_row[a] / n_row[a] if n_row[a] > 0 else v_mix
            pi = np.exp(np.log(max(p_row[a], 1e-30)) + scale * (q - lo) - top) / z
            score = pi - n_row[a] / (1.0 + total)
            if score > best_score:
                best_score = score
                best = a
    return best


@njit(cache=True)
def _terminal_value(s: Boards, b: int, geo: Geometry) -> float:
    """Tromp-Taylor result of finished board b for its player to move."""
    score = K.score(s, b, geo)
    z = 1.0 if score > 0 else (-1.0 if score < 0 else 0.0)
    return z if s.info[b, K.TO_PLAY] == BLACK else -z


@njit(cache=True)
def _choose(tree: Tree, b: int, node: int, legal: np.ndarray, gumbel: bool,
            root_logits: np.ndarray, root_gumbel: np.ndarray, visit: int, c_puct: float,
            fpu_reduction: float, c_visit: float, c_scale: float) -> int:
    """The selection rule at a node: PUCT, or Gumbel's root / interior rule."""
    if not gumbel:
        return _puct(tree, b, node, legal, c_puct, fpu_reduction)
    if node == 0:
        return _gumbel_root(tree, b, legal, root_logits, root_gumbel, visit, c_visit, c_scale)
    return _gumbel_interior(tree, b, node, legal, c_visit, c_scale)


@njit(cache=True)
def _descend(s: Boards, base: int, stored: bool, b: int, geo: Geometry, tree: Tree,
             gumbel: bool, root_logits: np.ndarray, root_gumbel: np.ndarray, visit: int,
             c_puct: float, fpu_reduction: float, c_visit: float, c_scale: float,
             path_node: np.ndarray, path_action: np.ndarray, rewards: np.ndarray,
             status: np.ndarray, leaf_value: np.ndarray,
             leaf_player: np.ndarray) -> tuple[int, int]:
    """One simulation's selection in game b. Returns (path length, board of ``s``
    holding the leaf) and sets ``status[b]``, ``leaf_value[b]`` (for a finished game)
    and ``leaf_player[b]`` (to move at the leaf).

    Replay (``stored`` False): board ``base`` holds the root; the path's moves are played
    on it. Stored: board ``base + node`` holds each node's position; a new leaf's is
    its parent's plus one move, written to board ``base + <its node id>``."""
    node = 0
    slot = base
    depth = 0
    while True:
        a = _choose(tree, b, node, s.legal[slot], gumbel, root_logits, root_gumbel, visit,
                    c_puct, fpu_reduction, c_visit, c_scale)
        path_node[depth] = node
        path_action[depth] = a
        depth += 1
        child = tree.children[b, node, a]
        if child != UNEXPANDED and tree.terminal[b, child]:
            status[b] = OLD_TERMINAL
            leaf_value[b] = tree.value[b, child]
            leaf_player[b] = tree.to_play[b, child]
            return depth, slot
        if child == UNEXPANDED:
            if stored:  # the node id _expand_backup will give the leaf
                K.copy_game(s, slot, s, base + tree.num_nodes[b])
                slot = base + tree.num_nodes[b]
            K.play_checked(s, slot, a, geo, rewards)
            leaf_player[b] = s.info[slot, K.TO_PLAY]
            if s.info[slot, K.DONE]:
                status[b] = NEW_TERMINAL
                leaf_value[b] = _terminal_value(s, slot, geo)
            else:
                status[b] = NEED_EVAL
            return depth, slot
        if stored:
            slot = base + child
        else:
            K.play_checked(s, slot, a, geo, rewards)
        node = child


@njit(cache=True)
def _select_one(root: Boards, games: np.ndarray, s: Boards, stored: bool, nodes: int,
                geo: Geometry, tree: Tree, sims_done: np.ndarray, budget: np.ndarray,
                gumbel: bool, root_logits: np.ndarray, root_gumbel: np.ndarray,
                considered: np.ndarray, c_puct: float, fpu_reduction: float, c_visit: float,
                c_scale: float, path_node: np.ndarray, path_action: np.ndarray,
                depth: np.ndarray, rewards: np.ndarray, status: np.ndarray,
                leaf_value: np.ndarray, leaf_player: np.ndarray, obs: np.ndarray,
                mask: np.ndarray, b: int) -> None:
    """Selection for game b (root ``root[games[b]]``; boards of ``s``: see _descend, a
    game owning boards ``b * nodes ...`` when stored, board b when replayed); for a
    NEED_EVAL leaf, its planes go to ``obs[b]`` [17, N*N] and its legal mask to
    ``mask[b]``."""
    if sims_done[b] >= budget[b]:
        status[b] = IDLE
        return
    base = b * nodes if stored else b
    if not stored:
        K.copy_game(root, games[b], s, b)
    depth[b], slot = _descend(s, base, stored, b, geo, tree, gumbel, root_logits[b],
                              root_gumbel[b], considered[b, sims_done[b]], c_puct,
                              fpu_reduction, c_visit, c_scale, path_node[b], path_action[b],
                              rewards[b], status, leaf_value, leaf_player)
    if status[b] == NEED_EVAL:
        K.planes(s, slot, s.info[slot, K.TO_PLAY], obs[b], False)
        mask[b, :] = s.legal[slot]


@njit(cache=True, parallel=True)
def _select_parallel(root, games, s, stored, nodes, geo, tree, sims_done, budget, gumbel,
                     root_logits, root_gumbel, considered, c_puct, fpu_reduction, c_visit,
                     c_scale, path_node, path_action, depth, rewards, status, leaf_value,
                     leaf_player, obs, mask) -> None:
    """:func:`_select_one` for every game, in parallel."""
    for i in prange(games.shape[0]):
        _select_one(root, games, s, stored, nodes, geo, tree, sims_done, budget, gumbel,
                    root_logits, root_gumbel, considered, c_puct, fpu_reduction, c_visit,
                    c_scale, path_node, path_action, depth, rewards, status, leaf_value,
                    leaf_player, obs, mask, np.int64(i))  # prange may type i as uint64


@njit(cache=True)
def _select_serial(root, games, s, stored, nodes, geo, tree, sims_done, budget, gumbel,
                   root_logits, root_gumbel, considered, c_puct, fpu_reduction, c_visit,
                   c_scale, path_node, path_action, depth, rewards, status, leaf_value,
                   leaf_player, obs, mask) -> None:
    """:func:`_select_parallel` on one thread (small batches: see SERIAL_BELOW)."""
    for i in range(games.shape[0]):
        _select_one(root, games, s, stored, nodes, geo, tree, sims_done, budget, gumbel,
                    root_logits, root_gumbel, considered, c_puct, fpu_reduction, c_visit,
                    c_scale, path_node, path_action, depth, rewards, status, leaf_value,
                    leaf_player, obs, mask, np.int64(i))


@njit(cache=True)
def _expand_backup(tree: Tree, b: int, path_node: np.ndarray, path_action: np.ndarray,
                   depth: int, status: int, v: float, me: int, logp: np.ndarray, r: int,
                   mask: np.ndarray) -> None:
    """Add game b's new leaf (priors ``exp(logp[r])`` on ``mask``, value v, or its game
    result v) unless it is an old terminal node, and back v up the path."""
    if status != OLD_TERMINAL:
        node = tree.num_nodes[b]
        tree.num_nodes[b] += 1
        tree.children[b, path_node[depth - 1], path_action[depth - 1]] = node
        tree.to_play[b, node] = me
        tree.value[b, node] = v
        if status == NEED_EVAL:
            for a in range(mask.shape[0]):
                tree.P[b, node, a] = np.exp(logp[r, a]) if mask[a] else 0.0
        else:
            tree.terminal[b, node] = True
    for k in range(depth):  # backup: each edge for the player to move at its node
        s = path_node[k]
        a = path_action[k]
        tree.N[b, s, a] += 1
        tree.W[b, s, a] += v if tree.to_play[b, s] == me else -v


@njit(cache=True)
def _expand_backup_game(tree: Tree, path_node: np.ndarray, path_action: np.ndarray,
                        depth: np.ndarray, status: np.ndarray, leaf_value: np.ndarray,
                        leaf_player: np.ndarray, rows: np.ndarray, logp: np.ndarray,
                        value: np.ndarray, mask: np.ndarray, sims_done: np.ndarray,
                        b: int) -> None:
    """:func:`_expand_backup` for game b if it has a simulation in flight; a NEED_EVAL
    leaf's priors and value are row ``rows[b]`` of the model's output.

    HACK: the tree is only written inside called functions: numba 0.68 silently drops
    writes to a NamedTuple's arrays made directly in a ``prange`` body."""
    if status[b] == IDLE:
        return
    r = rows[b]
    v = value[r] if status[b] == NEED_EVAL else leaf_value[b]
    _expand_backup(tree, b, path_node[b], path_action[b], depth[b], status[b], v,
                   leaf_player[b], logp, r, mask[b])
    sims_done[b] += 1


@njit(cache=True, parallel=True)
def _expand_backup_parallel(tree, path_node, path_action, depth, status, leaf_value,
                            leaf_player, rows, logp, value, mask, sims_done) -> None:
    """:func:`_expand_backup_game` for every game, in parallel."""
    for i in prange(status.shape[0]):
        _expand_backup_game(tree, path_node, path_action, depth, status, leaf_value,
                            leaf_player, rows, logp, value, mask, sims_done, np.int64(i))


@njit(cache=True)
def _expand_backup_serial(tree, path_node, path_action, depth, status, leaf_value,
                          leaf_player, rows, logp, value, mask, sims_done) -> None:
    """:func:`_expand_backup_parallel` on one thread."""
    for i in range(status.shape[0]):
        _expand_backup_game(tree, path_node, path_action, depth, status, leaf_value,
                            leaf_player, rows, logp, value, mask, sims_done, np.int64(i))


@njit(cache=True)
def _observe(root: Boards, games: np.ndarray, obs: np.ndarray, mask: np.ndarray) -> None:
    """Planes [17, N*N] and legal mask of every root game for its player to move."""
    for i in range(games.shape[0]):
        g = games[i]
        K.planes(root, g, root.info[g, K.TO_PLAY], obs[i], False)
        mask[i, :] = root.legal[g]


# --------------------------------------------------------------------------- driver


def completed_q_sigma(visits: np.ndarray, w: np.ndarray, prior: np.ndarray,
                      raw_value: np.ndarray, legal: np.ndarray, c_visit: float,
                      c_scale: float) -> np.ndarray:
    """[B, A] float64 sigma(completed Q) at the root (module docstring), from N, W, P
    [B, A], V [B] and the legal mask [B, A]; zero on illegal actions."""
    visits = visits.astype(np.float64)
    q = w / np.maximum(visits, 1.0)
    seen = visits > 0
    total = visits.sum(1)
    p = np.maximum(prior, 1e-30)
    sum_p = np.where(seen, p, 0.0).sum(1)
    weighted = np.where(seen, p * q, 0.0).sum(1) / np.maximum(sum_p, 1e-30)
    v_mix = np.where(total > 0, (raw_value + total * weighted) / (total + 1), raw_value)
    completed = np.where(seen, q, v_mix[:, None])
    lo = np.where(legal, completed, np.inf).min(1, keepdims=True)
    hi = np.where(legal, completed, -np.inf).max(1, keepdims=True)
    lo = np.where(np.isfinite(lo), lo, 0.0)
    hi = np.where(np.isfinite(hi), hi, 0.0)
    scaled = (completed - lo) / np.maximum(hi - lo, 1e-8)
    sigma = (c_visit + visits.max(1, keepdims=True)) * c_scale * scaled
    return np.where(legal, sigma, 0.0)


def _new_tree(games: int, nodes: int, actions: int) -> Tree:
    return Tree(
        children=np.full((games, nodes, actions), UNEXPANDED, np.int32),
        N=np.zeros((games, nodes, actions), np.int32),
        W=np.zeros((games, nodes, actions), np.float32),
        P=np.zeros((games, nodes, actions), np.float32),
        value=np.zeros((games, nodes), np.float32),
        to_play=np.zeros((games, nodes), np.int8),
        terminal=np.zeros((games, nodes), np.bool_),
        num_nodes=np.ones(games, np.int32),
    )


def _root_prior(logp: np.ndarray, legal: np.ndarray, noise: np.ndarray, config: SearchConfig,
                rng: np.random.Generator | None) -> np.ndarray:
    """[B, A] root priors: softmax of ``logp``, Dirichlet noise mixed in the noisy rows
    of a PUCT search."""
    prior = np.where(legal, np.exp(logp), 0.0)
    rows = np.flatnonzero(noise)
    if config.gumbel or len(rows) == 0 or config.dirichlet_fraction == 0:
        return prior
    count = legal[rows].sum(1, keepdims=True)
    alpha = (config.dirichlet_alpha if config.dirichlet_alpha is not None
             else DIRICHLET_TOTAL / np.maximum(count, 1))
    g = rng.gamma(np.broadcast_to(alpha, (len(rows), legal.shape[1]))) * legal[rows]
    dirichlet = g / np.maximum(g.sum(1, keepdims=True), 1e-30)
    eps = config.dirichlet_fraction
    prior[rows] = (1 - eps) * prior[rows] + eps * dirichlet
    return prior


def run_search(engine: GoEngine, games: np.ndarray, evaluate: EvaluateFn,
               config: SearchConfig, simulations: int | np.ndarray,
               noise: bool | np.ndarray = False,
               rng: np.random.Generator | None = None,
               store_states: bool | None = None,
               workspace: Workspace | None = None) -> SearchOutput:
    """Search the positions ``engine``'s games ``games`` [B] (left unchanged).

    ``simulations``: the budget, one for all or [B] per game (>= 1); every simulation
    adds one visit at the root. ``noise`` (one or [B] bool): Dirichlet noise at a PUCT
    root, Gumbel noise at a Gumbel root; noisy games need ``rng``. Given the same
    inputs, ``rng`` state and model, the result does not depend on the batch or threads.
    ``store_states``: keep each node's position (fast) or replay paths from the root
    (small); None stores when it takes at most :data:`STATE_MEMORY` bytes. The result is
    the same either way. ``workspace``: reuse its boards (see :class:`Workspace`).
    """
    games = np.ascontiguousarray(games, dtype=np.int64)
    bsz, rules = len(games), engine.rules
    n, nn, actions = rules.board_size, rules.num_points, rules.num_actions
    budget = np.broadcast_to(np.asarray(simulations, np.int64), (bsz,)).copy()
    noise = np.broadcast_to(np.asarray(noise, np.bool_), (bsz,))
    if bsz and budget.min() < 1:
        raise ValueError(f"simulations must be >= 1, got {budget.min()}")
    if noise.any() and rng is None:
        raise ValueError("a noisy search needs an rng")
    if bsz and not (0 <= games.min() and games.max() < engine.num_games):
        raise ValueError(f"game indices must lie in 0..{engine.num_games - 1}")
    root_done = engine.done[games]
    budget[root_done] = 0
    max_budget = int(budget.max(initial=0))
    tree = _new_tree(bsz, max_budget + 1, actions)  # every simulation adds <= 1 node
    obs = np.zeros((bsz, NUM_PLANES, nn), np.uint8)
    mask = np.zeros((bsz, actions), np.bool_)
    logp_root = np.zeros((bsz, actions), np.float32)
    raw_value = np.zeros(bsz, np.float32)
    evals = 0
    if bsz:
        _observe(engine.state, games, obs, mask)
    live = np.flatnonzero(~root_done)
    if len(live):
        lp, v = evaluate(obs.reshape(bsz, NUM_PLANES, n, n)[live], mask[live])
        logp_root[live], raw_value[live] = lp, v
        evals += len(live)
    legal_root = mask.copy()
    tree.P[:, 0] = _root_prior(logp_root, legal_root, noise & ~root_done, config, rng)
    tree.value[:, 0] = raw_value
    tree.to_play[:, 0] = engine.to_play[games]

    gumbel = np.zeros((bsz, actions), np.float32)
    considered = np.zeros((bsz, max(max_budget, 1)), np.int32)
    if config.gumbel:
        noisy = np.flatnonzero(noise & ~root_done)
        if len(noisy):
            gumbel[noisy] = rng.gumbel(size=(len(noisy), actions))
        m = np.minimum(config.max_considered, legal_root.sum(1))
        for i in live:
            considered[i, : budget[i]] = considered_visits(int(m[i]), int(budget[i]))

    nodes = max_budget + 1
    slot_bytes = sum(a[0].nbytes for a in engine.state)
    stored = (store_states if store_states is not None
              else bsz * nodes * slot_bytes <= STATE_MEMORY)
    s = (workspace or Workspace()).boards(engine.state, bsz * nodes if stored else bsz)
    if stored:  # node 0 of game i is board i * nodes
        for mine, theirs in zip(s, engine.state, strict=True):
            mine[np.arange(bsz) * nodes] = theirs[games]
    sims_done = np.zeros(bsz, np.int64)
    path_node = np.zeros((bsz, nodes), np.int64)
    path_action = np.zeros((bsz, nodes), np.int64)
    depth = np.zeros(bsz, np.int64)
    rewards = np.zeros((bsz, 2), np.float32)
    status = np.full(bsz, IDLE, np.int8)
    leaf_value = np.zeros(bsz, np.float32)
    leaf_player = np.zeros(bsz, np.int8)
    rows = np.arange(bsz, dtype=np.int64)
    obs4 = obs.reshape(bsz, NUM_PLANES, n, n)
    c = config
    parallel = bsz >= SERIAL_BELOW
    select = _select_parallel if parallel else _select_serial
    expand_backup = _expand_backup_parallel if parallel else _expand_backup_serial
    for _ in range(max_budget):
        select(engine.state, games, s, stored, nodes, engine.geo, tree, sims_done, budget,
               c.gumbel, logp_root, gumbel, considered, c.c_puct, c.fpu_reduction, c.c_visit,
               c.c_scale, path_node, path_action, depth, rewards, status, leaf_value,
               leaf_player, obs, mask)
        need = status == NEED_EVAL
        count = int(need.sum())
        if count == bsz:
            lp, v = evaluate(obs4, mask)
        elif count:
            idx = np.flatnonzero(need)
            rows[idx] = np.arange(count)
            lp, v = evaluate(obs4[idx], mask[idx])
        else:
            lp, v = np.zeros((0, actions), np.float32), np.zeros(0, np.float32)
        evals += count
        expand_backup(tree, path_node, path_action, depth, status, leaf_value,
                             leaf_player, rows,
                             np.ascontiguousarray(lp, np.float32),
                             np.ascontiguousarray(v, np.float32), mask, sims_done)
        if count not in (0, bsz):
            rows[:] = np.arange(bsz)
    return _summarise(tree, legal_root, logp_root, raw_value, gumbel, root_done, config,
                      evals)


def _summarise(tree: Tree, legal: np.ndarray, logp: np.ndarray, raw_value: np.ndarray,
               gumbel: np.ndarray, root_done: np.ndarray, config: SearchConfig,
               evals: int) -> SearchOutput:
    visits = tree.N[:, 0].copy()
    w = tree.W[:, 0].astype(np.float64)
    total = visits.sum(1)
    q = (w / np.maximum(visits, 1)).astype(np.float32)
    value = ((raw_value + w.sum(1)) / (1 + total)).astype(np.float32)
    if config.gumbel:
        sigma = completed_q_sigma(visits, w, tree.P[:, 0], raw_value, legal, config.c_visit,
                                  config.c_scale)
        z = np.where(legal, logp + sigma, -np.inf)
        z = z - np.where(root_done, 0.0, z.max(1))[:, None]
        weights = np.where(legal, np.exp(z), 0.0)
        weights /= np.maximum(weights.sum(1, keepdims=True), 1e-30)
        most = visits == visits.max(1, keepdims=True)
        score = np.where(legal & most, gumbel + logp + sigma, -np.inf)
        action = score.argmax(1)
    else:
        weights = visits / np.maximum(total, 1)[:, None]
        key = visits + 0.25 * (q + 1.0)  # Q in [0, 0.5] only breaks ties between counts
        action = np.where(legal, key, -1.0).argmax(1)
    action = np.where(root_done, -1, action).astype(np.int64)
    return SearchOutput(action=action, action_weights=weights.astype(np.float32),
                        visit_counts=visits, q_values=q, prior_logp=logp, raw_value=raw_value,
                        value=value, nn_evals=evals, tree=tree)
