"""Any Go engine that speaks GTP as a player, in many games of an engine at once.

The engine is a command line (an argument list, never a shell string), e.g.
``["/usr/games/gnugo", "--mode", "gtp", "--level", "0"]``; the spec ``gtp:<command
line>`` of :func:`rlgo.evaluation.players.make_player` builds one. GNU Go
(:class:`rlgo.agents.gnugo_player.GnuGoPlayer`) and Pachi
(:class:`rlgo.agents.pachi_player.PachiPlayer`) are configured instances of it.

Processes. The player keeps a small pool of engine processes; game ``g`` of an engine is
played by process ``g % processes``. Each process remembers the moves on its board; before
each ``genmove`` it is synced with ``engine.actions(g)``: when its moves are a prefix of
the game's record only the new moves are sent, otherwise it clears the board and replays
the game. Processes think in parallel (``workers`` threads, one process each at a time).

Rules. rlgo scores every game by Tromp-Taylor at its two-pass ending: an engine that
passes while its opponent's dead stones are still on the board gives those points away.
Configure the engine to capture every dead stone before it passes (GNU Go's
``--capture-all-dead``, Pachi's ``pass_all_alive``) and to play area (Chinese) scoring.

Resignation and disagreements. A ``resign`` answer is played as a pass and counted in
:attr:`GTPPlayer.resignations` (every game in the database is played out and scored the
same way). A move that rlgo's rules refuse (the engine's ko rule differs, say) is played
as a pass and counted in :attr:`GTPPlayer.illegal_moves`; the next sync replays the game.

Seeds. When the engine knows ``set_random_seed`` (GNU Go does), the player sets the seed
``hash(seed, g)`` before each ``genmove`` in game ``g``, so a move depends only on the
position, its history and that seed. Other engines take their seed on the command line.

Failures. The engine must answer GTP's ``name`` when it starts (a program that is not a
GTP engine fails there, with its stderr quoted). A process that dies or hangs (no answer
within ``timeout`` seconds) is restarted, resynced and the move asked again, once; a
second failure for the same move raises :class:`GTPPlayerError` with the engine's last
stderr lines. :attr:`GTPPlayer.restarts` counts restarts. Only games started from the
empty board can be played (the engine learns the game from its move record): the stones
are checked with ``list_stones`` when the engine knows it, else by replaying the record.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from rlgo.envs import GoEngine, IllegalMoveError, Rules
from rlgo.envs.coords import action_to_gtp, gtp_to_action
from rlgo.errors import RlgoError
from rlgo.gtp.client import (
    DEFAULT_TIMEOUT,
    EngineDiedError,
    GTPEngine,
    GTPEngineError,
    GTPError,
)
from rlgo.protocols import Decision, Positions

__all__ = ["GTPPlayer", "GTPPlayerError", "STARTUP_TIMEOUT"]

STARTUP_TIMEOUT = 10.0
"""Seconds a fresh process may take to answer ``name`` and ``list_commands``."""

_COLOUR = {1: "black", 2: "white"}


class GTPPlayerError(RlgoError, RuntimeError):
    """The engine cannot be started, failed twice on one move, or disagrees with rlgo's
    rules about the game's position."""


@dataclass
class _Slot:
    """One engine process and the moves on its board since its last clear_board."""

    gtp: GTPEngine
    moves: list[int] = field(default_factory=list)


class GTPPlayer:
    """A GTP engine started from ``args``, named ``gtp:<args joined as a shell would>``
    unless ``name`` says otherwise."""

    kind = "gtp"
    """Player kind stored in the match database."""

    def __init__(self, args: Sequence[str], rules: Rules, *, name: str | None = None,
                 seed: int = 0, program: str | None = None, install_hint: str = "",
                 expect_name: str | None = None, processes: int = 8,
                 workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        """
        Args:
            args: the engine's command line, program first.
            rules: board size, komi and ko rule of the games it will play.
            name: the player's name in the match database; default ``gtp:`` + the
                command line.
            seed: base of the per-game random seeds (module docstring, "Seeds").
            program: what error messages call the engine (default: the program's file
                name).
            install_hint: appended to the error when the program cannot be started.
            expect_name: the engine's answer to ``name`` must contain this (case
                ignored): guards against another program of the same file name.
            processes: most engine processes kept.
            workers: processes thinking at once; default: the CPU count.
            timeout: seconds one GTP command may take before the process counts as hung.

        Raises GTPPlayerError if the engine cannot be started (the first process starts
        here) or does not speak GTP.
        """
        self.args = [str(a) for a in args]
        if not self.args or not self.args[0]:
            raise ValueError("a GTP engine needs a command line, got none")
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.rules = rules
        self.name = name if name is not None else "gtp:" + shlex.join(self.args)
        self.spec = {"args": self.args}
        self.seed = int(seed)
        self.program = program or os.path.basename(self.args[0])
        self.install_hint = install_hint
        self.expect_name = expect_name
        self.timeout = timeout
        self.processes = processes
        self.engine_name = ""
        """The engine's answer to ``name``."""
        self.restarts = 0
        """Processes restarted after dying or hanging."""
        self.resignations = 0
        """"resign" answers played as passes."""
        self.illegal_moves = 0
        """Engine moves that rlgo's rules refused and that were played as passes."""
        self._known: frozenset[str] = frozenset()
        self._counts_lock = threading.Lock()  # workers update the counters
        self._slots: list[_Slot | None] = [None] * processes
        self._slots[0] = self._start(0, probe=True)  # fail now, not in the middle of a match
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                                        thread_name_prefix="gtp-player")

    # ------------------------------------------------------------------ processes
    def _fail(self, message: str) -> GTPPlayerError:
        return GTPPlayerError(message + (f"; {self.install_hint}" if self.install_hint else ""))

    def command(self, index: int) -> list[str]:
        """The command line of process ``index``: ``args`` (Pachi's adds a seed per
        process)."""
        return self.args

    def _start(self, index: int, probe: bool = False) -> _Slot:
        where = f"{self.program} ({self.args[0]})"
        try:
            gtp = GTPEngine(self.command(index), timeout=self.timeout)
        except OSError as exc:
            raise self._fail(f"cannot start {where}: {exc}") from exc
        try:
            if probe:
                self._probe(gtp, where)
            self._setup(gtp)
        except GTPEngineError as exc:
            gtp.close()
            raise GTPPlayerError(f"{where} did not accept the game setup: {exc}") from exc
        return _Slot(gtp)

    def _probe(self, gtp: GTPEngine, where: str) -> None:
        """Ask the first process who it is and what it knows."""
        timeout = min(self.timeout, STARTUP_TIMEOUT)
        try:
            self.engine_name = gtp.send("name", timeout=timeout)
            known = gtp.send("list_commands", timeout=timeout)
        except EngineDiedError as exc:
            gtp.close()
            raise self._fail(f"{where} does not answer GTP's `name`: is it a GTP engine? "
                             f"{exc}") from exc
        except GTPError:
            known = ""  # list_commands is required by GTP 2, but some engines lack it
        if self.expect_name and self.expect_name.lower() not in self.engine_name.lower():
            gtp.close()
            raise self._fail(f"{where} is not {self.program}: it calls itself "
                             f"{self.engine_name!r}")
        self._known = frozenset(known.split())

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
            raise GTPPlayerError(f"{self.name}: {self.program} died ({cause}) and could not "
                                 f"be restarted: {exc}") from exc

    def close(self) -> None:
        """Stop the engine processes and the worker threads."""
        self._pool.shutdown(wait=True)
        for slot in self._slots:
            if slot is not None:
                slot.gtp.close()
        self._slots = [None] * self.processes

    def __enter__(self) -> GTPPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the running engine processes."""
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
                self._slots[s] = self._start(s)
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
            raise GTPPlayerError(f"{self.name} can only play games started from the empty "
                                 f"board with Black to move (game {g})")
        n = self.rules.board_size
        seed = (self.seed * 1_000_003 + g) % 2**31
        for attempt in (1, 2):
            try:
                fresh = self._sync(slot, record)
                self._check_board(slot, engine, g, fresh)
                if "set_random_seed" in self._known:
                    slot.gtp.send(f"set_random_seed {seed}")
                vertex = slot.gtp.genmove(colour)
                break
            except EngineDiedError as exc:  # timeouts included
                if attempt == 2:
                    raise GTPPlayerError(f"{self.name} failed twice on move {len(record) + 1} "
                                         f"of game {g}: {exc}") from exc
                self._restart(slot, exc)
        if vertex == "resign":  # its board is unchanged
            self._count("resignations")
            return n * n
        try:
            action = gtp_to_action(vertex, n)
        except ValueError as exc:
            raise GTPPlayerError(f"{self.name} answered genmove with {vertex!r}, not a vertex "
                                 f"on {n}x{n}") from exc
        slot.moves.append(action)
        if not legal[action]:
            # HACK: the engine and rlgo disagree on legality (a different ko rule); pass
            # instead. Its board now differs from the game, so the next sync replays it.
            self._count("illegal_moves")
            return n * n
        return action

    def _sync(self, slot: _Slot, record: np.ndarray) -> bool:
        """Bring the process's board to the game's position (the moves of ``record``);
        True when it was replayed from the empty board."""
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
                raise GTPPlayerError(f"{self.program} refused move {i + 1} "
                                     f"({action_to_gtp(a, n)}) that rlgo's rules allow: "
                                     f"{exc}") from exc
            slot.moves.append(a)
        return k == 0

    def _check_board(self, slot: _Slot, engine: GoEngine, g: int, fresh: bool) -> None:
        """The engine's stones must be the game's: asked with ``list_stones`` (two GTP
        round trips next to a genmove) where the engine knows it, else the record is
        replayed here whenever the process starts a game."""
        board = engine.boards[g].reshape(-1)
        n = self.rules.board_size
        hint = ("was the game started from a set position? Only games from the empty board "
                "work.")
        if "list_stones" not in self._known:
            if fresh and not np.array_equal(_replayed_board(engine.actions(g), engine.rules),
                                            board):
                raise GTPPlayerError(f"game {g}'s stones are not those of its move record: "
                                     + hint)
            return
        for value, colour in _COLOUR.items():
            stones = {gtp_to_action(v, n) for v in slot.gtp.list_stones(colour)}
            if stones != set(np.flatnonzero(board == value).tolist()):
                raise GTPPlayerError(f"{self.program}'s {colour} stones differ from game "
                                     f"{g}'s after replaying its {len(slot.moves)} moves: "
                                     + hint)

    def __repr__(self) -> str:
        return f"GTPPlayer({self.name!r}, board_size={self.rules.board_size})"


def _replayed_board(record: np.ndarray, rules: Rules) -> np.ndarray:
    """[N*N] board after playing ``record`` from the empty board (all -1 if it cannot be
    played from there)."""
    replay = GoEngine(1, rules)
    try:
        for a in record:
            replay.step(np.array([a]))
    except IllegalMoveError:
        return np.full(rules.num_points, -1)
    return replay.boards[0].reshape(-1).copy()
