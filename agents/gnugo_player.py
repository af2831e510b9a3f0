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
boards up to 9x9 (``--monte-carlo``: UCT with pattern-guided playouts, about 8,000
playouts per level): ``GnuGoPlayer(level, rules, monte_carlo=True)``, named
``gnugo-mc:<level>``, a Monte-Carlo anchor stronger than GNU Go's own level 10 on small
boards (on 7x7, level 10 of it won 9 of 10 probe games against ``gnugo:10``), for the
top of the 7x7 scale where Pachi cannot be installed.

Seeds. GNU Go reseeds its random generator with its ``random_seed`` before every move, so
a move depends only on the position, its history and that seed. The player sets the seed
``hash(seed, g)`` before each ``genmove`` in game ``g``: games differ from each other,
and a match is reproducible.
"""

from __future__ import annotations

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
    mode (``monte_carlo``; boards up to 9x9), named ``gnugo-mc:<level>``."""

    kind = "gnugo"
    """Player kind stored in the match database."""

    def __init__(self, level: int, rules: Rules, *, monte_carlo: bool = False,
                 seed: int = 0, path: str = GNUGO_PATH, processes: int = 8,
                 workers: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        """
        Args:
            level: GNU Go's ``--level``, 0 (fastest, weakest) .. 10 (strongest).
            rules: board size, komi and ko rule of the games it will play.
            monte_carlo: GNU Go's Monte Carlo move generation (module docstring), at
                ``level`` times its playouts per level; boards up to 9x9 only.
            seed: base of the per-game random seeds (module docstring, "Seeds").
            path: the GNU Go executable.
            processes: most GNU Go processes kept (about 22 MB each).
            workers: processes thinking at once; default: the CPU count.
            timeout: seconds one GTP command may take before the process counts as hung.

        Raises GnuGoError if GNU Go cannot be started (the first process starts here),
        ValueError for a level outside 0..10 or Monte Carlo mode on a board over 9x9.
        """
        if not (isinstance(level, (int, np.integer)) and 0 <= level <= MAX_LEVEL):
            raise ValueError(f"GNU Go level must be an integer in 0..{MAX_LEVEL}, got {level!r}")
        if monte_carlo and rules.board_size > MAX_MONTE_CARLO_SIZE:
            n = rules.board_size
            raise ValueError(f"GNU Go's Monte Carlo mode plays boards up to "
                             f"{MAX_MONTE_CARLO_SIZE}x{MAX_MONTE_CARLO_SIZE}, not {n}x{n}")
        self.level = int(level)
        self.monte_carlo = bool(monte_carlo)
        self.path = path
        args = gnugo_args(self.level, path, capture_all_dead=True, never_resign=True,
                          extra=["--monte-carlo"] if monte_carlo else ())
        if not rules.superko:
            # rlgo without superko has no ko rule at all; gnugo_args always asks for superko.
            args = ["--no-ko" if a == "--positional-superko" else a for a in args]
        name = f"gnugo-mc:{self.level}" if monte_carlo else f"gnugo:{self.level}"
        super().__init__(args, rules, name=name, seed=seed, program="GNU Go",
                         install_hint="install it with `apt-get install gnugo`",
                         processes=processes, workers=workers, timeout=timeout)
        self.spec = {"level": self.level, **({"monte_carlo": True} if monte_carlo else {})}

    def __repr__(self) -> str:
        mc = ", monte_carlo=True" if self.monte_carlo else ""
        return f"GnuGoPlayer(level={self.level}{mc}, board_size={self.rules.board_size})"
