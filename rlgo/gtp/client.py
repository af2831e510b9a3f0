"""A client for Go engines that speak GTP (Go Text Protocol, version 2) on stdin/stdout.

The engine runs as a subprocess started from an argument list (never through a shell).
Two reader threads drain its stdout (into a queue of lines) and its stderr (into a short
tail kept for error messages), so every command waits at most its timeout and a dead or
hung engine becomes an exception that names the command and quotes the engine's stderr:

* :class:`GTPError`: the engine answered ``? message`` (an illegal move, say); the
  engine is fine and the session goes on.
* :class:`EngineDiedError`: the process exited, or closed its stdout, before answering.
* :class:`EngineTimeoutError`: no answer within the timeout. The engine is killed, since
  a late answer would be read as the answer to the next command.

After either of the last two, :meth:`GTPEngine.restart` starts a fresh process and replays
the setup commands (``boardsize``, ``komi``, ...) and the moves played since the last
``clear_board``, so the caller resumes where it was.

Vertices are GTP strings (``"D4"``, ``"pass"``); :mod:`rlgo.envs.coords` converts them to
action ids.
"""

from __future__ import annotations

import collections
import itertools
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import IO

from rlgo.errors import RlgoError

DEFAULT_TIMEOUT = 30.0
"""Seconds a command may take unless the call says otherwise (``genmove`` at GNU Go's
level 10 on 19x19 takes a few seconds)."""

GNUGO_PATH = "/usr/games/gnugo"

_COLOURS = {"b": "black", "black": "black", "w": "white", "white": "white"}
# Commands that configure the engine; restart() replays the latest of each, in order.
_SETUP = frozenset({"boardsize", "komi", "level", "set_random_seed", "time_settings"})


class GTPEngineError(RlgoError, RuntimeError):
    """Base class of the errors raised by :class:`GTPEngine`."""


class GTPError(GTPEngineError):
    """The engine refused a command (it answered ``? message``)."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"GTP command {command!r} failed: {message}")
        self.command = command
        self.message = message


class EngineDiedError(GTPEngineError):
    """The engine process is gone, or no longer answers; call ``restart()`` to go on."""

    def __init__(self, command: str, reason: str, stderr_tail: str) -> None:
        tail = stderr_tail.strip() or "(nothing)"
        super().__init__(f"GTP command {command!r}: {reason}; engine stderr ends with:\n{tail}")
        self.command = command
        self.reason = reason
        self.stderr_tail = stderr_tail


class EngineTimeoutError(EngineDiedError):
    """The engine did not answer in time; it has been killed."""


def _drain_lines(stream: IO[str], sink: queue.Queue[str | None]) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)  # EOF


def _drain_tail(stream: IO[str], tail: collections.deque[str]) -> None:
    for line in stream:
        tail.append(line)


def normalise_colour(colour: str) -> str:
    """``"b"``/``"B"``/``"black"`` -> ``"black"``, likewise for white."""
    try:
        return _COLOURS[colour.lower()]
    except KeyError:
        raise ValueError(f"not a GTP colour: {colour!r}") from None


class GTPEngine:
    """A GTP engine subprocess, driven by one thread at a time.

    Commands are sent with numeric ids (``12 play black D4``) and the answer must carry
    the same id, so a stray line can never be taken for the answer to another command.

    >>> with GTPEngine(["/usr/games/gnugo", "--mode", "gtp"]) as eng:  # doctest: +SKIP
    ...     eng.boardsize(9)
    ...     eng.play("black", "E5")
    ...     eng.genmove("white")
    'D4'
    """

    def __init__(self, args: Sequence[str], timeout: float = DEFAULT_TIMEOUT,
                 stderr_lines: int = 40) -> None:
        """Start ``args`` (program and arguments). ``timeout`` is the default number of
        seconds a command may take; ``stderr_lines`` how much of stderr errors quote."""
        self.args = [str(a) for a in args]
        self.timeout = timeout
        self._stderr_lines = stderr_lines
        self._setup: dict[str, str] = {}
        self._moves: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._start()

    # ------------------------------------------------------------------ process
    def _start(self) -> None:
        self._proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=self._stderr_lines)
        self._ids = itertools.count(1)
        self._threads = [
            threading.Thread(target=_drain_lines, args=(self._proc.stdout, self._lines),
                             daemon=True, name="gtp-stdout"),
            threading.Thread(target=_drain_tail, args=(self._proc.stderr, self._stderr),
                             daemon=True, name="gtp-stderr"),
        ]
        for t in self._threads:
            t.start()

    @property
    def alive(self) -> bool:
        """Whether the process is running (it may still be hung)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def stderr_tail(self) -> str:
        """The last lines the engine wrote to stderr."""
        return "".join(self._stderr)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for t in self._threads:  # EOF follows the kill, so the readers end
            t.join(timeout=1.0)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def _died(self, command: str, reason: str, timed_out: bool = False) -> EngineDiedError:
        """Kill what is left of the process and build the error to raise."""
        proc = self._proc
        if proc is not None and not timed_out:
            try:  # it closed stdout; give it a moment to exit and flush stderr
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
            if proc.returncode is not None:
                reason = f"{reason} (exit status {proc.returncode})"
        self._kill()
        cls = EngineTimeoutError if timed_out else EngineDiedError
        return cls(command, reason, self.stderr_tail())

    def restart(self, replay_moves: bool = True) -> None:
        """Start a fresh process and replay the setup commands (boardsize, komi, level,
        ...) and, with ``replay_moves``, the moves played since the last clear_board."""
        self._kill()
        self._start()
        moves, self._moves = self._moves, []
        for command in list(self._setup.values()):
            self.send(command)
        if replay_moves:
            for command in moves:
                self.send(command)

    def close(self, timeout: float = 2.0) -> None:
        """Ask the engine to quit, kill it if it does not within ``timeout`` seconds."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self.send("quit", timeout=timeout)
            except GTPEngineError:
                pass
        self._kill()

    def __enter__(self) -> GTPEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol
    def send(self, command: str, timeout: float | None = None) -> str:
        """Send one command and return the text of its ``=`` answer (without the ``=``,
        lines joined by newlines, stripped).

        Raises :class:`GTPError` on a ``?`` answer, :class:`EngineDiedError` or
        :class:`EngineTimeoutError` when no answer comes.
        """
        command = " ".join(command.split())  # one line, whatever the caller passed
        if not command:
            raise ValueError("empty GTP command")
        if self._proc is None:
            raise EngineDiedError(command, "the engine is closed (call restart())",
                                  self.stderr_tail())
        ident = next(self._ids)
        try:
            self._proc.stdin.write(f"{ident} {command}\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._died(command, "the engine closed its input") from None
        ok, text = self._read_answer(command, ident, self.timeout if timeout is None else timeout)
        if not ok:
            raise GTPError(command, text)
        self._remember(command, text)
        return text

    def _read_answer(self, command: str, ident: int, timeout: float) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        head: str | None = None
        body: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise self._died(command, f"no answer within {timeout:g} s",
                                 timed_out=True) from None
            if line is None:
                raise self._died(command, "the engine exited before answering")
            line = line.replace("\r", "").rstrip("\n")
            if head is None:
                if not line.strip():
                    continue  # blank lines between answers
                head = line
                status, rest = head[0], head[1:]
                number, _, first = rest.partition(" ")
                if status not in "=?" or number != str(ident):  # not waiting for the rest
                    raise self._died(command, f"unexpected answer {head!r} (wanted ={ident} "
                                     f"or ?{ident})")
                continue
            if not line.strip():
                break
            body.append(line)
        return status == "=", "\n".join([first, *body]).strip()

    def _remember(self, command: str, answer: str) -> None:
        """Keep what restart() must replay."""
        name, _, rest = command.partition(" ")
        if name in _SETUP:
            self._setup[name] = command
            if name == "boardsize":
                self._moves.clear()
        elif name == "clear_board":
            self._moves.clear()
        elif name == "play":
            self._moves.append(command)
        elif name == "genmove" and answer.lower() != "resign":
            self._moves.append(f"play {rest} {answer}")
        elif name == "undo" and self._moves:
            self._moves.pop()

    # ------------------------------------------------------------------ commands
    def list_commands(self) -> list[str]:
        return self.send("list_commands").split()

    def known_command(self, name: str) -> bool:
        return self.send(f"known_command {name}") == "true"

    def name(self) -> str:
        return self.send("name")

    def version(self) -> str:
        return self.send("version")

    def boardsize(self, size: int) -> None:
        self.send(f"boardsize {int(size)}")

    def komi(self, komi: float) -> None:
        self.send(f"komi {float(komi):g}")

    def clear_board(self) -> None:
        self.send("clear_board")

    def play(self, colour: str, vertex: str) -> None:
        """Play ``vertex`` (``"D4"`` or ``"pass"``); :class:`GTPError` if illegal."""
        self.send(f"play {normalise_colour(colour)} {vertex}")

    def genmove(self, colour: str, timeout: float | None = None) -> str:
        """The engine's move, played on its board: an upper-case vertex, ``"pass"`` or
        ``"resign"`` (the board is then unchanged)."""
        move = self.send(f"genmove {normalise_colour(colour)}", timeout=timeout)
        low = move.lower()
        return low if low in ("pass", "resign") else move.upper()

    def undo(self) -> None:
        self.send("undo")

    def list_stones(self, colour: str) -> list[str]:
        """Vertices of ``colour``'s stones (GNU Go extension)."""
        return self.send(f"list_stones {normalise_colour(colour)}").upper().split()

    def all_legal(self, colour: str) -> list[str]:
        """Vertices where ``colour`` may play, pass excluded (GNU Go extension; GNU Go 3.8
        applies the ko and suicide rules of its command line, superko included)."""
        return self.send(f"all_legal {normalise_colour(colour)}").upper().split()

    def is_legal(self, colour: str, vertex: str) -> bool:
        """Whether ``colour`` may play ``vertex`` (GNU Go extension)."""
        return self.send(f"is_legal {normalise_colour(colour)} {vertex}") == "1"

    def final_score(self, timeout: float | None = None) -> str:
        """The engine's result string: ``"B+3.5"``, ``"W+0.5"`` or ``"0"``."""
        return self.send("final_score", timeout=timeout)

    def loadsgf(self, path: str, move_number: int | None = None) -> str:
        """Load an SGF file (GNU Go extension); returns the colour to move. The loaded
        moves are not replayed by restart()."""
        suffix = "" if move_number is None else f" {int(move_number)}"
        return self.send(f"loadsgf {path}{suffix}")

    def showboard(self) -> str:
        return self.send("showboard")


def parse_score(result: str) -> float:
    """``"B+3.5"`` -> 3.5, ``"W+0.5"`` -> -0.5, ``"0"`` -> 0.0 (Black minus White)."""
    text = result.strip().upper()
    if text in ("0", "DRAW", "JIGO"):
        return 0.0
    winner, _, margin = text.partition("+")
    if winner not in ("B", "W") or not margin:
        raise ValueError(f"not a GTP score: {result!r}")
    value = float(margin)
    return value if winner == "B" else -value


def gnugo_args(level: int = 1, path: str = GNUGO_PATH, capture_all_dead: bool = False,
               never_resign: bool = False, extra: Sequence[str] = ()) -> list[str]:
    """The command line of GNU Go under rlgo's rules: Chinese (area) scoring, positional
    superko, suicide forbidden (GNU Go's default)."""
    args = [path, "--mode", "gtp", "--chinese-rules", "--positional-superko",
            "--level", str(int(level))]
    if capture_all_dead:
        args.append("--capture-all-dead")
    if never_resign:
        args.append("--never-resign")
    return args + [str(a) for a in extra]


def gnugo(level: int = 1, board_size: int = 9, komi: float = 7.5, path: str = GNUGO_PATH,
          capture_all_dead: bool = False, never_resign: bool = False,
          extra: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT) -> GTPEngine:
    """GNU Go under rlgo's rules (see :func:`gnugo_args`), board size and komi set."""
    engine = GTPEngine(gnugo_args(level, path, capture_all_dead, never_resign, extra),
                       timeout=timeout)
    try:
        engine.boardsize(board_size)
        engine.komi(komi)
        engine.clear_board()
    except BaseException:
        engine.close()
        raise
    return engine
