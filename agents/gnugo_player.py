"""GNU Go as a player: a :class:`rlgo.agents.gtp_player.GTPPlayer` configured for GNU Go
3.8 (see that module for processes, syncing, seeds and failures).

Rules. GNU Go runs with Chinese (area) scoring, suicide forbidden, positional superko (or
no ko rule at all when ``rules.superko`` is False, as rlgo then has none) and
``--capture-all-dead``: it passes only once every dead stone of the opponent is off the
board, so the Tromp-Taylor count of rlgo's two-pass ending is the real result of the game.

Resignation. GNU Go runs with ``--never-resign``: every game is played out and scored by
Tromp-Taylor like every other game in the database, so results of all players are
comparable and each game has a score. Should a "resign" come anyway, it is played as a
pass and counted in :attr:`GnuGoPlayer.resignations`.

Monte Carlo mode. GNU Go 3.8 also has an experimental Monte-Carlo move generator for
boards up to 9x9 (``--monte-carlo``: UCT with pattern-guided playouts; ``level`` x
``--mc-games-per-level`` playouts per move, 8,000 per level by default):
``GnuGoPlayer.monte_carlo(playouts, rules)`` runs it at level 1 with exactly ``playouts``
playouts per move, named ``gnugo-mc:<playouts>``: a Monte-Carlo anchor family whose
strength is set by its budget, like ``rollout:<playouts>`` and Pachi's, and which
reaches above GNU Go's own level 10 on small boards (on 7x7, 80,000 playouts won 9 of 10
probe games against ``gnugo:10``, 8,000 playouts 3 of 10), where Pachi cannot be
installed. Its floor is high: GNU Go's patterns guide the tree, and on 9x9 even one
playout per move won 10 of 10 probe games against ``rollout:512`` and against
``rollout:128``, so it cannot bridge the rollout players to GNU Go there.

Seeds. GNU Go reseeds its random generator with its ``random_seed`` before every move, so
a move depends only on the position, its history and that seed. The player sets the seed
``hash(seed, g)`` before each ``genmove`` in game ``g``: games differ from each other,
and a match is reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlgo.agents.gtp_player import GTPPlayer, GTPPlayerError
from rlgo.envs import Rules
from rlgo.gtp.client import DEFAULT_TIMEOUT, GNUGO_PATH, gnugo_args

__all__ = ["GnuGoError", "GnuGoPlayer", "MAX_LEVEL", "MAX_MONTE_CARLO_SIZE"]

MAX_LEVEL = 10
"""GNU Go's strongest (and default) level; levels run 0..10."""

MAX_MONTE_CARLO_SIZE = 9
"""The largest board of GNU Go's Monte Carlo mode."""

GnuGoError = GTPPlayerError
"""The error of every GTP player, GNU Go's included (the name callers already catch)."""


class GnuGoPlayer(GTPPlayer):
    """GNU Go 3.8 at ``level`` (0..10), named ``gnugo:<level>``, or in its Monte Carlo
    mode (:meth:`monte_carlo`; boards up to 9x9), named ``gnugo-mc:<playouts>``."""

    kind = "gnugo"
    """Player kind stored in the match database."""

    def __init__(self, level: int, rules: Rules, *, mc_playouts: int = 0,
                 seed: int = 0, path: str = GNUGO_PATH, processes: int = 8,
                 workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        """
        Args:
            level: GNU Go's ``--level``, 0 (fastest, weakest) .. 10 (strongest).
            rules: board size, komi and ko rule of the games it will play.
            mc_playouts: > 0: GNU Go's Monte Carlo move generator with this many
                playouts per move (``level`` is then ignored; module docstring); boards
                up to 9x9 only.
            seed: base of the per-game random seeds (module docstring, "Seeds").
            path: the GNU Go executable.
            processes: most GNU Go processes kept (about 22 MB each).
            workers: processes thinking at once; default: the CPU count.
            timeout: seconds one GTP command may take before the process counts as hung.

        Raises GnuGoError if GNU Go cannot be started (the first process starts here),
        ValueError for a level outside 0..10, negative playouts, or Monte Carlo mode on a
        board over 9x9.
        """
        if not (isinstance(level, (int, np.integer)) and 0 <= level <= MAX_LEVEL):
            raise ValueError(f"GNU Go level must be an integer in 0..{MAX_LEVEL}, got {level!r}")
        if not (isinstance(mc_playouts, (int, np.integer)) and mc_playouts >= 0):
            raise ValueError(f"GNU Go's Monte Carlo playouts must be an integer >= 0, "
                             f"got {mc_playouts!r}")
        if mc_playouts and rules.board_size > MAX_MONTE_CARLO_SIZE:
            n = rules.board_size
            raise ValueError(f"GNU Go's Monte Carlo mode plays boards up to "
                             f"{MAX_MONTE_CARLO_SIZE}x{MAX_MONTE_CARLO_SIZE}, not {n}x{n}")
        self.mc_playouts = int(mc_playouts)
        self.level = 1 if mc_playouts else int(level)
        self.path = path
        extra = ["--monte-carlo", "--mc-games-per-level", str(self.mc_playouts)] \
            if mc_playouts else []
        args = gnugo_args(self.level, path, capture_all_dead=True, never_resign=True,
                          extra=extra)
        if not rules.superko:
            # rlgo without superko has no ko rule at all; gnugo_args always asks for superko.
            args = ["--no-ko" if a == "--positional-superko" else a for a in args]
        name = f"gnugo-mc:{self.mc_playouts}" if mc_playouts else f"gnugo:{self.level}"
        super().__init__(args, rules, name=name, seed=seed, program="GNU Go",
                         install_hint="install it with `apt-get install gnugo`",
                         processes=processes, workers=workers, timeout=timeout)
        self.spec = ({"monte_carlo": True, "playouts": self.mc_playouts} if mc_playouts
                     else {"level": self.level})

    @classmethod
    def monte_carlo(cls, playouts: int, rules: Rules, **kwargs: Any) -> GnuGoPlayer:
        """GNU Go's Monte Carlo move generator with ``playouts`` playouts per move (module
        docstring), named ``gnugo-mc:<playouts>``; other arguments as the constructor's."""
        if not (isinstance(playouts, (int, np.integer)) and playouts >= 1):
            raise ValueError(f"GNU Go's Monte Carlo playouts must be an integer >= 1, "
                             f"got {playouts!r}")
        return cls(1, rules, mc_playouts=int(playouts), **kwargs)

    def __repr__(self) -> str:
        if self.mc_playouts:
            return (f"GnuGoPlayer.monte_carlo(playouts={self.mc_playouts}, "
                    f"board_size={self.rules.board_size})")
        return f"GnuGoPlayer(level={self.level}, board_size={self.rules.board_size})"
