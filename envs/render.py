"""Board pictures with numpy only: the ``rgb_array`` render mode of the Go envs.

The picture is drawn on a grid of square tiles, one per point, ``cell`` pixels wide and
centred on the point. Tiles never overlap, so every stone, star point and marker is one
precomputed anti-aliased sprite blended into its tile by a single vectorised expression.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

WOOD = (220, 179, 92)
LINE = (40, 28, 14)
BLACK_STONE, BLACK_EDGE = (22, 22, 22), (0, 0, 0)
WHITE_STONE, WHITE_EDGE = (240, 240, 236), (60, 60, 60)
MARK = (214, 40, 40)  # last move: a red dot reads on both colours


def star_points(n: int) -> list[tuple[int, int]]:
    """(row, col) of the hoshi: the 4-4 (from 13x13) or 3-3 (from 7x7) corner points, the
    centre of odd boards, and the side points of odd boards from 15x15 (9 on 19x19)."""
    pts = []
    if n >= 7:
        d = 3 if n >= 13 else 2
        lines = [d, n // 2, n - 1 - d] if n % 2 and n >= 15 else [d, n - 1 - d]
        pts = [(r, c) for r in lines for c in lines]
    if n % 2 and (n // 2, n // 2) not in pts:
        pts.append((n // 2, n // 2))
    return pts


@lru_cache(maxsize=32)
def _disk(cell: int, radius: float) -> np.ndarray:
    """[cell, cell] float32 coverage (0..1) of a disk centred in the tile."""
    c = (cell - 1) / 2
    yy, xx = np.mgrid[0:cell, 0:cell]
    dist = np.hypot(yy - c, xx - c)
    return np.clip(radius + 0.5 - dist, 0.0, 1.0).astype(np.float32)


def _blend(tiles: np.ndarray, where: np.ndarray, alpha: np.ndarray, colour) -> None:
    """Blend ``colour`` with coverage ``alpha`` [cell, cell] into the selected tiles.
    ``tiles`` is [N, N, cell, cell, 3] float32, ``where`` [N, N] bool."""
    if not where.any():
        return
    a = alpha[..., None]
    tiles[where] = tiles[where] * (1.0 - a) + np.asarray(colour, np.float32) * a


def draw_board(board: np.ndarray, last_move: tuple[int, int] | None = None,
               cell: int = 32) -> np.ndarray:
    """Picture of a position as an [H, W, 3] uint8 array, H = W = (N + 1) * cell.

    ``board`` is [N, N] with 0 empty, 1 black, 2 white, row 0 at the top (as in
    :func:`rlgo.envs.text.format_board`); ``last_move`` is the (row, col) to mark.
    """
    board = np.asarray(board)
    n = board.shape[0]
    if board.shape != (n, n):
        raise ValueError(f"board must be square, got shape {board.shape}")
    if cell < 8:
        raise ValueError(f"cell must be at least 8 pixels, got {cell}")
    size = (n + 1) * cell
    img = np.empty((size, size, 3), np.float32)
    img[:] = WOOD

    # Grid: point (r, c) sits at pixel (m + r * cell, m + c * cell).
    m, lw = cell, max(1, cell // 24)
    lo, hi = m - lw // 2, m + (n - 1) * cell + (lw + 1) // 2
    for k in range(n):
        t, w = m + k * cell - lw // 2, lw
        if k in (0, n - 1):  # the border is drawn twice as heavy, outwards
            t, w = (t - lw, 2 * lw) if k == 0 else (t, 2 * lw)
        img[t:t + w, lo - lw:hi + lw] = LINE
        img[lo - lw:hi + lw, t:t + w] = LINE

    # Tiles: the square of side ``cell`` centred on each point.
    t0 = m - cell // 2
    region = img[t0:t0 + n * cell, t0:t0 + n * cell]
    # ``region`` is a strided slice, so this is a copy: blend on it, then write it back.
    tiles = np.ascontiguousarray(region.reshape(n, cell, n, cell, 3).transpose(0, 2, 1, 3, 4))

    stars = np.zeros((n, n), np.bool_)
    for r, c in star_points(n):
        stars[r, c] = True
    _blend(tiles, stars & (board == 0), _disk(cell, max(1.5, cell * 0.09)), LINE)

    radius = cell * 0.47
    outline = max(1.0, cell / 20)
    edge, fill = _disk(cell, radius), _disk(cell, radius - outline)
    for colour, fill_rgb, edge_rgb in ((1, BLACK_STONE, BLACK_EDGE), (2, WHITE_STONE, WHITE_EDGE)):
        sel = board == colour
        _blend(tiles, sel, edge, edge_rgb)
        _blend(tiles, sel, fill, fill_rgb)

    if last_move is not None:
        mark = np.zeros((n, n), np.bool_)
        mark[last_move] = True
        _blend(tiles, mark, _disk(cell, max(2.0, cell * 0.16)), MARK)

    region[:] = tiles.transpose(0, 2, 1, 3, 4).reshape(n * cell, n * cell, 3)
    return np.rint(img).astype(np.uint8)
