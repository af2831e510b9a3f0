"""SGF in and out (through sgfmill): write any game, replay an SGF into the engine.

Moves are stored as action ids; SGF's coordinates count rows from the bottom like GTP,
which sgfmill converts to (row, col) with row 0 at the bottom. Only main-line moves are
replayed; setup stones (AB/AW) are loaded as the starting position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sgfmill import sgf

from rlgo import __version__  # the package's version constant, no upward import
from rlgo.envs.engine import GoEngine, IllegalMoveError, Rules

_COLOUR = {1: "b", 2: "w"}


class SGFError(ValueError):
    """The SGF text is malformed or its moves are not a legal game under rlgo's rules."""


def _to_sgf_point(action: int, n: int) -> tuple[int, int] | None:
    if action == n * n:
        return None
    row, col = divmod(action, n)
    return (n - 1 - row, col)


def _from_sgf_point(point: tuple[int, int] | None, n: int) -> int:
    if point is None:
        return n * n
    row, col = point
    return (n - 1 - row) * n + col


def game_to_sgf(
    actions: Sequence[int],
    rules: Rules,
    black: str = "Black",
    white: str = "White",
    result: str | None = None,
    comment: str | None = None,
) -> str:
    """SGF text of a game from the empty board, Black first, ``actions`` as action ids.
    ``result`` is an SGF RE value such as ``"B+3.5"``, ``"W+R"`` or ``"0"`` (draw)."""
    n = rules.board_size
    game = sgf.Sgf_game(size=n)
    root = game.get_root()
    root.set("KM", float(rules.komi))
    root.set("RU", "Tromp-Taylor" + (" (positional superko)" if rules.superko else ""))
    root.set("PB", black)
    root.set("PW", white)
    root.set("AP", ("rlgo", __version__))
    if result is not None:
        root.set("RE", result)
    if comment:
        root.set("C", comment)
    colour = 1
    for a in actions:
        node = game.extend_main_sequence()
        node.set_move(_COLOUR[colour], _to_sgf_point(int(a), n))
        colour = 3 - colour
    return game.serialise().decode("utf-8")


def result_string(score: float) -> str:
    """SGF RE value for a Tromp-Taylor score (Black minus White, komi included)."""
    if score > 0:
        return f"B+{score:g}"
    if score < 0:
        return f"W+{-score:g}"
    return "0"


def replay_sgf(text: str | bytes, superko: bool = True) -> tuple[GoEngine, list[int]]:
    """Replay an SGF game into a one-game engine; returns the engine and the actions.

    Board size and komi come from the SGF (komi default: rlgo's default for the size).
    Every error is an :class:`SGFError`: malformed SGF or property values, a game other
    than Go (``GM`` not 1), an unsupported size, setup stones after the root node (they
    would change the position silently), a move out of turn order, or an illegal move
    (with its move number). A move in the root node is played, not dropped.
    """
    try:
        return _replay(text, superko)
    except SGFError:
        raise
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise SGFError(f"malformed SGF: {exc}") from exc


def _replay(text: str | bytes, superko: bool) -> tuple[GoEngine, list[int]]:
    game = sgf.Sgf_game.from_bytes(text.encode() if isinstance(text, str) else text)
    root = game.get_root()
    if root.has_property("GM") and root.get("GM") != 1:
        raise SGFError(f"GM[{root.get('GM')}] is not a game of Go (GM[1])")
    n = game.get_size()
    komi = float(root.get("KM")) if root.has_property("KM") else None
    try:
        rules = Rules(board_size=n, komi=komi, superko=superko)
    except ValueError as exc:
        raise SGFError(str(exc)) from exc
    eng = GoEngine(1, rules)
    black, white, _empty = root.get_setup_stones()
    if black or white:
        board = np.zeros((n, n), np.int8)
        for (r, c) in black:
            board[n - 1 - r, c] = 1
        for (r, c) in white:
            board[n - 1 - r, c] = 2
        first = 2 if root.has_property("PL") and root.get("PL") == "w" else 1
        try:
            eng.set_position(0, board, first)
        except ValueError as exc:
            raise SGFError(f"invalid setup position: {exc}") from exc
    actions: list[int] = []
    for number, node in enumerate(game.get_main_sequence()):
        if number > 0 and any(node.has_property(p) for p in ("AB", "AW", "AE")):
            raise SGFError(f"node {number} adds or removes stones (AB/AW/AE): only the root "
                           "node may set up a position")
        colour, point = node.get_move()
        if colour is None:
            continue
        if point is not None and not (0 <= point[0] < n and 0 <= point[1] < n):
            raise SGFError(f"move {number} is off the {n}x{n} board")
        a = _from_sgf_point(point, n)
        if {"b": 1, "w": 2}[colour] != int(eng.to_play[0]):
            raise SGFError(f"move {number} is played out of turn ({colour.upper()})")
        try:
            eng.step(np.array([a]))
        except IllegalMoveError as exc:
            raise SGFError(f"move {number} ({colour.upper()} {point}) is illegal: {exc}") from exc
        actions.append(a)
    return eng, actions
