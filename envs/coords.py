"""Coordinates: flat action ids <-> GTP vertices ("A1".."T19", no "I") <-> (row, col).

Row 0 is the top row as printed; GTP counts rows from the bottom, so point (row, col) of
an N x N board is the vertex ``COLUMNS[col] + str(N - row)``. Action ``N * N`` is pass.
"""

from __future__ import annotations

COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # GTP skips I


def action_to_gtp(action: int, board_size: int) -> str:
    """``40`` on 9x9 -> ``"E5"``; the pass action -> ``"pass"``."""
    n = board_size
    if action == n * n:
        return "pass"
    if not 0 <= action < n * n:
        raise ValueError(f"action {action} is outside 0..{n * n} for a {n}x{n} board")
    row, col = divmod(action, n)
    return f"{COLUMNS[col]}{n - row}"


def gtp_to_action(vertex: str, board_size: int) -> int:
    """``"E5"`` on 9x9 -> ``40``; ``"pass"`` -> ``N*N``. Case-insensitive."""
    n = board_size
    v = vertex.strip().upper()
    if v == "PASS":
        return n * n
    if len(v) < 2 or v[0] not in COLUMNS[:n] or not v[1:].isdigit():
        raise ValueError(f"not a GTP vertex on a {n}x{n} board: {vertex!r}")
    col, number = COLUMNS.index(v[0]), int(v[1:])
    if not 1 <= number <= n:
        raise ValueError(f"not a GTP vertex on a {n}x{n} board: {vertex!r}")
    return (n - number) * n + col


def action_to_rowcol(action: int, board_size: int) -> tuple[int, int] | None:
    """(row, col) of a point, None for pass."""
    if action == board_size * board_size:
        return None
    return divmod(action, board_size)
