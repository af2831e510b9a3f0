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

__all__ = ["GnuGoError", "GnuGoPlayer", "MAX_LEVEL"]

MAX_LEVEL = 10
"""GNU Go's strongest (and default) level; levels run 0..10."""

GnuGoError = GTPPlayerError
"""The error of every GTP player, GNU Go's included (the name callers already catch)."""


class GnuGoPlayer(GTPPlayer):
    """GNU Go 3.8 at ``level`` (0..10), named ``gnugo:<level>``."""

    kind = "gnugo"
    """Player kind stored in the match database."""

    def __init__(self, level: int, rules: Rules, *, seed: int = 0, path: str = GNUGO_PATH,
                 processes: int = 8, workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        """
        Args:
            level: GNU Go's ``--level``, 0 (fastest, weakest) .. 10 (strongest).
            rules: board size, komi and ko rule of the games it will play.
            seed: base of the per-game random seeds (module docstring, "Seeds").
            path: the GNU Go executable.
            processes: most GNU Go processes kept (about 22 MB each).
            workers: processes thinking at once; default: the CPU count.
            timeout: seconds one GTP command may take before the process counts as hung.

        Raises GnuGoError if GNU Go cannot be started (the first process starts here).
        """
        if not (isinstance(level, (int, np.integer)) and 0 <= level <= MAX_LEVEL):
            raise ValueError(f"GNU Go level must be an integer in 0..{MAX_LEVEL}, got {level!r}")
        self.level = int(level)
        self.path = path
        args = gnugo_args(self.level, path, capture_all_dead=True, never_resign=True)
        if not rules.superko:
            # rlgo without superko has no ko rule at all; gnugo_args always asks for superko.
            args = ["--no-ko" if a == "--positional-superko" else a for a in args]
        super().__init__(args, rules, name=f"gnugo:{self.level}", seed=seed, program="GNU Go",
                         install_hint="install it with `apt-get install gnugo`",
                         processes=processes, workers=workers, timeout=timeout)
        self.spec = {"level": self.level}

    def __repr__(self) -> str:
        return f"GnuGoPlayer(level={self.level}, board_size={self.rules.board_size})"
