"""The PettingZoo AEC env (rlgo.envs.go_v0): API conformance at every size, copies,
illegal-move conventions, endings, observations and rendering."""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from rlgo.envs import go_v0
from rlgo.envs.coords import gtp_to_action
from rlgo.envs.engine import IllegalMoveError
from rlgo.envs.render import BLACK_STONE, MARK, WHITE_STONE, WOOD

# api_test warns that dict observations are not arrays: go_v5 is on its exemption list,
# go_v0 is not.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def random_game(env, rng: random.Random, max_steps: int = 10**6) -> list[tuple]:
    """Play random legal actions through the AEC loop; return what every agent saw."""
    seen = []
    for _ in range(max_steps):
        if not env.agents:
            break
        agent = env.agent_selection
        obs, reward, term, trunc, info = env.last()
        if term or trunc:
            action = None
        else:
            legal = np.flatnonzero(obs["action_mask"])
            action = int(legal[rng.randrange(len(legal))])
        seen.append((agent, action, reward, term, trunc, dict(info),
                     obs["observation"].tobytes(), obs["action_mask"].tobytes()))
        env.step(action)
    return seen


def play(env, *vertices: str) -> None:
    """Play GTP vertices ("pass" included) in turn."""
    for v in vertices:
        env.step(gtp_to_action(v, env.rules.board_size))


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("size", range(5, 20))
def test_pettingzoo_api_and_seed(size):
    cycles = size * size + 2  # enough to reach the move cap (2 N^2 moves) on every size
    api_test(go_v0.env(board_size=size), num_cycles=cycles)
    api_test(go_v0.raw_env(board_size=size), num_cycles=cycles)
    seed_test(lambda: go_v0.env(board_size=size), num_cycles=cycles)


def test_wrapped_env_passes_api():
    api_test(go_v0.wrapped_env(board_size=9), num_cycles=200)


def test_metadata_and_spaces():
    env = go_v0.env(board_size=7)
    assert env.metadata["name"] == "go_v0" and not env.metadata["is_parallelizable"]
    assert env.possible_agents == ["black_0", "white_0"]
    space = env.observation_space("black_0")
    assert space["observation"].shape == (7, 7, 17) and space["observation"].dtype == np.uint8
    assert space["action_mask"].shape == (50,) and space["action_mask"].dtype == np.int8
    assert env.action_space("white_0").n == 50


def test_before_reset():
    env = go_v0.raw_env(board_size=5)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    with pytest.raises(AttributeError, match="reset"):
        env.rewards  # noqa: B018
    with pytest.raises(RuntimeError, match="reset"):
        env.agent_iter()


# --------------------------------------------------------------------------- observations


def test_observation_planes_and_mask():
    env = go_v0.env(board_size=9)
    env.reset()
    play(env, "E5", "F5")  # black (4, 4), white (4, 5); black to move
    black = env.observe("black_0")
    white = env.observe("white_0")
    b, w = black["observation"], white["observation"]
    assert b.shape == (9, 9, 17) and b.dtype == np.uint8
    # Now: own / opponent stones; one move ago: only the black stone.
    assert b[4, 4, 0] == 1 and b[4, 5, 1] == 1 and b[:, :, :2].sum() == 2
    assert w[4, 5, 0] == 1 and w[4, 4, 1] == 1
    assert b[4, 4, 2] == 1 and b[:, :, 3].sum() == 0 and w[4, 4, 3] == 1
    assert b[:, :, 4:16].sum() == 0  # two moves ago: the empty board; before: zeros
    assert (b[:, :, 16] == 1).all() and (w[:, :, 16] == 0).all()
    # Only the agent to move gets a mask; the stones are not legal.
    assert white["action_mask"].sum() == 0
    mask = black["action_mask"]
    assert mask.dtype == np.int8 and mask.sum() == 81 + 1 - 2 and mask[40] == 0 and mask[81] == 1


def test_observations_are_fresh_arrays():
    env = go_v0.env(board_size=5)
    env.reset()
    first = env.observe("black_0")
    kept = copy.deepcopy(first)
    env.step(12)
    assert all(np.array_equal(first[k], kept[k]) for k in kept)


def test_reset_seed_seeds_action_spaces():
    env = go_v0.env(board_size=9)
    draws = []
    for _ in range(2):
        env.reset(seed=11)
        draws.append([env.action_space("black_0").sample() for _ in range(5)])
    assert draws[0] == draws[1]


# --------------------------------------------------------------------------- endings


def test_two_passes_scored_win():
    env = go_v0.env(board_size=9, komi=7.5)
    env.reset()
    play(env, "pass", "pass")
    assert env.terminations == {"black_0": True, "white_0": True}
    assert env.truncations == {"black_0": False, "white_0": False}
    assert env.rewards == {"black_0": -1.0, "white_0": 1.0}
    info = env.infos["black_0"]
    assert info == {"end_reason": "two_passes", "score": -7.5, "winner": "white_0", "moves": 2}
    _, reward, term, _, _ = env.last()
    assert env.agent_selection == "black_0" and term and reward == -1.0  # next in turn
    env.step(None)
    _, reward, term, _, _ = env.last()
    assert env.agent_selection == "white_0" and term and reward == 1.0
    env.step(None)
    assert env.agents == []


def test_draw_gives_zero_to_both():
    env = go_v0.env(board_size=5, komi=0)
    env.reset()
    play(env, "pass", "pass")
    assert env.rewards == {"black_0": 0.0, "white_0": 0.0}
    assert env.infos["white_0"]["winner"] is None and env.infos["white_0"]["score"] == 0.0
    assert all(env.terminations.values())


def test_move_cap_terminates_with_reason():
    env = go_v0.env(board_size=5, komi=0.5, max_moves=4)
    env.reset()
    play(env, "A1", "E5", "B1")
    assert not any(env.terminations.values())
    play(env, "pass")  # the 4th move hits the cap: scored, a termination
    assert all(env.terminations.values()) and not any(env.truncations.values())
    info = env.infos["black_0"]
    assert info["end_reason"] == "move_cap" and info["moves"] == 4
    assert info["score"] == pytest.approx(0.5)  # 2 black stones, 1 white, komi 0.5
    assert env.rewards == {"black_0": 1.0, "white_0": -1.0}
    # At the end the mask of the agent asked holds pass alone (finite masked softmax).
    mask = env.observe(env.agent_selection)["action_mask"]
    assert mask.sum() == 1 and mask[-1] == 1


def test_random_games_end_with_scored_rewards():
    rng = random.Random(0)
    env = go_v0.env(board_size=7)
    for seed in range(20):
        env.reset(seed=seed)
        seen = random_game(env, rng)
        final = {agent: reward for agent, action, reward, *_ in seen if action is None}
        assert set(final) == {"black_0", "white_0"}
        assert final["black_0"] == -final["white_0"] and abs(final["black_0"]) == 1.0
        info = seen[-1][5]
        assert info["end_reason"] in ("two_passes", "move_cap")
        assert (info["score"] > 0) == (final["black_0"] > 0)


# --------------------------------------------------------------------------- illegal moves


def test_raw_env_raises_and_keeps_state():
    env = go_v0.raw_env(board_size=9)
    env.reset()
    play(env, "E5")
    before = env.observe("white_0"), env.agent_selection, env.engine.moves.copy()
    with pytest.raises(IllegalMoveError, match="E5"):
        env.step(40)
    with pytest.raises(IllegalMoveError, match="outside"):
        env.step(82)
    with pytest.raises(TypeError, match="integer"):
        env.step(None)
    after = env.observe("white_0"), env.agent_selection, env.engine.moves
    assert before[1] == after[1] and np.array_equal(before[2], after[2])
    assert all(np.array_equal(before[0][k], after[0][k]) for k in before[0])
    play(env, "F5")  # the game goes on
    assert env.agent_selection == "black_0"


@pytest.mark.parametrize("make", [go_v0.env, go_v0.wrapped_env])
@pytest.mark.parametrize("offender", ["black_0", "white_0"])
def test_env_illegal_move_loses(make, offender):
    """PettingZoo's classic convention: the offender gets -1, the other 0, game over."""
    env = make(board_size=9)
    env.reset()
    play(env, "E5")
    if offender == "black_0":
        play(env, "F5")
    env.step(40)  # E5 is occupied
    assert all(env.terminations.values())
    assert env.rewards[offender] == -1.0 and sum(env.rewards.values()) == -1.0
    if make is go_v0.env:  # the game is over: the agent asked sees pass alone
        mask = env.observe(env.agent_selection)["action_mask"]
        assert mask.sum() == 1 and mask[-1] == 1
    finals = {}
    for agent in env.agent_iter():
        _, reward, term, _, info = env.last()
        assert term
        finals[agent] = reward
        env.step(None)
    other = "white_0" if offender == "black_0" else "black_0"
    assert finals == {offender: -1.0, other: 0.0}
    if make is go_v0.env:
        assert info["end_reason"] == "illegal_move" and info["winner"] == other


def test_env_out_of_range_raises():
    env = go_v0.env(board_size=5)
    env.reset()
    with pytest.raises(IllegalMoveError, match="outside"):
        env.step(26)
    with pytest.raises(IllegalMoveError, match="outside"):
        env.step(-1)


# --------------------------------------------------------------------------- copies


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copy_mid_game_continues_identically(how):
    env = go_v0.env(board_size=9)
    env.reset(seed=3)
    random_game(env, random.Random(1), max_steps=40)
    clone = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    reference = random_game(env, random.Random(2))
    assert reference[-1][3]  # played to the end
    assert random_game(clone, random.Random(2)) == reference
    # The copy owns its arrays: playing it did not touch the (finished) original.
    assert env.agents == [] and env.engine.state.chains is not clone.engine.state.chains


def test_copy_is_independent():
    env = go_v0.env(board_size=5)
    env.reset()
    clone = copy.deepcopy(env)
    clone.step(12)
    assert env.engine.moves[0] == 0 and clone.engine.moves[0] == 1
    assert env.agent_selection == "black_0" and clone.agent_selection == "white_0"


# --------------------------------------------------------------------------- sizes


def test_two_sizes_coexist():
    small = go_v0.env(board_size=9)
    small.reset()
    play(small, "E5", "D4")
    big = go_v0.env(board_size=19)  # created after the 9x9 one (go_v5 breaks here)
    big.reset()
    play(big, "K10", "T19", "pass")
    play(small, "J1", "pass")
    assert small.observe("black_0")["observation"].shape == (9, 9, 17)
    assert big.observe("white_0")["observation"].shape == (19, 19, 17)
    assert small.engine.boards[0].sum() == 1 + 2 + 1
    assert big.engine.boards[0][0, 18] == 2 and big.engine.boards[0][9, 9] == 1
    assert big.observe("white_0")["action_mask"][361] == 1
    play(small, "pass")
    assert small.infos["black_0"]["end_reason"] == "two_passes"
    assert not any(big.terminations.values())


# --------------------------------------------------------------------------- rendering


def test_render_ansi():
    env = go_v0.env(board_size=9, render_mode="ansi")
    env.reset()
    play(env, "E5", "C3")
    text = env.render()
    assert isinstance(text, str)
    lines = text.splitlines()
    assert "last move C3" in lines[0]
    assert lines[1].split() == list("ABCDEFGHJ")
    assert lines[6].startswith(" 5") and "X" in lines[6]
    assert "(O)" in lines[8]


def test_render_rgb_array():
    env = go_v0.env(board_size=9, render_mode="rgb_array")
    env.reset()
    play(env, "A9", "J1")  # black at (0, 0), white at (8, 8), last move J1
    img = env.render()
    cell = 32
    assert img.shape == (10 * cell, 10 * cell, 3) and img.dtype == np.uint8

    def px(row, col, dy=0, dx=0):
        return img[cell + row * cell + dy, cell + col * cell + dx].astype(int)

    assert np.abs(px(0, 0, 6, 6) - BLACK_STONE).max() < 10  # inside the black stone
    assert np.abs(px(8, 8, 6, 6) - WHITE_STONE).max() < 10  # inside the white stone
    assert np.abs(px(8, 8) - MARK).max() < 10  # the last move is marked
    assert np.abs(img[3, 3].astype(int) - WOOD).max() == 0  # the margin is wood
    assert np.abs(px(4, 4, 10, 10) - WOOD).max() == 0  # between lines of an empty point
    assert px(4, 4, 0, 10).max() < 100  # a grid line through the point
    assert px(4, 4).max() < 100  # tengen is a star point


def test_render_modes_checked():
    with pytest.raises(ValueError, match="render_mode"):
        go_v0.env(render_mode="human")
    env = go_v0.env(board_size=5)
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
