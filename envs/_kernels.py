"""Compiled Go rules: the hot loop of every self-play game.

Everything here is a numba function over plain arrays; the Python side (``engine.py``)
owns the arrays and calls these kernels. A batch of ``B`` boards of one size lives in a
:class:`Boards` record whose arrays all have a leading batch axis. Points are flat,
row-major indices ``p = row * N + col``; action ``N * N`` is pass (PettingZoo's ids).

Colours: ``EMPTY = 0``, ``BLACK = 1``, ``WHITE = 2``; ``3 - c`` is the opponent of ``c``.

Chains (groups) are kept incrementally, so a move costs O(stones touched):

* ``chains[b, HEAD, p]`` names the chain of the stone at ``p`` (its head point);
  ``chains[b, NEXT, p]`` links the chain's stones in a cycle.
* Per chain, indexed by its head, we keep *pseudo-liberties*: ``LIBS`` counts
  (stone, empty neighbour) pairs, ``LSUM`` and ``LSQ`` the sum and the sum of squares of
  those empty points. A chain is captured when ``LIBS == 0``, and it is in atari (exactly
  one distinct liberty) iff ``LIBS * LSQ == LSUM ** 2`` (all its pseudo-liberties are the
  same point). This is the classic trick of fast playout engines; it makes legality O(1)
  per point.
* ``ghash`` is the xor of the chain's Zobrist keys, so testing a capturing move updates
  the position hash in O(1).

Positional superko: every position (stones only, not the side to move) reached in the game
is kept in a per-board open-addressing hash set ``htab``; a move whose resulting position
is in the set is illegal and masked out. A 64-bit Zobrist collision could wrongly forbid a
move; the chance is about 1e-15 per game.

Search code (rollouts, tree search) uses these kernels through :mod:`rlgo.envs.kernels`,
their public face. Editing this file needs no cleanup: numba's on-disk cache of every
rlgo function, in whatever file, is stamped with this file's content
(:mod:`rlgo.envs._numba_cache`), so an edit recompiles the callers too.

Performance note: numba reference-counts every array passed to a compiled call, an atomic
operation per array. The state is therefore packed into a few arrays, and the per-point
legality test is written inline in :func:`_fill_legal` rather than called 81..361 times.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from rlgo.envs._numba_cache import install_cache_locator

install_cache_locator()  # before the first @njit(cache=True) below

EMPTY, BLACK, WHITE = 0, 1, 2
HISTORY = 8  # board planes per player in the observation (AlphaGo Zero's T = 8)
NUM_PLANES = 2 * HISTORY + 1

# Rows of ``Boards.chains`` (per point, or per chain head for LIBS..SIZE).
BOARD, HEAD, NEXT, LIBS, LSUM, LSQ, SIZE = range(7)
NUM_CHAIN_ROWS = 7
# Columns of ``Boards.info``.
TO_PLAY, PASSES, MOVES, DONE, REASON, LAST_MOVE = range(6)
NUM_INFO = 6
# Why a game ended (``info[b, REASON]``).
ONGOING, TWO_PASSES, MOVE_CAP = 0, 1, 2
# Status codes of a refused move.
OK, GAME_OVER, OUT_OF_RANGE, ILLEGAL = 0, 1, 2, 3


class Geometry(NamedTuple):
    """Constants of one board size and rule set, shared by all boards of a batch."""

    size: int
    """N, the board is N x N."""
    nbr: np.ndarray
    """[N*N, 4] int32: orthogonal neighbours of each point, padded with -1 at the end."""
    zob: np.ndarray
    """[N*N, 3] uint64: Zobrist key of (point, colour); column 0 is zero."""
    empty_hash: np.uint64
    """Hash of the empty board (non-zero: 0 marks a free slot of the hash set)."""
    komi: float
    """Points added to White's area score."""
    max_moves: int
    """The game ends after this many moves (passes included)."""
    superko: bool
    """Whether positional superko is enforced."""


class Boards(NamedTuple):
    """State of B games of one size. Every array's first axis is the game index b."""

    chains: np.ndarray
    """[B, 7, N*N] int32: rows BOARD (EMPTY/BLACK/WHITE), HEAD (-1 on empty points), NEXT,
    and per chain head LIBS, LSUM, LSQ (pseudo-liberty count, sum, sum of squares), SIZE."""
    ghash: np.ndarray
    """[B, N*N] uint64: per chain head, xor of the Zobrist keys of its stones."""
    hash: np.ndarray
    """[B] uint64: Zobrist hash of the current position (stones only)."""
    htab: np.ndarray
    """[B, T] uint64: hash set of the positions seen in the game; 0 is a free slot."""
    info: np.ndarray
    """[B, 6] int32: TO_PLAY, PASSES (consecutive), MOVES (passes included), DONE (0/1),
    REASON (ONGOING, TWO_PASSES or MOVE_CAP), LAST_MOVE (-1 before the first move)."""
    hist: np.ndarray
    """[B, HISTORY, N*N] int8: ring buffer of boards; slot ``MOVES % HISTORY`` is the
    current one."""
    legal: np.ndarray
    """[B, N*N+1] bool: legal actions of the player to move; all False once over."""
    record: np.ndarray
    """[B, max_moves] int16: the actions played, ``record[b, :MOVES]`` (for SGF, GTP)."""


# --------------------------------------------------------------------------- hash set


@njit(cache=True, inline="always")
def slot(h: np.uint64, mask: int) -> int:
    return np.int64((h >> np.uint64(17)) & np.uint64(mask))


@njit(cache=True)
def remember(tab: np.ndarray, h: np.uint64) -> None:
    mask = tab.shape[0] - 1
    i = slot(h, mask)
    while tab[i] != 0:
        if tab[i] == h:
            return
        i = (i + 1) & mask
    tab[i] = h


# --------------------------------------------------------------------------- chains


@njit(cache=True)
def _merge(ch: np.ndarray, gh: np.ndarray, g1: int, g2: int) -> None:
    """Merge chains g1 and g2 of one board (``ch`` = chains[b], ``gh`` = ghash[b])."""
    if ch[SIZE, g1] < ch[SIZE, g2]:
        g1, g2 = g2, g1
    q = g2
    while True:  # relabel the smaller chain
        ch[HEAD, q] = g1
        q = ch[NEXT, q]
        if q == g2:
            break
    t = ch[NEXT, g1]  # splice the two cycles
    ch[NEXT, g1] = ch[NEXT, g2]
    ch[NEXT, g2] = t
    for row in (LIBS, LSUM, LSQ, SIZE):
        ch[row, g1] += ch[row, g2]
    gh[g1] ^= gh[g2]


@njit(cache=True)
def _capture(ch: np.ndarray, nbr: np.ndarray, g: int) -> None:
    """Remove chain g from one board; its points become liberties of the chains around."""
    friend = 3 - ch[BOARD, g]
    q = g
    while True:
        ch[BOARD, q] = EMPTY
        ch[HEAD, q] = -1
        for k in range(4):
            t = nbr[q, k]
            if t < 0:
                break
            if ch[BOARD, t] == friend:  # the only chains that touch a captured one
                h = ch[HEAD, t]
                ch[LIBS, h] += 1
                ch[LSUM, h] += q
                ch[LSQ, h] += q * q
        q2 = ch[NEXT, q]
        ch[NEXT, q] = q
        q = q2
        if q == g:
            break


@njit(cache=True)
def place(s: Boards, b: int, p: int, c: int, geo: Geometry) -> None:
    """Put a stone of colour c on the empty point p of board b (assumed legal)."""
    ch = s.chains[b]
    gh = s.ghash[b]
    nbr = geo.nbr
    ch[BOARD, p] = c
    ch[HEAD, p] = p
    ch[NEXT, p] = p
    ch[LIBS, p] = 0
    ch[LSUM, p] = 0
    ch[LSQ, p] = 0
    ch[SIZE, p] = 1
    gh[p] = geo.zob[p, c]
    s.hash[b] ^= geo.zob[p, c]
    # Phase 1, on the board before captures: own liberties, the liberty p that the
    # neighbours lose, merges with friendly chains.
    for k in range(4):
        q = nbr[p, k]
        if q < 0:
            break
        v = ch[BOARD, q]
        if v == EMPTY:
            g = ch[HEAD, p]
            ch[LIBS, g] += 1
            ch[LSUM, g] += q
            ch[LSQ, g] += q * q
        else:
            g = ch[HEAD, q]
            ch[LIBS, g] -= 1
            ch[LSUM, g] -= p
            ch[LSQ, g] -= p * p
            if v == c and g != ch[HEAD, p]:
                _merge(ch, gh, g, ch[HEAD, p])
    # Phase 2: opponent chains left without liberties are captured, each once (after
    # its removal its other stones next to p read EMPTY).
    opp = 3 - c
    for k in range(4):
        q = nbr[p, k]
        if q < 0:
            break
        if ch[BOARD, q] == opp and ch[LIBS, ch[HEAD, q]] == 0:
            g = ch[HEAD, q]
            s.hash[b] ^= gh[g]
            _capture(ch, nbr, g)


@njit(cache=True)
def _fill_legal(s: Boards, b: int, geo: Geometry) -> None:  # noqa: C901 (inlined hot loop)
    """Recompute legal[b] for the player to move: empty, not suicide, not superko."""
    nn = geo.size * geo.size
    legal = s.legal[b]
    if s.info[b, DONE]:
        legal[:] = False
        return
    ch = s.chains[b]
    gh = s.ghash[b]
    tab = s.htab[b]
    tmask = tab.shape[0] - 1
    nbr = geo.nbr
    c = s.info[b, TO_PLAY]
    h0 = s.hash[b]
    for p in range(nn):
        if ch[BOARD, p] != EMPTY:
            legal[p] = False
            continue
        h = h0 ^ geo.zob[p, c]
        breathes = False
        g0 = -1
        g1 = -1
        g2 = -1
        for k in range(4):
            q = nbr[p, k]
            if q < 0:
                break
            v = ch[BOARD, q]
            if v == EMPTY:
                breathes = True
                continue
            g = ch[HEAD, q]
            lib = np.int64(ch[LIBS, g])
            ls = np.int64(ch[LSUM, g])
            atari = lib * ch[LSQ, g] == ls * ls  # p is its only liberty
            if v == c:
                if not atari:
                    breathes = True
            elif atari:  # playing p captures chain g
                breathes = True
                if g != g0 and g != g1 and g != g2:
                    h ^= gh[g]
                    if g0 < 0:
                        g0 = g
                    elif g1 < 0:
                        g1 = g
                    else:
                        g2 = g
        if breathes and geo.superko:  # is the resulting position in the hash set?
            i = slot(h, tmask)
            while tab[i] != 0:
                if tab[i] == h:
                    breathes = False
                    break
                i = (i + 1) & tmask
        legal[p] = breathes
    legal[nn] = True


@njit(cache=True, inline="always")
def legal_point(ch: np.ndarray, gh: np.ndarray, tab: np.ndarray, geo: Geometry, h0: np.uint64,
                 p: int, c: int) -> bool:
    """Whether colour c may play the empty point p of one board (``ch`` = chains[b],
    ``gh`` = ghash[b], ``tab`` = htab[b], ``h0`` = hash[b]): not suicide and, under
    superko, no repeated position. For code that tests a few points (rollouts);
    :func:`_fill_legal` inlines the same test by hand, being called per move over every
    point (see the performance note), and a test checks that the two agree."""
    nbr = geo.nbr
    h = h0 ^ geo.zob[p, c]
    breathes = False
    g0 = -1
    g1 = -1
    g2 = -1
    for k in range(4):
        q = nbr[p, k]
        if q < 0:
            break
        v = ch[BOARD, q]
        if v == EMPTY:
            breathes = True
            continue
        g = ch[HEAD, q]
        lib = np.int64(ch[LIBS, g])
        ls = np.int64(ch[LSUM, g])
        atari = lib * ch[LSQ, g] == ls * ls
        if v == c:
            if not atari:
                breathes = True
        elif atari:
            breathes = True
            if g != g0 and g != g1 and g != g2:
                h ^= gh[g]
                if g0 < 0:
                    g0 = g
                elif g1 < 0:
                    g1 = g
                else:
                    g2 = g
    if breathes and geo.superko:
        mask = tab.shape[0] - 1
        i = slot(h, mask)
        while tab[i] != 0:
            if tab[i] == h:
                return False
            i = (i + 1) & mask
    return breathes


@njit(cache=True)
def copy_game(src: Boards, g: int, dst: Boards, b: int) -> None:
    """``dst[b] = src[g]``, every field: tree search copies a root into a scratch slot."""
    dst.chains[b, :, :] = src.chains[g]
    dst.ghash[b, :] = src.ghash[g]
    dst.hash[b] = src.hash[g]
    dst.htab[b, :] = src.htab[g]
    dst.info[b, :] = src.info[g]
    dst.hist[b, :, :] = src.hist[g]
    dst.legal[b, :] = src.legal[g]
    dst.record[b, :] = src.record[g]


# --------------------------------------------------------------------------- scoring


@njit(cache=True)
def area_owner(board: np.ndarray, nbr: np.ndarray, out: np.ndarray) -> None:
    """Tromp-Taylor owner of every point of one [N*N] board into ``out`` [N*N]: BLACK or
    WHITE for a stone and for an empty point whose region reaches only that colour,
    EMPTY for an empty point whose region reaches both colours or none."""
    nn = board.shape[0]
    region = np.full(nn, -1, np.int32)
    stack = np.empty(nn, np.int32)
    members = np.empty(nn, np.int32)
    for p in range(nn):
        out[p] = board[p]
    for start in range(nn):
        if board[start] != EMPTY or region[start] >= 0:
            continue
        region[start] = start
        stack[0] = start
        top = 1
        size = 0
        touches = 0  # bit 1: reaches black, bit 2: reaches white
        while top > 0:
            top -= 1
            q = stack[top]
            members[size] = q
            size += 1
            for k in range(4):
                t = nbr[q, k]
                if t < 0:
                    break
                v = board[t]
                if v == EMPTY:
                    if region[t] < 0:
                        region[t] = start
                        stack[top] = t
                        top += 1
                else:
                    touches |= v
        owner = touches if touches == BLACK or touches == WHITE else EMPTY
        for i in range(size):
            out[members[i]] = owner


@njit(cache=True)
def area_score(board: np.ndarray, nbr: np.ndarray) -> tuple[int, int]:
    """Tromp-Taylor area of (Black, White) on one [N*N] board: each colour's stones plus
    the empty regions that reach only that colour."""
    owner = np.empty(board.shape[0], np.int8)
    area_owner(board, nbr, owner)
    black = 0
    white = 0
    for p in range(board.shape[0]):
        if owner[p] == BLACK:
            black += 1
        elif owner[p] == WHITE:
            white += 1
    return black, white


@njit(cache=True)
def score(s: Boards, b: int, geo: Geometry) -> float:
    black, white = area_score(s.chains[b, BOARD], geo.nbr)
    return black - white - geo.komi


@njit(cache=True)
def owners(s: Boards, geo: Geometry) -> np.ndarray:
    """[B, N*N] int8 Tromp-Taylor owner of every point (see :func:`area_owner`)."""
    out = np.empty((s.hash.shape[0], geo.size * geo.size), np.int8)
    for b in range(out.shape[0]):
        area_owner(s.chains[b, BOARD], geo.nbr, out[b])
    return out


@njit(cache=True)
def scores(s: Boards, geo: Geometry) -> np.ndarray:
    """[B] float64 Tromp-Taylor score, Black minus White, komi included."""
    out = np.empty(s.hash.shape[0], np.float64)
    for b in range(out.shape[0]):
        out[b] = score(s, b, geo)
    return out


# --------------------------------------------------------------------------- moves


@njit(cache=True)
def _reset_one(s: Boards, b: int, geo: Geometry) -> None:
    ch = s.chains[b]
    ch[:, :] = 0
    ch[BOARD, :] = EMPTY
    ch[HEAD, :] = -1
    ch[NEXT, :] = -1
    s.ghash[b, :] = 0
    s.hash[b] = geo.empty_hash
    s.htab[b, :] = 0
    remember(s.htab[b], geo.empty_hash)
    s.info[b, :] = 0
    s.info[b, TO_PLAY] = BLACK
    s.info[b, LAST_MOVE] = -1
    s.hist[b, :, :] = EMPTY
    _fill_legal(s, b, geo)


@njit(cache=True)
def play_checked(s: Boards, b: int, a: int, geo: Geometry, rewards: np.ndarray) -> int:
    """Play action a on board b if it is legal; returns OK or why it was refused (the
    board is then untouched). ``rewards`` [2] receives the (Black, White) rewards."""
    rewards[0] = 0.0
    rewards[1] = 0.0
    info = s.info[b]
    if info[DONE]:
        return GAME_OVER
    nn = geo.size * geo.size
    if a < 0 or a > nn:
        return OUT_OF_RANGE
    if not s.legal[b, a]:
        return ILLEGAL
    c = info[TO_PLAY]
    if a == nn:
        info[PASSES] += 1
    else:
        place(s, b, a, c, geo)
        info[PASSES] = 0
        if geo.superko:
            remember(s.htab[b], s.hash[b])
    s.record[b, info[MOVES]] = a
    info[MOVES] += 1
    info[LAST_MOVE] = a
    info[TO_PLAY] = 3 - c
    s.hist[b, info[MOVES] % HISTORY, :] = s.chains[b, BOARD, :]
    if info[PASSES] >= 2:
        info[REASON] = TWO_PASSES
    elif info[MOVES] >= geo.max_moves:
        info[REASON] = MOVE_CAP
    if info[REASON] != ONGOING:
        info[DONE] = 1
        final = score(s, b, geo)
        if final != 0:
            rewards[0] = 1.0 if final > 0 else -1.0
            rewards[1] = -rewards[0]
    _fill_legal(s, b, geo)
    return OK


@njit(cache=True, parallel=True)
def play_batch(s: Boards, actions: np.ndarray, geo: Geometry, rewards: np.ndarray,
               status: np.ndarray) -> None:
    """Step every board b with ``actions[b]``; ``actions[b] < 0`` leaves board b alone.

    ``rewards`` [B, 2] receives the (Black, White) rewards, ``status`` [B] OK or the reason
    a move was refused (GAME_OVER, OUT_OF_RANGE, ILLEGAL); refused boards are untouched.
    """
    for b in prange(actions.shape[0]):
        if actions[b] < 0:
            rewards[b, 0] = 0.0
            rewards[b, 1] = 0.0
            status[b] = OK
        else:
            status[b] = play_checked(s, b, actions[b], geo, rewards[b])


@njit(cache=True)
def play_one(s: Boards, b: int, a: int, geo: Geometry, rewards: np.ndarray) -> int:
    """Single-board step without the thread-pool overhead (the AEC env's path)."""
    return play_checked(s, b, a, geo, rewards)


@njit(cache=True)
def play_serial(s: Boards, actions: np.ndarray, geo: Geometry, rewards: np.ndarray,
                status: np.ndarray) -> None:
    """:func:`play_batch` on one thread: waking the thread pool costs more than a few
    boards' moves."""
    for b in range(actions.shape[0]):
        if actions[b] < 0:
            rewards[b, 0] = 0.0
            rewards[b, 1] = 0.0
            status[b] = OK
        else:
            status[b] = play_checked(s, b, actions[b], geo, rewards[b])


@njit(cache=True)
def reset_serial(s: Boards, which: np.ndarray, geo: Geometry) -> None:
    """:func:`reset_batch` on one thread."""
    for b in range(which.shape[0]):
        if which[b]:
            _reset_one(s, b, geo)


@njit(cache=True, parallel=True)
def reset_batch(s: Boards, which: np.ndarray, geo: Geometry) -> None:
    """Reset the boards where ``which[b]`` is True: empty board, Black to move."""
    for b in prange(which.shape[0]):
        if which[b]:
            _reset_one(s, b, geo)


@njit(cache=True)
def set_position(s: Boards, b: int, board: np.ndarray, to_play: int, geo: Geometry) -> None:
    """Load an arbitrary position into board b, with no history. Chains are rebuilt by
    placing the stones one by one; a position with a chain without liberties comes out
    different from ``board`` or with LIBS 0 (the caller checks)."""
    _reset_one(s, b, geo)
    for p in range(board.shape[0]):
        if board[p] != EMPTY:
            place(s, b, p, board[p], geo)
    s.htab[b, :] = 0
    remember(s.htab[b], s.hash[b])
    s.info[b, TO_PLAY] = to_play
    s.hist[b, 0, :] = s.chains[b, BOARD, :]
    _fill_legal(s, b, geo)


# --------------------------------------------------------------------------- features


@njit(cache=True)
def _planes(s: Boards, b: int, me: int, out: np.ndarray, channels_last: bool) -> None:
    """Observation of board b for colour ``me``: for t = 0..7, plane 2t holds me's stones
    t moves ago and plane 2t+1 the opponent's (zero before the game started); plane 16 is
    1 when ``me`` is Black. ``out`` is [N*N, 17] if channels_last else [17, N*N]."""
    nn = out.shape[0] if channels_last else out.shape[1]
    m = s.info[b, MOVES]
    opp = 3 - me
    colour = 1 if me == BLACK else 0
    for t in range(HISTORY):
        row = s.hist[b, (m - t) % HISTORY]
        live = t <= m
        for p in range(nn):
            v = row[p]
            a = live and v == me
            o = live and v == opp
            if channels_last:
                out[p, 2 * t] = a
                out[p, 2 * t + 1] = o
            else:
                out[2 * t, p] = a
                out[2 * t + 1, p] = o
    for p in range(nn):
        if channels_last:
            out[p, NUM_PLANES - 1] = colour
        else:
            out[NUM_PLANES - 1, p] = colour


@njit(cache=True)
def planes_one(s: Boards, b: int, me: int, out: np.ndarray) -> None:
    """Channels-last observation [N*N, 17] of board b for colour ``me``."""
    _planes(s, b, me, out, True)


@njit(cache=True, parallel=True)
def planes_batch(s: Boards, out: np.ndarray, channels_last: bool) -> None:
    """Observation of every board for its player to move: ``out`` is [B, N*N, 17]
    (channels_last) or [B, 17, N*N]."""
    for b in prange(out.shape[0]):
        _planes(s, b, s.info[b, TO_PLAY], out[b], channels_last)


# --------------------------------------------------------------------------- playouts


@njit(cache=True)
def sample_legal(legal: np.ndarray, allow_pass: bool, u: float) -> int:
    """The k-th legal action for k = floor(u * count), a uniform draw for u in [0, 1).
    Pass is drawn only if ``allow_pass`` or if no point is legal."""
    nn = legal.shape[0] - 1
    n = 0
    for a in range(nn):
        n += legal[a]
    if n == 0:
        return nn
    if allow_pass:
        n += 1
    k = min(int(u * n), n - 1)
    for a in range(nn):
        if legal[a]:
            if k == 0:
                return a
            k -= 1
    return nn


@njit(cache=True, parallel=True)
def sample_batch(s: Boards, u: np.ndarray, allow_pass: bool, out: np.ndarray) -> None:
    """``out[b]``: a uniformly random legal action of board b, -1 if its game is over."""
    for b in prange(out.shape[0]):
        out[b] = -1 if s.info[b, DONE] else sample_legal(s.legal[b], allow_pass, u[b])


# --------------------------------------------------------------------------- single board

ENDED = -1  # play_single: the move was played and ended the game
MASK_NONE, MASK_LEGAL, MASK_PASS = 0, 1, 2  # observe_single's mask_mode

# Single-board kernels, shared with the Gymnasium env (gym_env.py). They take the
# engine's records as plain tuples and rebuild the NamedTuples inside: numba types a plain
# tuple of arrays in C but a NamedTuple through Python, which costs about 1 us per call,
# a sixth of a whole step. They never run the engine's parallel kernels, whose thread
# wake-up costs up to milliseconds when called once at a time.


@njit(cache=True)
def play_single(state: tuple, a: int, geo: tuple, rewards: np.ndarray) -> int:
    """Play action a on the single board; 0 (the game goes on), ENDED, or the
    refusal code (GAME_OVER, OUT_OF_RANGE, ILLEGAL; the board is then unchanged).
    ``rewards`` [2] receives the (Black, White) rewards."""
    s = Boards(*state)
    status = play_one(s, 0, a, Geometry(*geo), rewards)
    if status != OK:
        return status
    return ENDED if s.info[0, DONE] else 0


@njit(cache=True)
def reset_single(state: tuple, geo: tuple) -> None:
    """New game on the single board: empty, Black to move."""
    _reset_one(Boards(*state), 0, Geometry(*geo))


@njit(cache=True)
def observe_single(state: tuple, me: int, mask_mode: int, obs: np.ndarray,
                   mask: np.ndarray) -> None:
    """Planes of the single board for colour ``me`` into ``obs`` [N, N, 17], and into
    ``mask`` [N*N+1]: zeros (MASK_NONE), the legal actions of the player to move
    (MASK_LEGAL) or pass alone (MASK_PASS, for a finished game)."""
    s = Boards(*state)
    nn = mask.shape[0] - 1
    planes_one(s, 0, me, obs.reshape((nn, NUM_PLANES)))
    if mask_mode == MASK_LEGAL:
        legal = s.legal[0]
        for a in range(nn + 1):
            mask[a] = legal[a]
    else:
        mask[:] = 0
        if mask_mode == MASK_PASS:
            mask[nn] = 1
