"""The compiled Go kernels that search code (tree search, rollouts) may call.

These are numba functions over a :class:`Boards` record of B games (every array with a
leading batch axis ``b``) and a :class:`Geometry` of the board size and rules; call them
from ``@njit`` code. Points are flat indices ``p = row * N + col`` and action ``N * N`` is
pass. Colours: ``EMPTY``, ``BLACK``, ``WHITE``; ``3 - c`` is the opponent of ``c``.
``s.chains[b, BOARD]`` is board b's [N*N] colours and ``s.info[b, col]`` its game info,
``col`` one of ``TO_PLAY``, ``PASSES``, ``MOVES``, ``DONE``, ``REASON``, ``LAST_MOVE``
(see :class:`Boards` for every field's shape).

Functions:

* ``place(s, b, p, c, geo)``: put a stone of colour c on the empty point p of board b and
  capture; the move is assumed legal. Updates the chains and ``s.hash[b]`` only: not
  ``info``, the history, the record, the legal mask, nor the superko set.
* ``remember(tab, h)``: add position hash h to one board's superko set,
  ``tab = s.htab[b]`` (after :func:`place`: ``remember(s.htab[b], s.hash[b])``).
* ``legal_point(ch, gh, tab, geo, h0, p, c)``: whether colour c may play the empty point
  p of one board (``ch = s.chains[b]``, ``gh = s.ghash[b]``, ``tab = s.htab[b]``,
  ``h0 = s.hash[b]``): not suicide and, under superko, no repeated position. Inlined.
* ``play_checked(s, b, a, geo, rewards)``: the full move a (pass included) with all the
  bookkeeping, game end and ``rewards`` [2] (Black, White) included; returns ``OK``, or
  ``GAME_OVER``, ``OUT_OF_RANGE`` or ``ILLEGAL`` with the board untouched.
* ``score(s, b, geo)``: Tromp-Taylor area score of board b, Black minus White minus komi.
* ``copy_game(src, g, dst, b)``: ``dst[b] = src[g]``, every field (a root into a scratch
  slot).
* ``planes(s, b, me, out, channels_last)``: the network's input for colour ``me`` into
  ``out``, [N*N, NUM_PLANES] if ``channels_last`` else [NUM_PLANES, N*N]; planes 2t and
  2t+1 hold me's and the opponent's stones t moves ago, the last plane is 1 if me is Black.

A finished game has ``info[b, DONE] == 1`` and ``info[b, REASON]`` ``TWO_PASSES`` or
``MOVE_CAP`` (``ONGOING`` before).

Caching: numba's on-disk cache of an rlgo function that calls these kernels is stamped
with the kernels' source, so editing ``envs/_kernels.py`` recompiles its callers in every
file; a stale cache never runs old kernels (:mod:`rlgo.envs._numba_cache`).
"""

from rlgo.envs._kernels import (
    BLACK,
    BOARD,
    DONE,
    EMPTY,
    GAME_OVER,
    HISTORY,
    ILLEGAL,
    LAST_MOVE,
    MOVE_CAP,
    MOVES,
    NUM_PLANES,
    OK,
    ONGOING,
    OUT_OF_RANGE,
    PASSES,
    REASON,
    TO_PLAY,
    TWO_PASSES,
    WHITE,
    Boards,
    Geometry,
    copy_game,
    legal_point,
    place,
    play_checked,
    remember,
    score,
)
from rlgo.envs._kernels import _planes as planes

__all__ = [
    "BLACK", "BOARD", "DONE", "EMPTY", "GAME_OVER", "HISTORY", "ILLEGAL", "LAST_MOVE",
    "MOVES", "MOVE_CAP", "NUM_PLANES", "OK", "ONGOING", "OUT_OF_RANGE", "PASSES", "REASON",
    "TO_PLAY", "TWO_PASSES", "WHITE",
    "Boards", "Geometry",
    "copy_game", "legal_point", "place", "planes", "play_checked", "remember", "score",
]
