"""SGF round trips and GTP coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import action_to_gtp, gtp_to_action
from rlgo.envs.sgf import SGFError, game_to_sgf, replay_sgf, result_string


def test_gtp_coordinates_skip_i_and_count_rows_from_the_bottom():
    assert action_to_gtp(0, 19) == "A19"
    assert action_to_gtp(18, 19) == "T19"
    assert action_to_gtp(19 * 18, 19) == "A1"
    assert action_to_gtp(40, 9) == "E5"
    assert action_to_gtp(8, 9) == "J9"
    assert action_to_gtp(81, 9) == "pass"
    for n in (5, 9, 13, 19):
        for a in range(n * n + 1):
            assert gtp_to_action(action_to_gtp(a, n), n) == a
    assert gtp_to_action("e5", 9) == 40
    for bad in ("I5", "Z1", "A0", "A10", "", "pass5", "5A"):
        with pytest.raises(ValueError):
            gtp_to_action(bad, 9)
    with pytest.raises(ValueError):
        action_to_gtp(82, 9)


@pytest.mark.parametrize("n", [5, 9, 19])
def test_random_game_round_trips_through_sgf(n):
    rng = np.random.default_rng(n)
    eng = GoEngine(1, Rules(board_size=n, komi=6.5))
    actions = []
    while not eng.done[0]:
        a = eng.random_actions(rng, allow_pass=rng.random() < 0.02)
        eng.step(a)
        actions.append(int(a[0]))
    text = game_to_sgf(actions, eng.rules, black="rand-b", white="rand-w",
                       result=result_string(float(eng.scores()[0])))
    assert f"SZ[{n}]" in text and "KM[6.5]" in text and "PB[rand-b]" in text
    again, replayed = replay_sgf(text)
    assert replayed == actions
    assert again.rules.komi == 6.5
    np.testing.assert_array_equal(again.boards[0], eng.boards[0])
    assert again.scores()[0] == eng.scores()[0]


def test_result_strings():
    assert result_string(3.5) == "B+3.5"
    assert result_string(-0.5) == "W+0.5"
    assert result_string(0.0) == "0"


def test_setup_stones_are_loaded():
    eng, actions = replay_sgf("(;GM[1]FF[4]SZ[5]AB[aa][bb]AW[ee]PL[W];W[cc])")
    assert actions == [12]
    assert eng.boards[0, 0, 0] == 1 and eng.boards[0, 1, 1] == 1 and eng.boards[0, 4, 4] == 2
    assert eng.boards[0, 2, 2] == 2


@pytest.mark.parametrize(
    "text,match",
    [
        ("(;GM[1]SZ[9];B[ee];W[ee])", "move 2 .* illegal"),
        ("(;GM[1]SZ[9];B[ee];B[ff])", "out of turn"),
        ("(;GM[1]SZ[25];B[aa])", "board_size"),
        ("(;GM[1]SZ[3];B[aa])", "board_size"),
        ("(;GM[1]SZ[9", "malformed"),
        ("not an sgf", "malformed"),
    ],
)
def test_malformed_or_illegal_sgf_gets_a_clear_error(text, match):
    with pytest.raises(SGFError, match=match):
        replay_sgf(text)


@pytest.mark.parametrize("text, match", [
    ("(;GM[2]SZ[5];B[aa])", "not a game of Go"),
    ("(;GM[1]SZ[5]KM[lots];B[aa])", "malformed SGF"),
    ("(;GM[1]SZ[5];B[aa];AB[cc];W[bb])", "node 2 adds or removes stones"),
    ("(;GM[1]SZ[5];B[zz])", "malformed SGF|off the"),
    ("(;GM[1]SZ[5];B[aa];B[bb])", "out of turn"),
    ("not sgf at all", "malformed SGF"),
])
def test_every_sgf_input_error_is_an_sgf_error(text, match):
    with pytest.raises(SGFError, match=match):
        replay_sgf(text)


def test_a_move_in_the_root_node_is_played_not_dropped():
    engine, actions = replay_sgf("(;GM[1]SZ[5]KM[0.5]B[cc];W[aa])")
    assert actions == [gtp_to_action("C3", 5), gtp_to_action("A5", 5)]
    assert int(engine.moves[0]) == 2


def test_sgf_names_the_installed_rlgo_version():
    import importlib.metadata
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    assert importlib.metadata.version("rlgo") == version
    assert f"AP[rlgo:{version}]" in game_to_sgf([0, 1], Rules(board_size=5))
