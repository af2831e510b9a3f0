"""``rlgo gtp``: the GTP engine every checkpoint becomes. Every command and error response
through :class:`GTPServer` (fast), then the real program over stdin/stdout, and a full
game against GNU Go refereed over GTP by a small controller."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rlgo.cli import app
from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import gtp_to_action
from rlgo.envs.sgf import game_to_sgf, result_string
from rlgo.evaluation.players import checkpoint_rules, make_player
from rlgo.gtp.client import GTPEngine, gnugo_args
from rlgo.gtp.engine import COMMANDS, GTPServer, serve
from rlgo.learning.files import rules_to_dict, save_file
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.protocols import Decision, Positions

RULES = Rules(board_size=5, komi=0.5)
PASS = RULES.pass_action
TINY = NetConfig(blocks=1, channels=8, value_hidden=8)


def tiny_checkpoint(path, board_size: int):
    """An untrained REINFORCE snapshot (fixed weights: torch's seed is set)."""
    import torch

    torch.manual_seed(0)
    net = PolicyValueNet(board_size, TINY)
    return save_file(path, {
        "kind": "snapshot", "agent": "reinforce", "agent_config": {}, "counters": {},
        "rules": rules_to_dict(Rules(board_size=board_size)),
        "net_config": dataclasses.asdict(TINY), "weights": net.state_dict(),
    })


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gtp")
    return {n: str(tiny_checkpoint(folder / f"tiny{n}.pt", n)) for n in (5, 7)}


class Scripted:
    """A player that plays the first legal point (or passes, with ``passes``) and reports
    a fixed value; it has ``simulations`` like a search player and records what it got."""

    name = "scripted"

    def __init__(self, value: float = 0.0, passes: bool = False) -> None:
        self.value, self.passes, self.simulations, self.given = value, passes, 100, []

    def act(self, positions: Positions) -> Decision:
        self.given.append(self.simulations)
        time.sleep(self.simulations * 1e-4)  # 0.1 ms a "simulation"
        legal = np.flatnonzero(positions.mask[0, :-1])
        action = PASS if self.passes or not len(legal) else int(legal[0])
        return Decision(np.array([action]), {"value": np.array([self.value], np.float32)})


def server(player=None, **kwargs) -> GTPServer:
    player = player or Scripted()
    return GTPServer(lambda rules: player, RULES, **kwargs)


def ask(srv: GTPServer, *lines: str) -> list[str]:
    """The result texts (``=`` stripped) or ``? message`` of each command."""
    out = []
    for line in lines:
        response = srv.handle(line)
        assert response is not None and response.endswith("\n\n"), (line, response)
        status, _, text = response[:-2].partition(" ")
        out.append(text if status.startswith("=") else f"? {text}")
    return out


# ----------------------------------------------------------------------------- protocol


def test_ids_comments_empty_lines_and_case():
    srv = server()
    assert srv.handle("12 protocol_version\n") == "=12 2\n\n"
    assert srv.handle("PROTOCOL_VERSION") == "= 2\n\n"
    assert srv.handle("7 boardsize 5 # a comment\r\n") == "=7\n\n"
    assert srv.handle("\tname\x07\x01") == "= rlgo\n\n"  # tab, control characters
    for nothing in ("", "\n", "   \t ", "# only a comment", "\x00\x1b"):
        assert srv.handle(nothing) is None
    assert srv.handle("3 fly_away") == "?3 unknown command\n\n"
    assert srv.handle("42") == "?42 syntax error: no command\n\n"


def test_administrative_commands():
    srv = server(version="0.2.0 (net.pt)")
    assert ask(srv, "name", "version", "known_command genmove", "known_command fly",
               "known_command KOMI") == ["rlgo", "0.2.0 (net.pt)", "true", "false", "true"]
    assert ask(srv, "list_commands")[0].split("\n") == list(COMMANDS)
    assert srv.handle("9 quit") == "=9\n\n" and srv.finished


def test_boardsize_clear_board_and_komi():
    srv = server(board_sizes=[5, 7])
    assert ask(srv, "boardsize 9", "boardsize five", "boardsize") == [
        "? unacceptable size", "? syntax error: 'five' is not an integer 0..2147483647",
        "? syntax error: boardsize takes one number"]
    assert ask(srv, "boardsize 7", "play b D4") == ["", ""]
    assert srv.size == 7 and srv.moves == [gtp_to_action("D4", 7)]
    assert ask(srv, "clear_board", "final_score") == ["", "W+0.5"] and srv.moves == []
    assert ask(srv, "komi 0", "final_score", "komi 7.5", "final_score", "komi x",
               "komi nan") == ["", "0", "", "W+7.5", "? syntax error: 'x' is not a number",
                               "? syntax error: 'nan' is not a number"]


def test_play_refuses_illegal_moves_and_bad_syntax():
    srv = server()
    assert ask(srv, "play b C3", "play w C3", "play b z9", "play b F1", "play b A0",
               "play red C3", "play b", "play w resign") == [
        "", "? illegal move", "? syntax error: 'z9' is not a vertex on 5x5",
        "? syntax error: 'F1' is not a vertex on 5x5",
        "? syntax error: 'A0' is not a vertex on 5x5", "? syntax error: 'red' is not a colour",
        "? syntax error: play takes a colour and a vertex",
        "? syntax error: 'resign' is not a vertex on 5x5"]
    assert srv.moves == [gtp_to_action("C3", 5)]  # the errors changed nothing
    # suicide: White's A1 between Black's A2 and B1
    assert ask(srv, "clear_board", "play b A2", "play b B1", "play w A1") == [
        "", "", "", "? illegal move"]


def test_superko_recapture_is_illegal():
    srv = server()
    setup = ["play b C4", "play b B3", "play b C2", "play b D3",
             "play w D4", "play w E3", "play w D2", "play w C3"]  # White takes the ko
    assert ask(srv, *setup) == [""] * len(setup)
    assert srv.engine.boards[0].reshape(-1)[gtp_to_action("D3", 5)] == 0  # captured
    assert ask(srv, "play b D3") == ["? illegal move"]
    assert not srv.engine.legal[0, gtp_to_action("D3", 5)]  # genmove cannot choose it


def test_moves_out_of_turn_insert_a_pass_and_undo_takes_both_back():
    srv = server()
    assert ask(srv, "play b C3", "play b D3", "play w pass", "play w C2") == [""] * 4
    c3, d3, c2 = (gtp_to_action(v, 5) for v in ("C3", "D3", "C2"))
    assert srv.moves == [c3, PASS, d3, PASS, PASS, c2]  # B, W, B, W, B, W
    assert srv.engine.to_play[0] == 1 and not srv.game_over
    assert ask(srv, "undo") == [""] and srv.moves == [c3, PASS, d3, PASS]
    assert ask(srv, "undo") == [""] and srv.moves == [c3, PASS, d3]
    assert ask(srv, "undo", "undo", "undo") == ["", "", "? cannot undo"]
    assert srv.moves == []


def test_genmove_and_play_after_two_passes_stay_in_step():
    srv = server()
    assert ask(srv, "play b C3", "play w pass", "play b pass") == ["", "", ""]
    assert srv.game_over and ask(srv, "final_score") == ["B+24.5"]
    assert ask(srv, "genmove w", "genmove b") == ["pass", "pass"]  # over: pass, in step
    assert len(srv.moves) == 5
    # a controller may go on playing (GoGui, KGS clean-up): the position is unchanged
    assert ask(srv, "play w B2", "genmove b") == ["", "A5"]
    assert not srv.game_over and srv.engine.boards[0, 0, 0] == 1


def test_final_score_and_showboard():
    srv = server()
    assert ask(srv, "final_score", "komi 0", "final_score", "play b C3",
               "final_score") == ["W+0.5", "", "0", "", "B+25"]
    board = ask(srv, "play w pass", "showboard")[1]
    assert board.startswith("\n    A B C D E\n") and " 3  . . X . . " in board
    assert board.endswith("2 moves, komi 0, Black to move")


# ----------------------------------------------------------------------------- genmove


def test_genmove_passes_when_the_opponent_passed_and_we_lead():
    player = Scripted()
    srv = server(player)
    assert ask(srv, "play b C3", "play w pass", "genmove b") == ["", "", "pass"]
    assert player.given == []  # settled without asking the player
    srv = server(player)
    assert ask(srv, "komi 5.5", "play b C3", "play w D3", "play b B2", "play w pass",
               "genmove b") == ["", "", "", "", "", "A5"]  # behind by 4.5: it plays on
    assert ask(srv, "komi 25.5")[0].startswith("? syntax error: komi must be")


def test_genmove_for_the_colour_not_to_move_and_its_errors():
    srv = server()
    assert ask(srv, "komi 0", "genmove w", "genmove purple", "genmove")[1:] == [
        "A5", "? syntax error: 'purple' is not a colour",
        "? syntax error: genmove takes a colour"]
    assert srv.moves == [PASS, 0]


def test_resign_below_a_win_probability():
    losing = Scripted(value=-0.9)  # win probability 0.05
    srv = server(losing, resign_below=0.1)
    assert ask(srv, "genmove b") == ["resign"] and srv.moves == []
    assert ask(server(losing), "genmove b") == ["A5"]  # off by default
    assert ask(server(Scripted(value=0.0), resign_below=0.1), "genmove b") == ["A5"]
    with pytest.raises(ValueError, match="resign_below"):
        server(resign_below=1.5)


def test_a_failing_player_is_an_error_response_not_a_crash():
    class Broken:
        name = "broken"

        def act(self, positions):
            raise RuntimeError("out of cheese")

    logged = []
    srv = GTPServer(lambda rules: Broken(), RULES, log=logged.append)
    assert ask(srv, "genmove b") == ["? internal error: RuntimeError: out of cheese"]
    assert "out of cheese" in logged[0] and srv.moves == []
    assert ask(srv, "play b C3") == [""]


def test_clock_scales_simulations():
    player = Scripted()
    srv = server(player)
    ask(srv, "genmove b")  # no clock: the full budget
    ask(srv, "time_settings 60 0 0", "time_left w 0.1 0", "genmove w")  # 0.1 s left
    ask(srv, "time_settings 0 30 5", "time_left b 30 5", "genmove b")  # 6 s a move
    ask(srv, "time_settings 0 1 0", "genmove w")  # byo-yomi without stones: no limit
    assert player.given[0] == 100 and player.given[3] == 100
    assert 1 <= player.given[1] < 100 and player.given[1] < player.given[2]
    assert player.simulations == 100  # restored after each move
    assert ask(srv, "time_settings 1 2", "time_left b x 0") == [
        "? syntax error: time_settings takes main time, byo-yomi time and byo-yomi stones",
        "? syntax error: 'x' is not a number"]


def test_cleanup_captures_dead_stones_before_passing():
    """Black's wall on the C line; White's E5 is dead in Black's area. A player that
    would pass must first take E5, then pass."""
    srv = server(Scripted(passes=True))
    setup = [f"play b C{i}" for i in range(1, 6)] + ["play w E5", "play b pass",
                                                     "play w pass"]
    assert ask(srv, *setup) == [""] * len(setup) and srv.game_over
    assert ask(srv, "genmove b") == ["pass"]  # over: genmove passes
    ask(srv, "undo")
    moves = ask(srv, "kgs-genmove_cleanup b", "play w pass", "kgs-genmove_cleanup b",
                "play w pass", "kgs-genmove_cleanup b")
    assert moves == ["D5", "", "E4", "", "pass"]  # contact, then the capture
    assert ask(srv, "final_score") == ["B+24.5"]


def test_cleanup_fills_neither_side_area_nor_self_ataris():
    srv = server(Scripted(passes=True))
    # Black owns the left (A, B), White the right (D, E); the C line is dame
    setup = [f"play b B{i}" for i in range(1, 6)] + [f"play w D{i}" for i in range(1, 6)]
    assert ask(srv, *setup) == [""] * len(setup)
    assert ask(srv, "kgs-genmove_cleanup b") == ["C5"]


def test_loadsgf(tmp_path):
    rules = Rules(board_size=5, komi=3.5)
    moves = [gtp_to_action(v, 5) for v in ("C3", "D3", "C2", "pass", "B4")]
    path = tmp_path / "game.sgf"
    path.write_text(game_to_sgf(moves, rules))
    srv = server()
    assert ask(srv, f"loadsgf {path}") == [""]
    assert srv.moves == moves and srv.komi == 3.5 and srv.engine.to_play[0] == 2
    assert ask(srv, f"loadsgf {path} 3") == [""] and srv.moves == moves[:2]
    assert ask(srv, f"loadsgf {tmp_path / 'none.sgf'}")[0].startswith("? cannot load file")
    nine = tmp_path / "nine.sgf"
    nine.write_text(game_to_sgf([40], Rules(board_size=9)))
    assert ask(srv, f"loadsgf {nine}") == [
        "? cannot load file: its board is 9x9; this engine plays 5x5"]
    (tmp_path / "bad.sgf").write_text("(;GM[1]SZ[5];B[cc];B[dd])")
    assert ask(srv, f"loadsgf {tmp_path / 'bad.sgf'}")[0].startswith("? cannot load file")
    assert srv.moves == moves[:2]  # the failures changed nothing
    logged: list[str] = []  # the probe: "? internal error: TypeError" and a traceback
    srv._log = logged.append
    for number in ("99999999999999999999", "2147483648", "-1", "3.5"):
        assert ask(srv, f"loadsgf {path} {number}") == [
            f"? syntax error: '{number}' is not an integer 0..2147483647"]
    assert ask(srv, "boardsize 99999999999999999999", "time_left b 10 99999999999999999999",
               "time_settings 1e999 0 0") == [
        "? syntax error: '99999999999999999999' is not an integer 0..2147483647"] * 2 + [
        "? syntax error: '1e999' is not a number"]
    assert logged == [] and srv.moves == moves[:2]
    setup = tmp_path / "setup.sgf"
    setup.write_text("(;GM[1]SZ[5]KM[0.5]AB[cc][dd]PL[W];W[aa])")
    assert ask(srv, f"loadsgf {setup}", "final_score", "genmove b") == ["", "B+0.5", "B5"]


WORDS = ["5", "7", "0", "-1", "3.5", "99999999999999999999", "1e999", "nan", "-inf", "x",
         "b", "w", "C3", "pass", "Z99", "", "\x00", "loadsgf"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(COMMANDS), st.lists(st.sampled_from(WORDS),
                                                              max_size=3)), max_size=12))
def test_no_command_line_makes_the_engine_fail_inside(script):
    """GTP never dies on input, and no argument reaches a command it cannot hold: every
    line is answered, with a result or a GTP error, never an internal error."""
    logged: list[str] = []
    srv = GTPServer(lambda rules: make_player("random", rules), RULES,
                    board_sizes=[5, 7], log=logged.append)
    for command, args in script:
        response = srv.handle(" ".join([command, *args]))
        assert response is not None and "internal error" not in response, (command, args,
                                                                          response)
    assert not [line for line in logged if "Traceback" in line]


def test_a_checkpoint_plays_through_the_server(checkpoints):
    spec = f"{checkpoints[5]}:search=4"
    assert checkpoint_rules(spec).board_size == 5 and checkpoint_rules("random") is None
    srv = GTPServer(lambda rules: make_player(spec, rules), Rules(board_size=5),
                    resign_below=0.0)
    moves = ask(srv, "komi 0.5", "genmove b", "genmove w", "komi 7.5", "genmove b")
    assert moves[0] == moves[3] == "" and all(m for m in moves[1:3] + moves[4:])
    assert len(srv.moves) == 3
    srv.close()


# ----------------------------------------------------------------------------- programs


def test_cli_errors(checkpoints, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["gtp", str(tmp_path / "none.pt")])
    assert res.exit_code == 2 and "no checkpoint at" in res.output
    res = runner.invoke(app, ["gtp", f"{checkpoints[5]}:fast"])
    assert res.exit_code == 2 and "unknown checkpoint option 'fast'" in res.output
    res = runner.invoke(app, ["gtp", "random"], input="1 boardsize 19\n2 genmove b\nquit\n")
    assert res.exit_code == 0 and res.stdout.startswith("=1\n\n=2 ")


def test_rlgo_gtp_over_stdin_and_stdout(checkpoints):
    script = ("1 protocol_version\r\n\n# set up\n2 boardsize 7\n3 boardsize 5\n"
              "4 play b C3\n5 play w C3\n6 genmove w\n7 final_score\n8 quit\n9 name\n")
    run = subprocess.run([sys.executable, "-m", "rlgo.cli", "gtp", checkpoints[5]],
                         input=script, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    blocks = run.stdout.split("\n\n")
    assert blocks[:5] == ["=1 2", "?2 unacceptable size", "=3", "=4", "?5 illegal move"]
    assert blocks[5].startswith("=6 ") and blocks[6].startswith("=7 W+")
    assert blocks[7:] == ["=8", ""]  # nothing after quit
    assert "genmove White" in run.stderr  # diagnostics on stderr only


def test_serve_stops_at_quit_or_end_of_input():
    import io

    out = io.StringIO()
    serve(server(), io.StringIO("1 name\n\n2 quit\n3 name\n"), out)
    assert out.getvalue() == "=1 rlgo\n\n=2\n\n"
    out = io.StringIO()
    serve(server(), io.StringIO("name"), out)
    assert out.getvalue() == "= rlgo\n\n"


# ----------------------------------------------------------------------------- refereed


def referee(engines: dict[str, GTPEngine], command: str, moves: list[str],
            cap: int) -> None:
    """Relay ``command`` (genmove or kgs-genmove_cleanup) answers from the colour to move
    to the other engine until two passes in a row, a resignation or ``cap`` moves."""
    colour = "black" if len(moves) % 2 == 0 else "white"
    passes = 0
    while passes < 2 and len(moves) < cap:
        other = "white" if colour == "black" else "black"
        move = engines[colour].send(f"{command} {colour}").upper()
        assert move != "RESIGN"
        engines[other].play(colour, move)
        moves.append(move)
        passes = passes + 1 if move == "PASS" else 0
        colour = other


@pytest.mark.gnugo
def test_a_game_against_gnugo_refereed_over_gtp(gnugo, checkpoints):
    """Our engine (Black) against GNU Go level 0 on 7x7, both driven over GTP; then KGS's
    clean-up phase; both must agree on every stone and on the score, which must be the
    Tromp-Taylor count of the game replayed by rlgo's rules."""
    ours = GTPEngine([sys.executable, "-m", "rlgo.cli", "gtp", checkpoints[7]], timeout=120)
    theirs = GTPEngine(gnugo_args(0, gnugo, capture_all_dead=True, never_resign=True))
    try:
        for engine in (ours, theirs):
            engine.boardsize(7)
            engine.komi(8.5)
            engine.clear_board()
        theirs.send("set_random_seed 1")
        engines = {"black": ours, "white": theirs}
        moves: list[str] = []
        referee(engines, "genmove", moves, cap=300)
        assert moves[-2:] == ["PASS", "PASS"]
        referee(engines, "kgs-genmove_cleanup", moves, cap=400)
        replay = GoEngine(1, Rules(board_size=7, komi=8.5, max_moves=400))
        for i, move in enumerate(moves):  # out of the two-pass endings, as the engine does
            if i >= 2 and moves[i - 1] == moves[i - 2] == "PASS" and replay.done[0]:
                replay = _without_last_two_passes(replay, 7)
            replay.step(np.array([gtp_to_action(move, 7)]))
        expected = result_string(float(replay.scores()[0]))
        assert ours.final_score() == theirs.final_score() == expected
        board = replay.boards[0].reshape(-1)
        for value, colour in ((1, "black"), (2, "white")):
            stones = {gtp_to_action(v, 7) for v in theirs.list_stones(colour)}
            assert stones == set(np.flatnonzero(board == value).tolist())
        shown = ours.showboard()
        assert shown.count("X") == int((board == 1).sum())
        assert shown.count("O") == int((board == 2).sum())
    finally:
        ours.close()
        theirs.close()


def _without_last_two_passes(engine: GoEngine, n: int) -> GoEngine:
    record = engine.actions(0)[:-2]
    fresh = GoEngine(1, engine.rules)
    for a in record:
        fresh.step(np.array([a]))
    return fresh
