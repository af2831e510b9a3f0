"""A GTP version 2 engine around any rlgo :class:`~rlgo.protocols.Player`: ``rlgo gtp
CHECKPOINT[:greedy|:sample|:search=N]`` makes every checkpoint a Go program that GoGui,
Sabaki, KGS bots or another engine's referee can play.

:class:`GTPServer` is pure logic: :meth:`GTPServer.handle` takes one command line and
returns the response text (``=id result`` or ``? message``, ended by an empty line);
:func:`serve` runs it over stdin/stdout. The game is kept as the list of moves received
(plus a set-up position from ``loadsgf``) and every command replays it into a fresh
one-game :class:`~rlgo.envs.GoEngine` (a few microseconds a move), so ``undo``, ``komi``
and the rest can never leave the engine out of step with its controller. The player is
asked only in ``genmove``, with that engine as its :class:`~rlgo.protocols.Positions`.

Choices where GTP leaves room, or where rlgo's rules engine is narrower than GTP:

* **Rules**: Tromp-Taylor area scoring, suicide illegal, positional superko when the
  checkpoint was trained with it: ``play`` of an occupied point, a suicide or a superko
  repetition answers ``? illegal move``. The move cap is :data:`MOVES_PER_POINT` x N*N
  (far above rlgo's training cap of 2 x N*N), after which moves are illegal.
* **Colours out of turn** (``play b`` twice, e.g. for handicap stones): the colour that
  was to move is given a pass first, so the game stays alternating and the board is
  the one the controller sees; ``undo`` takes back both.
* **After two passes** the game is over (``final_score`` counts it, and ``genmove``
  answers ``pass``), but a controller may go on (KGS's clean-up phase after a dispute,
  GoGui after passes): the next ``play`` or ``kgs-genmove_cleanup`` drops the two
  passes from the rules engine's history (the position and the colour to move are the
  same) and play continues.
* **Board size**: only the sizes given (a checkpoint's network plays one size):
  ``? unacceptable size`` for the others.
* **Passing when settled**: ``genmove`` passes when the opponent has just passed and the
  Tromp-Taylor score of the position already favours the engine, else it plays the
  player's move (which may itself be a pass).
* **Resignation** (off unless ``resign_below`` is set): when the player's value estimate
  (``Decision.extras``: a search's ``search_value``, else the network's ``value``, else
  a Q-learner's ``q``, all in [-1, 1] for the player to move) says a win probability
  ``(v + 1) / 2`` below ``resign_below``, ``genmove`` answers ``resign``.
* **Clock** (``time_settings``, ``time_left``): a player with a ``simulations``
  attribute (``:search=N``) gets, per move, ``min(N, budget / seconds_per_simulation)``
  simulations, with the budget ``SAFETY`` x the time left divided by the stones left in
  byo-yomi, or by ``max(MIN_MOVES_LEFT, empty points / 2)`` in main time, and seconds
  per simulation measured on the moves so far (``DEFAULT_SECONDS_PER_SIMULATION``
  before the first). Other players ignore the clock.
* **kgs-genmove_cleanup** (KGS's clean-up phase, where dead stones must be captured
  before the game can end): never resigns and never passes while a *clean-up move*
  exists: a legal point in neither side's Tromp-Taylor area (dame, or next to stones of
  both colours, as dead stones inside one's area are) or a capture, and not a
  self-atari of a stone that captures nothing. The player's move is played when it is
  one, else captures first, then points next to the opponent's stones. HACK, honestly
  partial: a dead group that still owns an eye space of two or more points is not
  attacked, and the game then ends with it on the board.
* **loadsgf** ``file [move_number]``: board size (one of the allowed sizes), komi (kept
  when the file has none), set-up stones and the main line up to the position before
  ``move_number``.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import IO

import numpy as np
from sgfmill import sgf

from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import action_to_gtp, action_to_rowcol, gtp_to_action
from rlgo.envs.engine import BLACK, WHITE
from rlgo.envs.sgf import SGFError, replay_sgf, result_string
from rlgo.envs.text import format_board
from rlgo.protocols import Decision, Player, Positions, close_players

__all__ = ["COMMANDS", "GTPServer", "serve"]

MOVES_PER_POINT = 8
"""The engine's move cap is this times N*N (passes included)."""
SAFETY = 0.5
"""Share of a move's time budget a search may plan to spend (the rest absorbs start-up,
a slower move, the controller's latency)."""
MIN_MOVES_LEFT = 10
"""Moves still to play assumed in main time, at least."""
DEFAULT_SECONDS_PER_SIMULATION = 0.01
"""Assumed before the first search has been timed."""
RESIGN = -1
"""What the move chooser returns for a resignation."""

COMMANDS = ("protocol_version", "name", "version", "known_command", "list_commands", "quit",
            "boardsize", "clear_board", "komi", "play", "genmove", "undo", "showboard",
            "final_score", "time_settings", "time_left", "loadsgf", "kgs-genmove_cleanup")
"""The commands :class:`GTPServer` answers, as ``list_commands`` lists them."""

_COLOURS = {"b": BLACK, "black": BLACK, "w": WHITE, "white": WHITE}
_NAMES = {BLACK: "Black", WHITE: "White"}


class GTPFailure(Exception):
    """A command failed; its message is the text after ``?``."""


def _clean(line: str) -> str:
    """GTP's preprocessing: control characters other than HT and LF removed, everything
    from ``#`` on dropped, HT turned into a space, surrounding white space stripped."""
    text = "".join(ch for ch in line if ch in "\t\n" or (ord(ch) >= 32 and ord(ch) != 127))
    return text.partition("#")[0].replace("\t", " ").strip()


def _colour(word: str) -> int:
    try:
        return _COLOURS[word.lower()]
    except KeyError:
        raise GTPFailure(f"syntax error: {word!r} is not a colour") from None


MAX_INT = 2**31 - 1
"""GTP's ``int``: an unsigned integer up to 2^31 - 1 (GTP 2, section 2.6)."""


def _number(word: str, kind: type = float) -> float:
    """``word`` as GTP's ``float`` (finite) or ``int`` (0..:data:`MAX_INT`); a syntax
    error otherwise, so that no command meets a number it cannot hold."""
    try:
        value = kind(word)
    except ValueError:
        value = None
    if kind is int:
        if value is None or not 0 <= value <= MAX_INT:
            raise GTPFailure(f"syntax error: {word!r} is not an integer 0..{MAX_INT}")
        return value
    if value is None or not math.isfinite(value):
        raise GTPFailure(f"syntax error: {word!r} is not a number")
    return value


def _effective(moves: list[int], pass_action: int) -> list[int]:
    """The moves as the rules engine plays them: a move that follows two passes first
    drops them (same position, same colour to move), so play can go on after them."""
    out: list[int] = []
    for a in moves:
        if len(out) >= 2 and out[-1] == out[-2] == pass_action:
            del out[-2:]
        out.append(a)
    return out


class GTPServer:
    """One game of Go over GTP, moves chosen by a :class:`Player`.

    ``make_player(rules)`` builds the player for the current board size and komi (again
    when they change); ``rules`` gives the starting size and komi and the ko rule;
    ``board_sizes`` the sizes ``boardsize`` accepts (default: ``rules``' size only).
    """

    def __init__(self, make_player: Callable[[Rules], Player], rules: Rules, *,
                 board_sizes: Collection[int] | None = None, name: str = "rlgo",
                 version: str = "", resign_below: float | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        if resign_below is not None and not 0.0 <= resign_below < 1.0:
            raise ValueError(f"resign_below must be in [0, 1), got {resign_below}")
        self.make_player = make_player
        self.board_sizes = frozenset(board_sizes or (rules.board_size,))
        self.name = name
        self.version = version
        self.resign_below = resign_below
        self.superko = rules.superko
        self.size = rules.board_size
        self.komi = float(rules.komi)
        self.finished = False
        """True once ``quit`` was answered."""
        self._log = log or (lambda text: None)
        self._player: Player | None = None
        self._player_rules: Rules | None = None
        self._setup: tuple[np.ndarray, int] | None = None  # loadsgf's stones, colour to move
        self._entries: list[list[int]] = []  # the actions of each play/genmove, for undo
        self._time_settings: tuple[float, float, int] | None = None
        self._clock: dict[int, tuple[float, int]] = {}
        self._seconds_per_simulation: float | None = None
        self._handlers: dict[str, Callable[[list[str]], str]] = {
            name: getattr(self, "_cmd_" + name.replace("-", "_")) for name in COMMANDS}
        self._refresh()

    # ------------------------------------------------------------------ protocol
    def handle(self, line: str) -> str | None:
        """The response to one command line, ``=id result`` or ``?id message`` followed by
        an empty line; None for a line that holds no command (empty, a comment)."""
        words = _clean(line).split()
        if not words:
            return None
        ident = words.pop(0) if words[0].isdigit() else ""
        if not words:
            return f"?{ident} syntax error: no command\n\n"
        handler = self._handlers.get(words[0].lower())
        if handler is None:
            return f"?{ident} unknown command\n\n"
        try:
            result = handler(words[1:])
        except GTPFailure as exc:
            return f"?{ident} {exc}\n\n"
        except Exception as exc:  # an engine must answer, whatever went wrong
            self._log(traceback.format_exc())
            return f"?{ident} internal error: {type(exc).__name__}: {exc}\n\n"
        return f"={ident}" + (f" {result}" if result else "") + "\n\n"

    def close(self) -> None:
        """Release the player (its processes, for a GTP player)."""
        close_players(self._player)
        self._player = self._player_rules = None

    # ------------------------------------------------------------------ game state
    @property
    def rules(self) -> Rules:
        """The rules of the current game (the move cap raised, see module docstring)."""
        return Rules(board_size=self.size, komi=self.komi, superko=self.superko,
                     max_moves=MOVES_PER_POINT * self.size**2)

    @property
    def moves(self) -> list[int]:
        """Every action received or played since the board was set, passes included."""
        return [a for entry in self._entries for a in entry]

    @property
    def engine(self) -> GoEngine:
        """The current position, ready for the next move (see module docstring)."""
        return self._engine

    @property
    def game_over(self) -> bool:
        """The last two moves were passes (or the move cap was reached)."""
        return self._over or bool(self._engine.done[0])

    def _replay(self, moves: list[int]) -> tuple[GoEngine, bool]:
        """The engine after ``moves`` with trailing passes that end the game dropped, and
        whether they did."""
        rules = self.rules
        effective = _effective(moves, rules.pass_action)
        over = len(effective) >= 2 and effective[-1] == effective[-2] == rules.pass_action
        engine = GoEngine(1, rules)
        if self._setup is not None:
            engine.set_position(0, *self._setup)
        for a in effective[:-2] if over else effective:
            if engine.done[0]:  # the move cap: what follows is recorded, not played
                break
            engine.step(np.array([a]))
        return engine, over

    def _refresh(self) -> None:
        self._engine, self._over = self._replay(self.moves)

    def _add(self, colour: int, action: int) -> None:
        """Play ``action`` for ``colour`` (a pass for the other colour first when it is not
        ``colour``'s turn); ``? illegal move`` leaves everything as it was."""
        entry = self._turn(colour) + [action]
        engine, _ = self._replay(self.moves + entry[:-1])
        if engine.done[0] or not engine.legal[0, action]:
            raise GTPFailure("illegal move")
        self._entries.append(entry)
        self._refresh()

    def _turn(self, colour: int) -> list[int]:
        """The pass the other colour makes first when it is its turn, else nothing."""
        to_play = int(self._engine.to_play[0])
        return [] if to_play == colour else [self.rules.pass_action]

    def _vertex(self, word: str) -> int:
        try:
            return gtp_to_action(word, self.size)
        except ValueError:
            raise GTPFailure(f"syntax error: {word!r} is not a vertex on "
                             f"{self.size}x{self.size}") from None

    def _clear(self) -> None:
        self._setup = None
        self._entries = []
        self._refresh()

    # ------------------------------------------------------------------ administrative
    def _cmd_protocol_version(self, args: list[str]) -> str:
        return "2"

    def _cmd_name(self, args: list[str]) -> str:
        return self.name

    def _cmd_version(self, args: list[str]) -> str:
        return self.version

    def _cmd_known_command(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPFailure("syntax error: known_command takes one command name")
        return "true" if args[0].lower() in self._handlers else "false"

    def _cmd_list_commands(self, args: list[str]) -> str:
        return "\n".join(COMMANDS)

    def _cmd_quit(self, args: list[str]) -> str:
        self.finished = True
        return ""

    # ------------------------------------------------------------------ setup
    def _cmd_boardsize(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPFailure("syntax error: boardsize takes one number")
        size = int(_number(args[0], int))
        if size not in self.board_sizes:
            raise GTPFailure("unacceptable size")
        self.size = size
        self._clear()
        return ""

    def _cmd_clear_board(self, args: list[str]) -> str:
        self._clear()
        return ""

    def _cmd_komi(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPFailure("syntax error: komi takes one number")
        komi = float(_number(args[0]))
        try:
            Rules(board_size=self.size, komi=komi)
        except ValueError as exc:
            raise GTPFailure(f"syntax error: {exc}") from None
        self.komi = komi
        self._refresh()
        return ""

    def _cmd_loadsgf(self, args: list[str]) -> str:
        if len(args) not in (1, 2):
            raise GTPFailure("syntax error: loadsgf takes a file name and a move number")
        limit = int(_number(args[1], int)) if len(args) == 2 else None
        try:
            text = Path(args[0]).read_bytes()
            _, actions = replay_sgf(text, superko=self.superko)
            game = sgf.Sgf_game.from_bytes(text)
        except (OSError, SGFError, ValueError) as exc:
            raise GTPFailure(f"cannot load file: {exc}") from None
        size, root = int(game.get_size()), game.get_root()
        if size not in self.board_sizes:
            raise GTPFailure(f"cannot load file: its board is {size}x{size}; this engine "
                             f"plays {', '.join(f'{n}x{n}' for n in sorted(self.board_sizes))}")
        self.size = size
        if root.has_property("KM"):
            self.komi = float(root.get("KM"))
        self._setup = _setup_stones(root, size)
        keep = len(actions) if limit is None else max(0, limit - 1)
        self._entries = [[a] for a in actions[:keep]]
        self._refresh()
        return ""

    # ------------------------------------------------------------------ play
    def _cmd_play(self, args: list[str]) -> str:
        if len(args) != 2:
            raise GTPFailure("syntax error: play takes a colour and a vertex")
        self._add(_colour(args[0]), self._vertex(args[1]))
        return ""

    def _cmd_undo(self, args: list[str]) -> str:
        if not self._entries:
            raise GTPFailure("cannot undo")
        self._entries.pop()
        self._refresh()
        return ""

    def _cmd_genmove(self, args: list[str]) -> str:
        return self._genmove(args, cleanup=False)

    def _cmd_kgs_genmove_cleanup(self, args: list[str]) -> str:
        return self._genmove(args, cleanup=True)

    def _genmove(self, args: list[str], cleanup: bool) -> str:
        if len(args) != 1:
            raise GTPFailure("syntax error: genmove takes a colour")
        colour = _colour(args[0])
        entry = self._turn(colour)
        engine, over = self._replay(self.moves + entry)
        if engine.done[0] or (over and not cleanup):
            action = self.rules.pass_action  # the game is over: pass, and stay in step
        else:
            action = self._choose(engine, colour, cleanup)
            if action == RESIGN:
                return "resign"  # the board is unchanged
        self._entries.append(entry + [action])
        self._refresh()
        return action_to_gtp(action, self.size)

    # ------------------------------------------------------------------ scoring, display
    def _cmd_final_score(self, args: list[str]) -> str:
        return result_string(float(self._engine.scores()[0]))

    def _cmd_showboard(self, args: list[str]) -> str:
        moves = self.moves
        mark = action_to_rowcol(moves[-1], self.size) if moves else None
        status = "game over (two passes)" if self.game_over else \
            f"{_NAMES[int(self._engine.to_play[0])]} to move"
        return "\n" + format_board(self._engine.boards[0], mark) + \
            f"\n{len(moves)} moves, komi {self.komi:g}, {status}"

    # ------------------------------------------------------------------ clock
    def _cmd_time_settings(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GTPFailure("syntax error: time_settings takes main time, byo-yomi time "
                             "and byo-yomi stones")
        main, byo, stones = _number(args[0]), _number(args[1]), int(_number(args[2], int))
        if min(main, byo, stones) < 0:
            raise GTPFailure("syntax error: negative time")
        # GTP: byo-yomi time > 0 with 0 stones means no time limit
        self._time_settings = None if byo > 0 and stones == 0 else (main, byo, stones)
        self._clock = {}
        return ""

    def _cmd_time_left(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GTPFailure("syntax error: time_left takes a colour, a time and stones")
        colour = _colour(args[0])
        self._clock[colour] = (_number(args[1]), int(_number(args[2], int)))
        return ""

    def _budget(self, colour: int, engine: GoEngine) -> float | None:
        """Seconds this move may take by the clock, None without a time limit."""
        if self._time_settings is None:
            return None
        main, byo, stones = self._time_settings
        left, stones_left = self._clock.get(colour, (main, 0) if main > 0 else (byo, stones))
        if stones_left > 0:
            return SAFETY * left / stones_left
        empty = int((engine.boards[0] == 0).sum())
        return SAFETY * left / max(MIN_MOVES_LEFT, empty // 2)

    # ------------------------------------------------------------------ choosing a move
    @property
    def player(self) -> Player:
        """The player for the current rules, built on first use."""
        rules = self.rules
        if self._player is None or self._player_rules != rules:
            self.close()
            self._player, self._player_rules = self.make_player(rules), rules
        return self._player

    def _choose(self, engine: GoEngine, colour: int, cleanup: bool) -> int:
        """The move for ``colour`` (to play in ``engine``), or RESIGN."""
        pass_action = self.rules.pass_action
        score = float(engine.scores()[0]) * (1 if colour == BLACK else -1)
        record = engine.actions(0)
        opponent_passed = len(record) > 0 and record[-1] == pass_action
        if opponent_passed and score > 0 and not cleanup:
            self._log(f"genmove {_NAMES[colour]}: the opponent passed and we lead by "
                      f"{score:g}: pass")
            return pass_action
        decision = self._ask(engine, colour)
        action = int(decision.actions[0])
        if not engine.legal[0, action]:
            self._log(f"the player chose the illegal action {action}; passing instead")
            action = pass_action
        win = _win_probability(decision)
        if cleanup:
            return _cleanup_move(engine, colour, action)
        if self.resign_below is not None and win is not None and win < self.resign_below:
            self._log(f"genmove {_NAMES[colour]}: win probability {win:.3f} < "
                      f"{self.resign_below:g}: resign")
            return RESIGN
        return action

    def _ask(self, engine: GoEngine, colour: int) -> Decision:
        """The player's decision, its search scaled to the clock (module docstring)."""
        player = self.player
        positions = Positions(engine.observations(), engine.legal.copy(), engine,
                              np.arange(1))
        full = getattr(player, "simulations", None)
        budget = self._budget(colour, engine)
        if full is not None and budget is not None:
            per = self._seconds_per_simulation or DEFAULT_SECONDS_PER_SIMULATION
            player.simulations = int(min(full, max(1, budget / per)))
        start = time.perf_counter()
        try:
            decision = player.act(positions)
        finally:
            used = getattr(player, "simulations", None)
            if full is not None:
                player.simulations = full
        seconds = time.perf_counter() - start
        if used:
            per = seconds / used
            old = self._seconds_per_simulation
            self._seconds_per_simulation = per if old is None else 0.5 * (old + per)
        win = _win_probability(decision)
        self._log(f"genmove {_NAMES[colour]}: "
                  f"{action_to_gtp(int(decision.actions[0]), self.size)}"
                  + (f", win probability {win:.3f}" if win is not None else "")
                  + (f", {used} simulations" if used else "") + f", {seconds:.2f} s")
        return decision


def _win_probability(decision: Decision) -> float | None:
    """The mover's win probability from the player's value estimate, if it gives one."""
    for key in ("search_value", "value", "q"):
        values = decision.extras.get(key)
        if values is not None and len(values):
            return float(np.clip((float(values[0]) + 1.0) / 2.0, 0.0, 1.0))
    return None


def _setup_stones(root: sgf.Tree_node, size: int) -> tuple[np.ndarray, int] | None:
    """An SGF root's set-up stones (AB/AW) and colour to move (PL), None without any."""
    black, white, _ = root.get_setup_stones()
    if not black and not white:
        return None
    board = np.zeros((size, size), np.int8)
    for value, points in ((BLACK, black), (WHITE, white)):
        for row, col in points:
            board[size - 1 - row, col] = value
    to_play = WHITE if root.has_property("PL") and root.get("PL") == "w" else BLACK
    return board, to_play


# ---------------------------------------------------------------------- clean-up moves


def _liberties(board: np.ndarray, point: int, n: int) -> int:
    """Liberties of the chain through ``point`` of the flat board [N*N]."""
    colour, seen, libs, todo = board[point], {point}, set(), [point]
    while todo:
        row, col = divmod(todo.pop(), n)
        for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1)):
            q = r * n + c
            if not (0 <= r < n and 0 <= c < n) or q in seen:
                continue
            if board[q] == 0:
                libs.add(q)
            elif board[q] == colour:
                seen.add(q)
                todo.append(q)
    return len(libs)


def _cleanup_move(engine: GoEngine, colour: int, proposed: int) -> int:
    """The clean-up move (module docstring): ``proposed`` when it is one, else the best
    ranked (captures, then contact with the opponent), else a pass."""
    n = engine.rules.board_size
    board = engine.boards[0].reshape(-1)
    owners = engine.owners()[0]
    opponent = 3 - colour
    ranked = []
    for p in np.flatnonzero(engine.legal[0, :-1]):
        after = engine.clone()
        after.step(np.array([p]))
        new = after.boards[0].reshape(-1)
        captures = int((board == opponent).sum() - (new == opponent).sum())
        if captures == 0 and (owners[p] != 0 or _liberties(new, int(p), n) < 2):
            continue  # in someone's area, or a self-atari that captures nothing
        row, col = divmod(int(p), n)
        contact = any(0 <= r < n and 0 <= c < n and board[r * n + c] == opponent
                      for r, c in ((row - 1, col), (row + 1, col), (row, col - 1),
                                   (row, col + 1)))
        ranked.append((captures == 0, not contact, int(p)))
    if not ranked:
        return engine.rules.pass_action
    if any(p == proposed for *_, p in ranked):
        return proposed
    return min(ranked)[2]


def serve(server: GTPServer, stdin: IO[str] | None = None,
          stdout: IO[str] | None = None) -> None:
    """Answer commands from ``stdin`` on ``stdout`` (default: the process's) until
    ``quit`` or the end of input."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    for line in stdin:
        response = server.handle(line)
        if response is not None:
            stdout.write(response)
            stdout.flush()
        if server.finished:
            break
