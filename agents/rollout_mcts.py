"""Fixed opponent: pure Monte-Carlo tree search with random rollouts (UCT), compiled.

No network: each of the ``playouts`` simulations per move descends the tree by UCB1,
expands one new node, plays a random game to the end and backs up its Tromp-Taylor result
(Kocsis & Szepesvari 2006; Gelly et al. 2006, MoGo). The move played is the root's most
visited action. All games of a batch are searched in ONE compiled call, in parallel over
games (``numba.prange``); each game has its own tree, scratch board and random stream.

Notation (AlphaGo's, minus the prior P, which pure UCT does not have). For an edge
(s, a), the action a taken at node s:

* ``N(s, a)``: visit count; ``N(s) = sum_a N(s, a)``.
* ``W(s, a)``: total value of the playouts through the edge.
* ``Q(s, a) = W(s, a) / N(s, a)``: mean value, in [-1, 1].
* ``U(s, a) = c_uct * sqrt(ln N(s) / N(s, a))``: the UCB1 exploration bonus.

Selection takes ``argmax_a Q(s, a) + U(s, a)`` over the legal actions (pass included);
an edge not yet visited is taken first (its U is infinite), drawn uniformly among those.

Sign convention for alternating players, stated once here: **Q(s, a) and W(s, a) are
from the point of view of the player to move at s, who chooses a** (= the player who made
the move into the child node). A playout's result z is +1 / -1 / 0 for a Black win / loss
/ draw (Tromp-Taylor, komi included); each edge on the path adds ``+z`` to W if Black
moved there and ``-z`` if White did. Hence every node maximises its own ``Q + U`` and no
negation appears in selection, and the root's Q is the value for the side to move.

The tree is arrays indexed by node id (node 0 is the root), with an edge's statistics
held in its parent's row, as in mctx and minigo: ``N[node, a]``, ``W[node, a]``,
``children[node, a]``. Each playout adds at most one node, so ``playouts + 1`` rows
suffice.

Rollout policy: uniform over the legal points (positional superko included), never a
pass while a point is allowed, except that HACK: a player never fills its own eye-like
point (all orthogonal neighbours its own stones, and fewer than two diagonal neighbours
the opponent's, none on the edge: the common false-eye test of light Monte-Carlo
playouts). Without it random games fill their own eyes, every group eventually dies and
the final score says little about the position. The rule is wrong in some positions (it
keeps some false eyes, and it never plays a needed move in an eye-shaped point, e.g.
in some sekis); the tree itself considers every legal move. A player with no allowed
point passes; two consecutive passes or the move cap end the rollout, as in a real game.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rlgo.envs import GoEngine, Rules
from rlgo.envs import kernels as K
from rlgo.envs.kernels import BLACK, BOARD, EMPTY, Boards, Geometry
from rlgo.protocols import Decision, Positions

__all__ = ["C_UCT", "RolloutMCTSPlayer", "Tree", "most_visited", "rollout_search"]

C_UCT = 1.0
"""Default exploration constant c_uct, for values in [-1, 1]. UCB1's textbook
``sqrt(2)`` is for rewards in [0, 1] and reads ``2 * sqrt(2)`` on this scale; Go programs
found less exploration better (MoGo). Measured here, rollout:200 on 9x9 over 20 games
with alternating colours, c_uct 1.0 beat 2.83 by 18-2 and scored 9-11 against 0.5
(level within noise)."""

UNEXPANDED = -1
"""``Tree.children`` entry of an edge that has no node yet."""


class Tree(NamedTuple):
    """Search trees of B games, M = playouts + 1 nodes each, A = N*N + 1 actions.
    Node 0 is the root; an edge's statistics live in its parent's row."""

    children: np.ndarray
    """[B, M, A] int32: node id reached by action a from the node, UNEXPANDED if none."""
    N: np.ndarray
    """[B, M, A] int32: visit count N(s, a) of each edge."""
    W: np.ndarray
    """[B, M, A] float32: total value W(s, a), for the player to move at s."""
    to_play: np.ndarray
    """[B, M] int8: colour to move at each node (BLACK 1, WHITE 2)."""
    num_nodes: np.ndarray
    """[B] int32: nodes in use; rows from num_nodes on are unused."""

    @property
    def Q(self) -> np.ndarray:
        """[B, M, A] float32: mean value W / N for the player to move (0 where N = 0)."""
        return self.W / np.maximum(self.N, 1).astype(np.float32)

    @property
    def root_visits(self) -> np.ndarray:
        """[B, A] int32: N(root, a), the visit counts of the root's actions."""
        return self.N[:, 0]


# --------------------------------------------------------------------------- randomness


@njit(cache=True, inline="always")
def _uniform(rng: np.ndarray) -> float:
    """A float in [0, 1) from the xorshift64* stream whose state is ``rng[0]``."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    return float((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)) * (1.0 / 2.0**53)


@njit(cache=True)
def _splitmix64(seed: np.uint64) -> np.uint64:
    """A well-mixed non-zero xorshift state from any seed (nearby seeds, distant streams)."""
    z = seed + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z if z != 0 else np.uint64(1)


# --------------------------------------------------------------------------- rollouts


@njit(cache=True, inline="always")
def _own_eye(board: np.ndarray, nbr: np.ndarray, diag: np.ndarray, p: int, c: int) -> bool:
    """HACK (see the module docstring): p is an eye-like point of colour c."""
    for k in range(4):
        q = nbr[p, k]
        if q < 0:
            break
        if board[q] != c:
            return False
    opp = 3 - c
    corners = 0
    bad = 0
    for k in range(4):
        d = diag[p, k]
        if d < 0:
            break
        corners += 1
        bad += board[d] == opp
    return bad < (2 if corners == 4 else 1)


@njit(cache=True)
def _rollout(s: Boards, b: int, geo: Geometry, diag: np.ndarray, cand: np.ndarray,
             rng: np.ndarray) -> None:
    """Play board b of ``s`` to the end with the rollout policy. Only the stones, hashes
    and superko set are kept up to date (``info`` and ``legal`` go stale)."""
    nn = geo.size * geo.size
    ch = s.chains[b]
    gh = s.ghash[b]
    tab = s.htab[b]
    board = ch[BOARD]
    c = s.info[b, K.TO_PLAY]
    passes = s.info[b, K.PASSES]
    moves = s.info[b, K.MOVES]
    while passes < 2 and moves < geo.max_moves:
        m = 0
        for p in range(nn):
            if board[p] == EMPTY:
                cand[m] = p
                m += 1
        h0 = s.hash[b]
        move = -1
        while m > 0:  # draw without replacement until an allowed point turns up
            j = min(int(_uniform(rng) * m), m - 1)
            p = cand[j]
            if not _own_eye(board, geo.nbr, diag, p, c) and K.legal_point(ch, gh, tab, geo,
                                                                        h0, p, c):
                move = p
                break
            m -= 1
            cand[j] = cand[m]
        if move >= 0:
            K.place(s, b, move, c, geo)
            if geo.superko:
                K.remember(tab, s.hash[b])
            passes = 0
        else:
            passes += 1
        moves += 1
        c = 3 - c


# --------------------------------------------------------------------------- search


@njit(cache=True)
def _select(n_row: np.ndarray, w_row: np.ndarray, legal: np.ndarray, c_uct: float,
            rng: np.ndarray) -> int:
    """UCB1 at one node: an unvisited legal action drawn uniformly if any, else
    argmax_a Q(s, a) + U(s, a) (first maximum)."""
    unvisited = 0
    n_s = 0
    for a in range(legal.shape[0]):
        if legal[a]:
            n_s += n_row[a]
            unvisited += n_row[a] == 0
    if unvisited > 0:
        k = min(int(_uniform(rng) * unvisited), unvisited - 1)
        for a in range(legal.shape[0]):
            if legal[a] and n_row[a] == 0:
                if k == 0:
                    return a
                k -= 1
    log_n = np.log(n_s)
    best = -1
    best_score = -np.inf
    for a in range(legal.shape[0]):
        if legal[a]:
            score = w_row[a] / n_row[a] + c_uct * np.sqrt(log_n / n_row[a])
            if score > best_score:
                best_score = score
                best = a
    return best


@njit(cache=True)
def _search_one(root: Boards, g: int, s: Boards, b: int, geo: Geometry, diag: np.ndarray,
                playouts: int, c_uct: float, seed: np.uint64, children: np.ndarray,
                n_tab: np.ndarray, w_tab: np.ndarray, to_play: np.ndarray) -> int:
    """``playouts`` simulations from game g of ``root`` using scratch slot b of ``s``,
    filling one game's tree rows. Returns the number of nodes."""
    nn = geo.size * geo.size
    rng = np.empty(1, np.uint64)
    rng[0] = _splitmix64(seed)
    rewards = np.zeros(2, np.float32)
    cand = np.empty(nn, np.int64)
    path_node = np.empty(geo.max_moves + 1, np.int64)
    path_action = np.empty(geo.max_moves + 1, np.int64)
    to_play[0] = root.info[g, K.TO_PLAY]
    num_nodes = 1
    if root.info[g, K.DONE]:
        return num_nodes
    for _ in range(playouts):
        K.copy_game(root, g, s, b)
        node = 0
        depth = 0
        while True:  # selection, then expansion of one node
            a = _select(n_tab[node], w_tab[node], s.legal[b], c_uct, rng)
            path_node[depth] = node
            path_action[depth] = a
            depth += 1
            K.play_checked(s, b, a, geo, rewards)
            child = children[node, a]
            if child == UNEXPANDED:
                child = num_nodes
                num_nodes += 1
                children[node, a] = child
                to_play[child] = s.info[b, K.TO_PLAY]
                break
            node = child
            if s.info[b, K.DONE]:
                break
        if not s.info[b, K.DONE]:
            _rollout(s, b, geo, diag, cand, rng)
        score = K.score(s, b, geo)
        z = 1.0 if score > 0 else (-1.0 if score < 0 else 0.0)  # for Black
        for d in range(depth):  # backup, each edge for the player who moved there
            node = path_node[d]
            a = path_action[d]
            n_tab[node, a] += 1
            w_tab[node, a] += z if to_play[node] == BLACK else -z
    return num_nodes


@njit(cache=True, parallel=True)
def _search_batch(root: Boards, games: np.ndarray, geo: Geometry, diag: np.ndarray,
                  playouts: int, c_uct: float, seeds: np.ndarray, scratch: Boards,
                  children: np.ndarray, n_tab: np.ndarray, w_tab: np.ndarray,
                  to_play: np.ndarray, num_nodes: np.ndarray) -> None:
    for i in prange(games.shape[0]):
        b = np.int64(i)  # prange may type i as uint64: one signature for _search_one
        num_nodes[b] = _search_one(root, games[b], scratch, b, geo, diag, playouts, c_uct,
                                   seeds[b], children[b], n_tab[b], w_tab[b], to_play[b])


@cache
def _diagonals(n: int) -> np.ndarray:
    """[N*N, 4] int32: diagonal neighbours of each point, padded with -1 at the end."""
    diag = np.full((n * n, 4), -1, np.int32)
    for r in range(n):
        for c in range(n):
            ks = [(r + dr, c + dc) for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1))]
            ks = [rr * n + cc for rr, cc in ks if 0 <= rr < n and 0 <= cc < n]
            diag[r * n + c, : len(ks)] = ks
    diag.setflags(write=False)
    return diag


def rollout_search(engine: GoEngine, games: np.ndarray, playouts: int, seeds: np.ndarray,
                   c_uct: float = C_UCT) -> Tree:
    """Run ``playouts`` UCT simulations from each of ``engine``'s games ``games`` [B]
    (left unchanged), game i with the random stream ``seeds[i]`` [B] (uint64). The
    result depends only on the positions, ``playouts``, ``seeds`` and ``c_uct``, not on
    the batch or the threads. A finished game gets an empty tree.

    Memory: the tree takes 12 bytes per (node, action), ``B * (playouts + 1) * (N*N + 1)``
    entries: 2 MB for 8 games of rollout:200 on 9x9, 43 MB per game of rollout:10000 on
    19x19."""
    if playouts < 1:
        raise ValueError(f"playouts must be >= 1, got {playouts}")
    games = np.ascontiguousarray(games, dtype=np.int64)
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    if seeds.shape != games.shape or games.ndim != 1:
        raise ValueError("games and seeds must be 1-D arrays of the same length")
    if len(games) and not (0 <= games.min() and games.max() < engine.num_games):
        raise ValueError(f"game indices must lie in 0..{engine.num_games - 1}")
    rules = engine.rules
    bsz, nodes, actions = len(games), playouts + 1, rules.num_actions
    tree = Tree(
        children=np.full((bsz, nodes, actions), UNEXPANDED, np.int32),
        N=np.zeros((bsz, nodes, actions), np.int32),
        W=np.zeros((bsz, nodes, actions), np.float32),
        to_play=np.zeros((bsz, nodes), np.int8),
        num_nodes=np.zeros(bsz, np.int32),
    )
    if bsz == 0:
        return tree
    scratch = GoEngine(bsz, rules).state
    _search_batch(engine.state, games, engine.geo, _diagonals(rules.board_size), playouts,
                  float(c_uct), seeds, scratch, tree.children, tree.N, tree.W, tree.to_play,
                  tree.num_nodes)
    return tree


def most_visited(tree: Tree) -> np.ndarray:
    """[B] int64: the root action with the most visits (ties: higher Q, then lower id);
    -1 for a game without visits (finished)."""
    visits = tree.root_visits.astype(np.float64)
    q = tree.W[:, 0] / np.maximum(visits, 1.0)
    key = visits + 0.25 * (q + 1.0)  # in [0, 0.5]: Q only breaks ties
    best = np.argmax(key, axis=1)
    return np.where(visits.max(axis=1) > 0, best, -1).astype(np.int64)


class RolloutMCTSPlayer:
    """UCT with random rollouts, ``playouts`` simulations per move: a fixed opponent
    whose strength is set by its budget. Seeded: the same seed and the same sequence of
    ``act`` calls give the same moves."""

    def __init__(self, playouts: int, rules: Rules, seed: int = 0, c_uct: float = C_UCT):
        if playouts < 1:
            raise ValueError(f"playouts must be >= 1, got {playouts}")
        self.playouts = int(playouts)
        self.rules = rules
        self.c_uct = float(c_uct)
        self.name = f"rollout:{self.playouts}"
        self._rng = np.random.default_rng(seed)

    def search(self, positions: Positions) -> Tree:
        """The trees behind :meth:`act`'s choices (advances the player's random stream)."""
        if positions.engine.rules != self.rules:
            raise ValueError(f"{self.name} was built for {self.rules}, "
                             f"got positions under {positions.engine.rules}")
        seeds = self._rng.integers(0, 2**63, size=len(positions.games), dtype=np.uint64)
        return rollout_search(positions.engine, positions.games, self.playouts, seeds,
                              self.c_uct)

    def act(self, positions: Positions) -> Decision:
        """The most visited root action of each position (-1 for a finished game)."""
        return Decision(actions=most_visited(self.search(positions)), nn_evals=0)
