"""Pachi (a Monte-Carlo tree-search Go engine) as a player and Elo anchor: a
:class:`rlgo.agents.gtp_player.GTPPlayer` configured for Pachi 12.

``pachi:<playouts>`` runs ``pachi -t =<playouts> threads=1``: a fixed number of playouts
per move on one thread, so its strength does not depend on the machine or its load, and
``-s <seed>`` (a different seed per process), so a process replays the same moves for
the same commands. It plays Chinese
(area) rules with ``pass_all_alive`` (it passes only once the opponent's dead stones are
captured, so rlgo's Tromp-Taylor count is the real result, as GNU Go's
``--capture-all-dead``) and never resigns (``resign_threshold=0``). No opening book, no
pondering (Pachi's defaults). Pachi has no ``set_random_seed``: games of one process
follow each other in one random stream, so a match is reproducible only with the same
schedule. Pachi 12 refuses fewer than 500 playouts per move (``Error: minimum 500
playouts.``), so ``pachi:<n>`` with n < 500 is refused before Pachi starts. Its ko rule is
not rlgo's positional superko: a move rlgo refuses is played as a pass and counted in
:attr:`PachiPlayer.illegal_moves`.

Finding Pachi: ``$RLGO_PACHI`` if set, else ``pachi`` on the PATH. Debian's and Ubuntu's
package named ``pachi`` is a platform game, not this engine (it fails the ``name``
check, with an error that says so).
"""

from __future__ import annotations

import os
import shutil

from rlgo.agents.gtp_player import GTPPlayer, GTPPlayerError
from rlgo.envs import Rules
from rlgo.gtp.client import DEFAULT_TIMEOUT

__all__ = ["INSTALL_PACHI", "MIN_PLAYOUTS", "PachiPlayer", "find_pachi", "pachi_args"]

INSTALL_PACHI = (
    "install the Pachi Go engine (not Debian's package `pachi`, a platform game): on Ubuntu "
    "`add-apt-repository ppa:lemonsqueeze/pachi && apt-get install pachi-go`, or build it "
    "from https://github.com/pasky/pachi (`make DCNN=0 JOSEKIFIX=0 BUILD_KATAGO=0`), then "
    "put `pachi` on the PATH or set RLGO_PACHI=/path/to/pachi"
)

MIN_PLAYOUTS = 500
"""The fewest playouts per move Pachi 12 accepts (checked with Pachi 12.90)."""


def find_pachi() -> str | None:
    """Pachi's executable: ``$RLGO_PACHI``, else ``pachi`` on the PATH, else None."""
    return os.environ.get("RLGO_PACHI") or shutil.which("pachi")


def pachi_args(playouts: int, path: str, seed: int = 0) -> list[str]:
    """Pachi's command line for rlgo's games (module docstring)."""
    return [path, "-d", "0", "-s", str(int(seed)), "--rules", "chinese",
            "-t", f"={int(playouts)}", "threads=1", "resign_threshold=0", "pass_all_alive"]


class PachiPlayer(GTPPlayer):
    """Pachi with ``playouts`` playouts per move, named ``pachi:<playouts>``."""

    kind = "pachi"
    """Player kind stored in the match database."""

    def __init__(self, playouts: int, rules: Rules, *, seed: int = 0, path: str | None = None,
                 processes: int = 4, workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        """``path``: the executable (default :func:`find_pachi`); the other arguments as
        :class:`GTPPlayer`'s. Raises GTPPlayerError, saying how to install Pachi, when it
        is missing or the program found is not Pachi."""
        if int(playouts) < MIN_PLAYOUTS:
            raise ValueError(f"Pachi plays {MIN_PLAYOUTS} or more playouts per move, "
                             f"got {playouts!r}")
        self.playouts = int(playouts)
        path = path or find_pachi()
        if path is None:
            raise GTPPlayerError(f"Pachi is not installed; {INSTALL_PACHI}")
        self.path = path
        super().__init__(pachi_args(self.playouts, path, seed), rules,
                         name=f"pachi:{self.playouts}", seed=seed, program="Pachi",
                         install_hint=INSTALL_PACHI, expect_name="pachi",
                         processes=processes, workers=workers, timeout=timeout)
        self.spec = {"playouts": self.playouts, "threads": 1}

    def command(self, index: int) -> list[str]:
        seed = (self.seed * 1_000_003 + index) % 2**31
        return pachi_args(self.playouts, self.path, seed)

    def __repr__(self) -> str:
        return f"PachiPlayer(playouts={self.playouts}, board_size={self.rules.board_size})"
