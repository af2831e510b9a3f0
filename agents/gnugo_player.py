"""GNU Go as a player, in many games of an engine at once, over GTP.

Processes. The player keeps a small pool of GNU Go processes; game ``g`` of an engine is
played by process ``g % processes``. Each process remembers the moves on its board; before
each ``genmove`` it is synced with ``engine.actions(g)``: when its moves are a prefix of
the game's record only the new moves are sent, otherwise it clears the board and replays
the game (about 30 us a move). Processes work in parallel (``workers`` threads, one
process each at a time), since GNU Go's thinking is what takes the time.

Rules. GNU Go runs with Chinese (area) scoring, suicide forbidden, positional superko (or
no ko rule at all when ``rules.superko`` is False, as rlgo then has none) and
``--capture-all-dead``: it passes only once every dead stone of the opponent is off the
board, so the Tromp-Taylor count of rlgo's two-pass ending is the real result of the game.

Resignation. GNU Go runs with ``--never-resign``: every game is played out and scored by
Tromp-Taylor like every other game in the database, so results of all players are
comparable and each game has a score. Should a "resign" come anyway, it is played as a
pass and counted in :attr:`GnuGoPlayer.resignations`.

Seeds. GNU Go reseeds its random generator with its ``random_seed`` before every move, so
a move depends only on the position, its history and that seed. The player sets the seed
``hash(seed, g)`` before each ``genmove`` in game ``g``: games differ from each other,
and a match is reproducible.

Failures. A process that dies or hangs (no answer within ``timeout`` seconds) is
restarted, resynced and the move asked again, once; a second failure for the same move
raises :class:`GnuGoError` with the engine's last stderr lines. :attr:`restarts` counts
restarts. Only games started from the empty board can be played (GNU Go learns the game
from its move record).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import action_to_gtp, gtp_to_action
from rlgo.gtp.client import (
    DEFAULT_TIMEOUT,
    GNUGO_PATH,
    EngineDiedError,
    GTPEngine,
    GTPEngineError,
    GTPError,
    gnugo_args,
)
from rlgo.protocols import Decision, Positions

__all__ = ["GnuGoError", "GnuGoPlayer", "MAX_LEVEL"]

MAX_LEVEL = 10
"""GNU Go's strongest (and default) level; levels run 0..10."""

_COLOUR = {1: "black", 2: "white"}


class GnuGoError(RuntimeError):
    """GNU Go cannot be started, failed twice on one move, or disagrees with rlgo's rules."""


@dataclass
class _Slot:
    """One GNU Go process and the moves on its board since its last clear_board."""

    gtp: GTPEngine
    moves: list[int] = field(default_factory=list)


class GnuGoPlayer:
    """GNU Go 3.8 at ``level`` (0..10), named ``gnugo:<level>``."""

    kind = "gnugo"
    """Player kind stored in the match database."""

    def __init__(self, level: int, rules: Rules, *, seed: int = 0, path: str = GNUGO_PATH,
                 processes: int = 8, workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        """
        Args:
            level: GNU Go's ``--level``, 0 (fastest, weakest) .. 10 (strongest).
            rules: board size, komi and ko rule of the games it will play.
            seed: base of the per-game random seeds (module docstring, "Seeds").
            path: the GNU Go executable.
            processes: most GNU Go processes kept (about 22 MB each).
            workers: processes thinking at once; default: the CPU count.
            timeout: seconds one GTP command may take before the process counts as hung.

        Raises GnuGoError if GNU Go cannot be started (the first process starts here).
        """
        if not (isinstance(level, (int, np.integer)) and 0 <= level <= MAX_LEVEL):
            raise ValueError(f"GNU Go level must be an integer in 0..{MAX_LEVEL}, got {level!r}")
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.level = int(level)
        self.rules = rules
        self.name = f"gnugo:{self.level}"
        self.spec = {"level": self.level}
        self.seed = int(seed)
        self.path = path
        self.timeout = timeout
        self.processes = processes
        self.restarts = 0
        """Processes restarted after dying or hanging."""
        self.resignations = 0
        """"resign" answers played as passes (none expected: GNU Go runs with --never-resign)."""
        self.illegal_moves = 0
        """GNU Go moves that rlgo's rules refused and that were played as passes."""
        self._args = gnugo_args(self.level, path, capture_all_dead=True, never_resign=True)
        if not rules.superko:
            # rlgo without superko has no ko rule at all; gnugo_args always asks for superko.
            self._args = ["--no-ko" if a == "--positional-superko" else a for a in self._args]
        self._counts_lock = threading.Lock()  # workers update the counters
        self._slots: list[_Slot | None] = [None] * processes
        self._slots[0] = self._start()  # fail now, not in the middle of a match
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                        thread_name_prefix="gnugo")

    # ------------------------------------------------------------------ processes
    def _start(self) -> _Slot:
        try:
            gtp = GTPEngine(self._args, timeout=self.timeout)
        except OSError as exc:
            raise GnuGoError(f"cannot start GNU Go ({self.path}): {exc}; "
                             "install it with `apt-get install gnugo`") from exc
        try:
            self._setup(gtp)
        except GTPEngineError as exc:
            gtp.close()
            raise GnuGoError(f"GNU Go ({self.path}) did not accept the game setup: {exc}") \
                from exc
        return _Slot(gtp)

    def _setup(self, gtp: GTPEngine) -> None:
        gtp.boardsize(self.rules.board_size)
        gtp.komi(float(self.rules.komi))
        gtp.clear_board()

    def _count(self, counter: str) -> None:
        with self._counts_lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def _restart(self, slot: _Slot, cause: Exception) -> None:
        self._count("restarts")
        slot.moves = []
        try:
            slot.gtp.restart(replay_moves=False)  # replays boardsize and komi
        except (OSError, GTPEngineError) as exc:
            raise GnuGoError(f"{self.name}: GNU Go died ({cause}) and could not be restarted: "
                             f"{exc}") from exc

    def close(self) -> None:
        """Stop the GNU Go processes and the worker threads."""
        self._pool.shutdown(wait=True)
        for slot in self._slots:
            if slot is not None:
                slot.gtp.close()
        self._slots = [None] * self.processes

    def __enter__(self) -> GnuGoPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the running GNU Go processes."""
        return [s.gtp.pid for s in self._slots if s is not None and s.gtp.pid is not None]

    # ------------------------------------------------------------------ playing
    def act(self, positions: Positions) -> Decision:
        engine = positions.engine
        if engine.rules.board_size != self.rules.board_size or \
                float(engine.rules.komi) != float(self.rules.komi):
            raise ValueError(f"{self.name} was set up for {self.rules.board_size}x"
                             f"{self.rules.board_size} komi {self.rules.komi}, not "
                             f"{engine.rules.board_size}x{engine.rules.board_size} komi "
                             f"{engine.rules.komi}")
        games = np.asarray(positions.games, np.int64)
        by_slot: dict[int, list[int]] = {}
        for row, g in enumerate(games):
            by_slot.setdefault(int(g) % self.processes, []).append(row)
        for s in by_slot:
            if self._slots[s] is None:
                self._slots[s] = self._start()
        jobs = [self._pool.submit(self._play_rows, self._slots[s], rows, positions)
                for s, rows in by_slot.items()]
        actions = np.empty(len(games), np.int64)
        for job in jobs:  # raises the first failure
            for row, action in job.result():
                actions[row] = action
        return Decision(actions)

    def _play_rows(self, slot: _Slot, rows: list[int], positions: Positions
                   ) -> list[tuple[int, int]]:
        """Moves for the given rows of the batch, all played by one process."""
        out = []
        for row in rows:
            g = int(positions.games[row])
            out.append((row, self._move(slot, positions.engine, g, positions.mask[row])))
        return out

    def _move(self, slot: _Slot, engine: GoEngine, g: int, legal: np.ndarray) -> int:
        record = engine.actions(g)
        colour = _COLOUR[int(engine.to_play[g])]
        if (len(record) % 2 == 0) != (colour == "black"):
            raise GnuGoError(f"{self.name} can only play games started from the empty board "
                             f"with Black to move (game {g})")
        n = self.rules.board_size
        seed = (self.seed * 1_000_003 + g) % 2**31
        for attempt in (1, 2):
            try:
                self._sync(slot, record)
                self._check_board(slot, engine, g)
                slot.gtp.send(f"set_random_seed {seed}")
                vertex = slot.gtp.genmove(colour)
                break
            except EngineDiedError as exc:  # timeouts included
                if attempt == 2:
                    raise GnuGoError(f"{self.name} failed twice on move {len(record) + 1} of "
                                     f"game {g}: {exc}") from exc
                self._restart(slot, exc)
        if vertex == "resign":  # its board is unchanged
            self._count("resignations")
            return n * n
        action = gtp_to_action(vertex, n)
        slot.moves.append(action)
        if not legal[action]:
            # HACK: GNU Go and rlgo disagree on legality (not seen so far); pass instead.
            # Its board now differs from the game, so the next sync replays the game.
            self._count("illegal_moves")
            return n * n
        return action

    def _sync(self, slot: _Slot, record: np.ndarray) -> None:
        """Bring the process's board to the game's position (the moves of ``record``)."""
        k = len(slot.moves)
        if k > len(record) or slot.moves != record[:k].tolist():
            slot.gtp.clear_board()
            slot.moves, k = [], 0
        n = self.rules.board_size
        for i in range(k, len(record)):
            a = int(record[i])
            try:
                slot.gtp.play(_COLOUR[1 + i % 2], action_to_gtp(a, n))
            except GTPError as exc:
                raise GnuGoError(f"GNU Go refused move {i + 1} ({action_to_gtp(a, n)}) that "
                                 f"rlgo's rules allow: {exc}") from exc
            slot.moves.append(a)

    def _check_board(self, slot: _Slot, engine: GoEngine, g: int) -> None:
        """GNU Go's stones must be the game's (two GTP round trips, next to a genmove)."""
        board = engine.boards[g].reshape(-1)
        n = self.rules.board_size
        for value, colour in _COLOUR.items():
            stones = {gtp_to_action(v, n) for v in slot.gtp.list_stones(colour)}
            if stones != set(np.flatnonzero(board == value).tolist()):
                raise GnuGoError(f"GNU Go's {colour} stones differ from game {g}'s after "
                                 f"replaying its {len(slot.moves)} moves: was the game started "
                                 "from a set position? Only games from the empty board work.")

    def __repr__(self) -> str:
        return f"GnuGoPlayer(level={self.level}, board_size={self.rules.board_size})"
