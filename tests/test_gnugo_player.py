"""GNU Go as an arena player: real games on 5x5, reproducibility, and recovery from a GTP
process that dies (a real GNU Go killed mid-match; a fake engine that dies or hangs on
every move)."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest

from rlgo.agents.gnugo_player import GnuGoError, GnuGoPlayer
from rlgo.agents.random_player import RandomPlayer
from rlgo.envs import GoEngine, Rules
from rlgo.envs.sgf import replay_sgf
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.matchdb import MatchDB
from rlgo.protocols import Positions

RULES = Rules(board_size=5)


@pytest.fixture
def db(tmp_path) -> MatchDB:
    with MatchDB(f"sqlite:///{tmp_path / 'matches.sqlite'}") as database:
        yield database


@pytest.mark.gnugo
def test_gnugo_vs_random_on_5x5(gnugo, db):
    with GnuGoPlayer(0, RULES, path=gnugo, processes=2) as player:
        summary = play_match(player, RandomPlayer(0), 4, RULES, db)
        assert (player.restarts, player.resignations, player.illegal_moves) == (0, 0, 0)
    assert summary.a == "gnugo:0" and summary.games == 4
    # komi 24.5: Black must own the whole board, so GNU Go must win all its White games
    assert summary.a_white.wins == summary.a_white.games == 2
    rows = db.games()
    assert len(rows) == 4
    for row in rows.itertuples():
        engine, actions = replay_sgf(row.sgf)
        assert len(actions) == row.moves and engine.done[0]
        assert float(engine.scores()[0]) == pytest.approx(row.score)


@pytest.mark.gnugo
def test_gnugo_games_are_reproducible_and_differ_per_game(gnugo, db):
    def match() -> list[str]:
        with GnuGoPlayer(0, RULES, path=gnugo, seed=1) as g1, \
                GnuGoPlayer(0, RULES, path=gnugo, seed=2) as g2:
            play_match(g1, _Renamed(g2, "gnugo:0-b"), 4, RULES, db)
        return db.games()["sgf"].tolist()[-4:]

    first, second = match(), match()
    assert first == second
    assert first[0] != first[2]  # same colours, different per-game seeds


@pytest.mark.gnugo
def test_gnugo_follows_random_openings(gnugo, db):
    """GNU Go learns the opening moves from the record like any other moves."""
    with GnuGoPlayer(0, RULES, path=gnugo) as player:
        summary = play_match(player, RandomPlayer(0), 4, RULES, db, opening_moves=4, seed=3)
        assert (player.restarts, player.illegal_moves) == (0, 0)
    rows = db.games().sort_values("id")
    games = [replay_sgf(sgf)[1] for sgf in rows.sgf]
    assert games[0][:4] == games[1][:4] != games[2][:4] == games[3][:4]
    assert summary.games == 4 and all(len(g) > 4 for g in games)


class _Renamed:
    def __init__(self, inner, name: str) -> None:
        self.inner, self.name = inner, name

    def act(self, positions):
        return self.inner.act(positions)


class _Killer:
    """Plays like GNU Go, but SIGKILLs its processes before its ``kill_at``-th move."""

    def __init__(self, player: GnuGoPlayer, kill_at: int) -> None:
        self.player, self.name, self.kill_at, self.calls = player, player.name, kill_at, 0

    @property
    def restarts(self) -> int:
        return self.player.restarts

    def act(self, positions):
        self.calls += 1
        if self.calls == self.kill_at:
            for pid in self.player.pids:
                os.kill(pid, signal.SIGKILL)
        return self.player.act(positions)


@pytest.mark.gnugo
def test_killed_gnugo_is_restarted_and_resynced(gnugo, db):
    with GnuGoPlayer(0, RULES, path=gnugo, processes=2) as player:
        killer = _Killer(player, kill_at=6)
        summary = play_match(killer, RandomPlayer(1), 4, RULES, db)
        assert player.restarts == 2  # both processes were killed mid-game
        assert player.illegal_moves == 0  # it went on from the right position
    assert summary.restarts == {killer.name: 2, "random": 0}  # reported with the match
    assert f"engine restarts: {killer.name} 2" in summary.format()
    assert summary.a_white.wins == 2
    for sgf in db.games()["sgf"]:
        replay_sgf(sgf)


FAKE_ENGINE = """\
import sys, time
for line in sys.stdin:
    ident, command = line.split()[:2]
    if command == "genmove":
        sys.stderr.write("fake engine: giving up on genmove\\n")
        sys.stderr.flush()
        if {mode!r} == "exit":
            sys.exit(3)
        time.sleep(60)
    sys.stdout.write("=" + ident + " \\n\\n")
    sys.stdout.flush()
"""


@pytest.mark.parametrize("mode", ["exit", "hang"])
def test_engine_failing_twice_is_reported(tmp_path, mode):
    script = tmp_path / "fake_gtp.py"
    script.write_text(f"#!{sys.executable}\n" + FAKE_ENGINE.format(mode=mode))
    script.chmod(0o755)
    engine = GoEngine(1, RULES)
    positions = Positions(engine.observations(), engine.legal.copy(), engine, np.arange(1))
    with GnuGoPlayer(3, RULES, path=str(script), timeout=0.5) as player:
        reason = "exited before answering" if mode == "exit" else "no answer within 0.5 s"
        with pytest.raises(GnuGoError, match=f"failed twice on move 1 of game 0.*{reason}"
                           "(.|\n)*fake engine: giving up"):
            player.act(positions)
        assert player.restarts == 1


def test_missing_gnugo_is_reported(tmp_path):
    with pytest.raises(GnuGoError, match="cannot start GNU Go.*apt-get install gnugo"):
        GnuGoPlayer(0, RULES, path=str(tmp_path / "no-gnugo"))
    with pytest.raises(ValueError, match="level must be an integer in 0..10"):
        GnuGoPlayer(11, RULES, path=str(tmp_path / "no-gnugo"))


@pytest.mark.gnugo
def test_game_from_a_set_position_is_refused(gnugo):
    engine = GoEngine(1, RULES)
    board = np.zeros((5, 5), np.int8)
    board[2, 2] = 2
    engine.set_position(0, board)
    positions = Positions(engine.observations(), engine.legal.copy(), engine, np.arange(1))
    with GnuGoPlayer(0, RULES, path=gnugo) as player, \
            pytest.raises(GnuGoError, match="white stones differ from game 0's.*set position"):
        player.act(positions)


def test_a_match_whose_engine_keeps_dying_keeps_its_finished_games(tmp_path, db):
    """Game 0 ends by two passes before the engine is first asked for anything; then the
    broken engine fails on the next game: the match stops with GnuGoError, game 0 kept."""
    from rlgo.protocols import Decision

    script = tmp_path / "fake_gtp.py"
    script.write_text(f"#!{sys.executable}\n" + FAKE_ENGINE.format(mode="exit"))
    script.chmod(0o755)

    class PassInGameZero:
        """Passes in game 0; with ``patient``, everywhere until game 0 has ended."""

        def __init__(self, inner, name: str, patient: bool = False) -> None:
            self.inner, self.name, self.patient = inner, name, patient

        def act(self, positions):
            actions = np.full(len(positions), RULES.pass_action, np.int64)
            rest = np.flatnonzero(positions.games != 0)
            if self.patient and not positions.engine.done[0]:
                rest = rest[:0]
            if len(rest):
                sub = Positions(positions.obs[rest], positions.mask[rest], positions.engine,
                                positions.games[rest])
                actions[rest] = self.inner.act(sub).actions
            return Decision(actions)

    with GnuGoPlayer(3, RULES, path=str(script), timeout=0.5) as engine:
        with pytest.raises(GnuGoError):
            play_match(PassInGameZero(RandomPlayer(1), "passer"),
                       PassInGameZero(engine, "dying", patient=True), 4, RULES, db)
    stored = db.games()
    assert len(stored) == 1 and stored.tags[0]["match_game"] == 0 and stored.moves[0] == 2


@pytest.mark.gnugo
def test_gnugo_monte_carlo_mode_plays_reproducibly_and_only_on_small_boards(gnugo, db):
    from rlgo.evaluation.players import make_player

    def match() -> tuple[object, list[str]]:
        with make_player("gnugo-mc:500", RULES, seed=4) as player:
            command = player.command(0)
            assert command[command.index("--mc-games-per-level") + 1] == "500"
            assert "--monte-carlo" in command and command[command.index("--level") + 1] == "1"
            summary = play_match(player, RandomPlayer(0), 2, RULES, db)
            assert (player.restarts, player.illegal_moves) == (0, 0)
        return summary, db.games()["sgf"].tolist()[-2:]

    (summary, first), (_, second) = match(), match()
    assert summary.a == "gnugo-mc:500" and summary.a_white.wins == 1  # komi 24.5: as White
    assert first == second  # reseeded before every move, like GNU Go's own mode
    assert db.players().set_index("name").loc["gnugo-mc:500", "spec"] == {
        "monte_carlo": True, "playouts": 500}
    with pytest.raises(ValueError, match="Monte Carlo mode plays boards up to 9x9, not 13x13"):
        GnuGoPlayer.monte_carlo(500, Rules(board_size=13), path=gnugo)
    with pytest.raises(ValueError, match="playouts must be an integer >= 1"):
        make_player("gnugo-mc:0", RULES)
