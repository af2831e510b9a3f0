"""Any GTP engine as a player (``gtp:<command line>``), GNU Go as a configured instance
of it, and Pachi as an anchor (``pachi:<playouts>``), or the error that says how to
install it."""

from __future__ import annotations

import pytest

from rlgo.agents.gnugo_player import GnuGoError, GnuGoPlayer
from rlgo.agents.gtp_player import GTPPlayer, GTPPlayerError
from rlgo.agents.pachi_player import PachiPlayer, find_pachi
from rlgo.agents.random_player import RandomPlayer
from rlgo.envs import Rules
from rlgo.envs.sgf import replay_sgf
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import PlayerSpecError, make_player

RULES = Rules(board_size=5)


@pytest.fixture
def db(tmp_path) -> MatchDB:
    with MatchDB(f"sqlite:///{tmp_path / 'matches.sqlite'}") as database:
        yield database


def check_stored_games(db: MatchDB, count: int) -> None:
    rows = db.games()
    assert len(rows) == count
    for row in rows.itertuples():
        engine, actions = replay_sgf(row.sgf)
        assert len(actions) == row.moves and engine.done[0]
        assert float(engine.scores()[0]) == pytest.approx(row.score)


@pytest.mark.gnugo
def test_gnugo_through_the_generic_gtp_spec(gnugo, db):
    spec = (f"gtp:'{gnugo}' --mode gtp  --level 0 --chinese-rules --capture-all-dead "
            "--never-resign")
    player = make_player(spec, RULES, seed=1)
    try:
        assert type(player) is GTPPlayer and player.kind == "gtp"
        assert player.name == (f"gtp:{gnugo} --mode gtp --level 0 --chinese-rules "
                               "--capture-all-dead --never-resign")  # quoting normalised
        assert player.engine_name == "GNU Go"
        summary = play_match(player, RandomPlayer(0), 4, RULES, db)
        assert (player.restarts, player.resignations, player.illegal_moves) == (0, 0, 0)
    finally:
        player.close()
    assert summary.games == 4 and summary.a_white.wins == 2  # komi 24.5: White wins
    check_stored_games(db, 4)
    assert db.players().set_index("name").loc[player.name, "kind"] == "gtp"


@pytest.mark.parametrize("spec, message", [
    ("gtp:", "gtp: needs the engine's command line"),
    ("gtp:   ", "gtp: needs the engine's command line"),
    ("gtp:gnugo '--mode", "cannot split the command line"),
    ("pachi:many", "playouts must be an integer >= 500"),
    ("pachi:0", "playouts must be an integer >= 500"),
    ("pachi:499", "playouts must be an integer >= 500"),  # Pachi 12 refuses fewer
])
def test_bad_gtp_specs(spec, message):
    with pytest.raises(PlayerSpecError, match=message):
        make_player(spec, RULES)


def test_programs_that_are_not_gtp_engines(tmp_path):
    assert GnuGoError is GTPPlayerError  # callers catching GnuGoError catch them all
    with pytest.raises(GTPPlayerError, match="cannot start no-such-engine"):
        make_player(f"gtp:{tmp_path / 'no-such-engine'} --mode gtp", RULES)
    with pytest.raises(GTPPlayerError, match="(?s)does not answer GTP's `name`: is it a GTP "
                       "engine?.*unexpected answer '1 name'"):
        make_player("gtp:cat", RULES)  # echoes the command back
    with pytest.raises(GTPPlayerError, match="(?s)does not answer.*(exited before "
                       "answering|closed its input)"):
        make_player("gtp:true", RULES)
    with pytest.raises(ValueError, match="needs a command line"):
        GTPPlayer([], RULES)


@pytest.mark.gnugo
def test_a_program_that_is_not_the_expected_engine(gnugo, monkeypatch):
    with pytest.raises(GTPPlayerError, match="is not Pachi: it calls itself 'GNU Go'; "
                       "install Pachi"):
        GTPPlayer([gnugo, "--mode", "gtp"], RULES, program="Pachi", expect_name="pachi",
                  install_hint="install Pachi")
    with pytest.raises(GTPPlayerError, match="(?s)Pachi .*gnugo.* does not answer GTP's `name`"
                       ".*not Debian's package `pachi`, a platform game"):
        PachiPlayer(500, RULES, path=gnugo)  # GNU Go refuses Pachi's options and exits
    monkeypatch.setenv("RLGO_PACHI", gnugo)
    assert find_pachi() == gnugo


def test_missing_pachi_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv("RLGO_PACHI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GTPPlayerError, match="Pachi is not installed.*ppa:lemonsqueeze/pachi"
                       ".*github.com/pasky/pachi.*RLGO_PACHI"):
        make_player("pachi:500", RULES)


def test_pachi_plays_games_on_5x5(db):
    path = find_pachi()
    if path is None:
        pytest.skip("Pachi is not installed (build it from github.com/pasky/pachi and set "
                    "RLGO_PACHI, or put it on the PATH)")
    with make_player("pachi:500", RULES, seed=3) as pachi:
        assert pachi.name == "pachi:500" and pachi.engine_name.lower().startswith("pachi")
        assert pachi.spec == {"playouts": 500, "threads": 1}
        summary = play_match(pachi, RandomPlayer(0), 2, RULES, db)
        assert (pachi.restarts, pachi.resignations) == (0, 0)
        command = pachi.command(1)
    assert summary.a_white.wins == 1  # komi 24.5: Black must own the whole board
    check_stored_games(db, 2)
    assert command[:2] == [path, "-d"] and "threads=1" in command and "-t" in command
    assert command[command.index("-s") + 1] != pachi.command(0)[pachi.command(0).index("-s")
                                                                + 1]


def test_gnugo_player_is_a_configured_gtp_player(tmp_path):
    assert issubclass(GnuGoPlayer, GTPPlayer)
    with pytest.raises(GnuGoError, match="cannot start GNU Go.*apt-get install gnugo"):
        GnuGoPlayer(0, RULES, path=str(tmp_path / "gnugo"))
