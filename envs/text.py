"""ASCII boards: ``X`` black, ``O`` white, ``.`` (or ``+``) empty, row 0 at the top.

Tests build positions with :func:`parse_board`; the ``ansi`` render mode prints with
:func:`format_board`.
"""

from __future__ import annotations

import numpy as np

from rlgo.envs.coords import COLUMNS

_SYMBOLS = {".": 0, "+": 0, "X": 1, "x": 1, "O": 2, "o": 2}
_CHARS = ".XO"


def parse_board(text: str) -> np.ndarray:
    """An [N, N] int8 array (0 empty, 1 black, 2 white) from rows of ``.XO``.
    Whitespace inside a row is ignored, blank lines are skipped."""
    rows = ["".join(line.split()) for line in text.strip("\n").splitlines()]
    rows = [r for r in rows if r]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows):
        lengths = [len(r) for r in rows]
        raise ValueError(f"an ASCII board must be square; got rows of lengths {lengths}")
    bad = {ch for r in rows for ch in r} - set(_SYMBOLS)
    if bad:
        raise ValueError(f"unknown board characters {sorted(bad)}; use . X O")
    return np.array([[_SYMBOLS[ch] for ch in r] for r in rows], np.int8)


def format_board(board: np.ndarray, last_move: tuple[int, int] | None = None) -> str:
    """Rows with GTP coordinates; the last move is marked with parentheses."""
    n = board.shape[0]
    lines = ["    " + " ".join(COLUMNS[:n])]
    for r in range(n):
        seps = [" "] * (n + 1)
        if last_move is not None and last_move[0] == r:
            seps[last_move[1]], seps[last_move[1] + 1] = "(", ")"
        cells = "".join(seps[c] + _CHARS[int(board[r, c])] for c in range(n)) + seps[n]
        lines.append(f"{n - r:2d} {cells}")
    return "\n".join(lines)
