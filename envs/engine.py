"""Batched Go engine: B games of one board size stepped together by compiled kernels.

This is the layer the harness uses for self-play; the PettingZoo and Gymnasium envs are
thin adapters over a batch of one. All per-size constants live in a :class:`Rules`
value and in the engine instance: nothing here depends on module-level state, so
engines of different sizes coexist in one process.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from rlgo.envs import _kernels as K
from rlgo.envs._kernels import BLACK, EMPTY, NUM_PLANES, WHITE, Boards, Geometry
from rlgo.envs.threads import configure as configure_threads

MIN_SIZE, MAX_SIZE = 5, 19

#: Why a game ended, by the engine's code (:attr:`GoEngine.end_reason`): the name every
#: layer reports (env ``info["end_reason"]``, match records).
END_REASONS: dict[int, str] = {K.TWO_PASSES: "two_passes", K.MOVE_CAP: "move_cap"}
#: A player made an illegal move and lost (envs that forfeit instead of raising).
ILLEGAL_MOVE = "illegal_move"
#: A player resigned (GTP engines); the engine itself never resigns.
RESIGN = "resign"
#: Every valid end-reason name.
END_REASON_NAMES: tuple[str, ...] = (*END_REASONS.values(), ILLEGAL_MOVE, RESIGN)

#: Batches smaller than this are stepped on one thread (thread wake-up costs more).
SERIAL_BELOW = 16

#: Default komi per board size. 7.5 is the modern Chinese/AGA komi for 19x19 and is
#: also the usual choice on 9x9. On small boards the first move is worth much more:
#: 5x5 is a proven Black win by 25 points (the whole board) with perfect play, 7x7 by
#: 9 points (Davies; Li & Shao), so komi 7.5 there would make White "win" boards that
#: Black owns. We use the fair integer-plus-half komi just below the perfect-play
#: margin where that keeps the game non-trivial: 24.5 on 5x5 and 8.5 on 7x7. Sizes
#: without an entry use 7.5.
DEFAULT_KOMI: dict[int, float] = {5: 24.5, 7: 8.5}


def default_komi(board_size: int) -> float:
    """Komi used when none is given (see :data:`DEFAULT_KOMI`)."""
    return DEFAULT_KOMI.get(board_size, 7.5)


class IllegalMoveError(ValueError):
    """An action was refused; the game state is unchanged."""


@dataclass(frozen=True)
class Rules:
    """Rule set of a game. Tromp-Taylor area scoring, suicide illegal."""

    board_size: int = 9
    """N, for an N x N board, 5..19."""
    komi: float | None = None
    """Points given to White; None takes :func:`default_komi` of the size."""
    max_moves: int | None = None
    """Move cap (passes included); None means 2 * N * N. The capped game is scored."""
    superko: bool = True
    """Positional superko: a move may not recreate any earlier position of the game."""

    def __post_init__(self) -> None:
        if not isinstance(self.board_size, (int, np.integer)) or not (
            MIN_SIZE <= self.board_size <= MAX_SIZE
        ):
            raise ValueError(
                f"board_size must be an integer in {MIN_SIZE}..{MAX_SIZE}, got {self.board_size!r}"
            )
        if self.komi is None:
            object.__setattr__(self, "komi", default_komi(int(self.board_size)))
        if not (isinstance(self.komi, (int, float)) and math.isfinite(self.komi)
                and abs(self.komi) <= self.board_size**2):
            raise ValueError(f"komi must be a finite number of points, at most the board's "
                             f"{self.board_size**2} either way, got {self.komi!r}")
        if self.max_moves is None:
            object.__setattr__(self, "max_moves", 2 * self.board_size**2)
        if self.max_moves < 1:
            raise ValueError(f"max_moves must be positive, got {self.max_moves}")

    @property
    def num_points(self) -> int:
        return self.board_size**2

    @property
    def num_actions(self) -> int:
        """N*N points plus pass."""
        return self.board_size**2 + 1

    @property
    def pass_action(self) -> int:
        return self.board_size**2


@cache
def _neighbours(n: int) -> np.ndarray:
    nbr = np.full((n * n, 4), -1, np.int32)
    for r in range(n):
        for c in range(n):
            ks = [(r + dr, c + dc) for dr, dc in ((-1, 0), (0, -1), (0, 1), (1, 0))]
            ks = [rr * n + cc for rr, cc in ks if 0 <= rr < n and 0 <= cc < n]
            nbr[r * n + c, : len(ks)] = ks
    nbr.setflags(write=False)
    return nbr


@cache
def _zobrist(n: int) -> tuple[np.ndarray, np.uint64]:
    rng = np.random.default_rng(0x60 + n)  # fixed: hashes are reproducible across runs
    zob = rng.integers(1, 2**63, size=(n * n, 3), dtype=np.uint64, endpoint=False)
    zob[:, EMPTY] = 0
    zob.setflags(write=False)
    return zob, np.uint64(rng.integers(1, 2**63, dtype=np.uint64))


def geometry(rules: Rules) -> Geometry:
    """The compiled kernels' view of ``rules``."""
    zob, empty_hash = _zobrist(rules.board_size)
    return Geometry(
        size=int(rules.board_size),
        nbr=_neighbours(rules.board_size),
        zob=zob,
        empty_hash=empty_hash,
        komi=float(rules.komi),
        max_moves=int(rules.max_moves),
        superko=bool(rules.superko),
    )


def _table_size(max_moves: int) -> int:
    size = 64
    while size < 2 * (max_moves + 2):
        size *= 2
    return size


def _new_boards(num_games: int, rules: Rules) -> Boards:
    b, nn = num_games, rules.num_points
    return Boards(
        chains=np.zeros((b, K.NUM_CHAIN_ROWS, nn), np.int32),
        ghash=np.zeros((b, nn), np.uint64),
        hash=np.zeros(b, np.uint64),
        htab=np.zeros((b, _table_size(int(rules.max_moves))), np.uint64),
        info=np.zeros((b, K.NUM_INFO), np.int32),
        hist=np.zeros((b, K.HISTORY, nn), np.int8),
        legal=np.zeros((b, nn + 1), np.bool_),
        record=np.zeros((b, int(rules.max_moves)), np.int16),
    )


@dataclass(frozen=True)
class StepResult:
    """What one batched step returns."""

    legal: np.ndarray
    """[B, N*N+1] bool: legal actions of the player now to move (all False when over)."""
    rewards: np.ndarray
    """[B, 2] float32: (Black, White) reward, +1 win / -1 loss / 0 draw at the end, else 0."""
    done: np.ndarray
    """[B] bool: the game is over (two passes or the move cap)."""


@dataclass
class GoEngine:
    """B Go games of one size, stepped together.

    >>> eng = GoEngine(num_games=2, rules=Rules(board_size=9))
    >>> res = eng.step(np.array([40, 81]))   # tengen on board 0, a pass on board 1
    """

    num_games: int
    rules: Rules = field(default_factory=Rules)
    state: Boards = field(init=False, repr=False)
    geo: Geometry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.num_games < 1:
            raise ValueError(f"num_games must be >= 1, got {self.num_games}")
        configure_threads()  # before the first parallel kernel starts numba's pool
        self.geo = geometry(self.rules)
        self.state = _new_boards(self.num_games, self.rules)
        self._rewards = np.zeros((self.num_games, 2), np.float32)
        self._status = np.zeros(self.num_games, np.int8)
        self.reset()

    # ------------------------------------------------------------------ stepping
    def reset(self, which: np.ndarray | None = None) -> None:
        """Reset all games, or those where the bool mask ``which`` [B] is True."""
        if which is None:
            which = np.ones(self.num_games, np.bool_)
        reset = K.reset_batch if self.num_games >= SERIAL_BELOW else K.reset_serial
        reset(self.state, np.asarray(which, np.bool_), self.geo)

    def step(self, actions: np.ndarray) -> StepResult:
        """Play ``actions[b]`` on every game b; a negative action leaves game b as it is.

        Raises :class:`IllegalMoveError` (naming the games) if any action is out of range,
        illegal or aimed at a finished game; the other games' moves are still played,
        the refused games are unchanged.
        """
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        if actions.shape != (self.num_games,):
            raise ValueError(f"actions must have shape ({self.num_games},), got {actions.shape}")
        play = K.play_batch if self.num_games >= SERIAL_BELOW else K.play_serial
        play(self.state, actions, self.geo, self._rewards, self._status)
        if self._status.any():
            bad = np.flatnonzero(self._status)
            raise IllegalMoveError(
                "refused moves: "
                + ", ".join(self._describe(int(b), int(actions[b])) for b in bad[:5])
                + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
            )
        return StepResult(self.state.legal, self._rewards, self.done)

    def _describe(self, b: int, a: int) -> str:
        code = int(self._status[b])
        if code == K.GAME_OVER:
            return f"game {b}: action {a} after the game ended"
        if code == K.OUT_OF_RANGE:
            return f"game {b}: action id {a} outside 0..{self.rules.pass_action}"
        return f"game {b}: action {a} is illegal (occupied, suicide or superko)"

    def random_actions(self, rng: np.random.Generator, allow_pass: bool = False) -> np.ndarray:
        """A uniformly random legal action per game (-1 for finished games). Pass is
        drawn only when ``allow_pass`` or when nothing else is legal."""
        out = np.empty(self.num_games, np.int64)
        K.sample_batch(self.state, rng.random(self.num_games), allow_pass, out)
        return out

    # ------------------------------------------------------------------ views
    @property
    def legal(self) -> np.ndarray:
        """[B, N*N+1] bool legal actions for the player to move."""
        return self.state.legal

    @property
    def done(self) -> np.ndarray:
        """[B] bool: the game is over."""
        return self.state.info[:, K.DONE] != 0

    @property
    def to_play(self) -> np.ndarray:
        """[B] int32: BLACK (1) or WHITE (2), the colour to move."""
        return self.state.info[:, K.TO_PLAY]

    @property
    def moves(self) -> np.ndarray:
        """[B] int32: moves played so far, passes included."""
        return self.state.info[:, K.MOVES]

    @property
    def end_reason(self) -> np.ndarray:
        """[B] int32: 0 ongoing, 1 two passes, 2 move cap (:data:`END_REASONS` names them)."""
        return self.state.info[:, K.REASON]

    @property
    def boards(self) -> np.ndarray:
        """[B, N, N] int32 view of the boards: 0 empty, 1 black, 2 white."""
        n = self.rules.board_size
        return self.state.chains[:, K.BOARD].reshape(self.num_games, n, n)

    def actions(self, index: int) -> np.ndarray:
        """The actions played so far in game ``index`` (a copy), Black's first."""
        return self.state.record[index, : self.state.info[index, K.MOVES]].astype(np.int64)

    def to_sgf(self, index: int, black: str = "Black", white: str = "White") -> str:
        """SGF of game ``index`` from the empty board, with its result if it is over.
        (Only for games started from the empty board, not from :meth:`set_position`.)"""
        from rlgo.envs.sgf import game_to_sgf, result_string

        result = result_string(float(self.scores()[index])) if self.done[index] else None
        return game_to_sgf(self.actions(index), self.rules, black, white, result)

    def scores(self) -> np.ndarray:
        """[B] Tromp-Taylor score of the current positions, Black minus White minus komi."""
        return K.scores(self.state, self.geo)

    def owners(self) -> np.ndarray:
        """[B, N*N] int8 Tromp-Taylor owner of every point of the current positions: 1
        Black, 2 White (a stone, or an empty region reaching only that colour), 0 neither
        (the points :meth:`scores` counts for each side)."""
        return K.owners(self.state, self.geo)

    def observations(self, channels_last: bool = False, out: np.ndarray | None = None):
        """Network input for the player to move of every game.

        Returns [B, 17, N, N] (or [B, N, N, 17] with ``channels_last``) uint8 planes:
        for t = 0..7, plane 2t = own stones t moves ago, 2t+1 = opponent stones; plane 16
        is 1 when the player to move is Black.
        """
        b, n = self.num_games, self.rules.board_size
        shape = (b, n * n, NUM_PLANES) if channels_last else (b, NUM_PLANES, n * n)
        if out is None:
            out = np.empty(shape, np.uint8)
        K.planes_batch(self.state, out.reshape(shape), channels_last)
        return out.reshape((b, n, n, NUM_PLANES) if channels_last else (b, NUM_PLANES, n, n))

    # ------------------------------------------------------------------ copies
    def clone(self) -> GoEngine:
        """An independent copy (the arrays are copied; the constants are shared)."""
        return copy.deepcopy(self)

    def __deepcopy__(self, memo: dict) -> GoEngine:
        new = object.__new__(GoEngine)
        new.num_games, new.rules, new.geo = self.num_games, self.rules, self.geo
        new.state = Boards(*(a.copy() for a in self.state))
        new._rewards = self._rewards.copy()
        new._status = self._status.copy()
        return new

    def copy_game(self, src: GoEngine, src_index: int | np.ndarray,
                  dst_index: int | np.ndarray) -> None:
        """Overwrite game ``dst_index`` of this engine with game ``src_index`` of ``src``;
        with index arrays [K], games ``dst_index[k]`` with ``src_index[k]``, in one copy
        per field."""
        if src.rules != self.rules:
            raise ValueError("cannot copy a game between engines with different rules")
        for mine, theirs in zip(self.state, src.state, strict=True):
            mine[dst_index] = theirs[src_index]

    def __getstate__(self) -> dict:
        return {"num_games": self.num_games, "rules": self.rules, "state": tuple(self.state)}

    def __setstate__(self, d: dict) -> None:
        self.num_games, self.rules = d["num_games"], d["rules"]
        self.geo = geometry(self.rules)
        self.state = Boards(*d["state"])
        self._rewards = np.zeros((self.num_games, 2), np.float32)
        self._status = np.zeros(self.num_games, np.int8)

    # ------------------------------------------------------------------ positions
    def set_position(self, index: int, board: np.ndarray, to_play: int = BLACK) -> None:
        """Load a position [N, N] (0/1/2) into game ``index`` with no history.

        Raises ValueError if a chain of the position has no liberty.
        """
        n = self.rules.board_size
        flat = np.ascontiguousarray(board, dtype=np.int32).reshape(-1)
        if flat.shape != (n * n,) or not np.isin(flat, (EMPTY, BLACK, WHITE)).all():
            raise ValueError(f"a position must be {n}x{n} with values in 0, 1, 2")
        if to_play not in (BLACK, WHITE):
            raise ValueError("to_play must be BLACK (1) or WHITE (2)")
        K.set_position(self.state, index, flat, to_play, self.geo)
        ch = self.state.chains[index]
        heads = np.flatnonzero(ch[K.HEAD] == np.arange(n * n))
        if not np.array_equal(ch[K.BOARD], flat) or (ch[K.LIBS, heads] <= 0).any():
            self.reset(np.arange(self.num_games) == index)
            raise ValueError("the position has a chain without liberties")
