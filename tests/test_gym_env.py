"""The Gymnasium single-agent env (rlgo.envs.gym_env): checker, registration, masks,
opponents, endings, and a MaskablePPO smoke run."""

from __future__ import annotations

import copy
import pickle
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlgo.envs.engine import IllegalMoveError
from rlgo.envs.gym_env import ENV_ID, GoGymEnv, register_envs


def passer(obs, mask, rng):
    """An opponent that always passes."""
    return len(mask) - 1


@pytest.fixture(autouse=True, scope="module")
def _registered():
    register_envs()


@pytest.mark.parametrize("kwargs", [
    {"board_size": 5},
    {"board_size": 9, "agent_colour": "white"},
    {"board_size": 7, "agent_colour": "alternate", "render_mode": "ansi"},
    {"board_size": 5, "opponent": passer, "render_mode": "rgb_array"},
])
def test_check_env(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's notes on spec-less render tests
        check_env(GoGymEnv(**kwargs))
        check_env(gymnasium.make(ENV_ID, **kwargs).unwrapped)


def test_registration():
    register_envs()  # idempotent
    env = gymnasium.make(ENV_ID, board_size=5, opponent="random")
    assert isinstance(env.unwrapped, GoGymEnv)
    assert env.observation_space.shape == (5, 5, 17) and env.observation_space.dtype == np.uint8
    assert env.action_space.n == 26
    obs, info = env.reset(seed=0)
    assert obs.shape == (5, 5, 17) and (obs[:, :, 16] == 1).all()  # plays Black
    assert info["agent_colour"] == "black"


def test_action_masks():
    env = GoGymEnv(board_size=5)
    obs, info = env.reset(seed=0)
    mask = env.action_masks()
    assert mask.dtype == np.bool_ and mask.shape == (26,) and mask.all()
    _, _, _, _, info = env.step(12)
    mask = env.action_masks()
    assert np.array_equal(mask, info["action_mask"])
    board = env.engine.boards[0].reshape(-1)
    assert np.array_equal(mask[:25], board == 0)  # no capture or superko yet
    assert mask[25]
    mask[:] = False  # a copy: the env's mask is untouched
    assert env.action_masks().any()


def test_agent_white_opponent_moves_first():
    env = GoGymEnv(board_size=5, agent_colour="white")
    obs, info = env.reset(seed=3)
    assert info["agent_colour"] == "white"
    assert (obs[:, :, 16] == 0).all()
    assert obs[:, :, 1].sum() == 1 and obs[:, :, 0].sum() == 0  # Black's first stone
    assert env.engine.moves[0] == 1


def test_alternate_colours():
    env = GoGymEnv(board_size=5, agent_colour="alternate")
    colours = [env.reset(seed=0 if i == 0 else None)[1]["agent_colour"] for i in range(4)]
    assert colours == ["black", "white", "black", "white"]
    assert env.reset(seed=1)[1]["agent_colour"] == "black"  # a seeded reset restarts
    assert env.reset(options={"agent_colour": "white"})[1]["agent_colour"] == "white"


def test_opponent_callable_sees_its_own_view():
    calls = []

    def opponent(obs, mask, rng):
        calls.append((obs.copy(), mask.copy(), rng))
        return len(mask) - 1  # pass

    env = GoGymEnv(board_size=5, komi=24.5, opponent=opponent)
    env.reset(seed=0)
    obs, reward, term, trunc, info = env.step(12)  # C3, then the opponent passes
    assert not term and len(calls) == 1
    seen, mask, rng = calls[0]
    assert seen.shape == (5, 5, 17) and (seen[:, :, 16] == 0).all()  # White's view
    assert seen[2, 2, 1] == 1 and mask.dtype == np.bool_ and not mask[12]
    assert rng is env.np_random
    obs, reward, term, trunc, info = env.step(25)  # Black passes: two passes
    assert term and not trunc
    assert info["end_reason"] == "two_passes" and info["winner"] == "black"
    assert info["score"] == pytest.approx(0.5) and reward == 1.0  # 25 points - 24.5
    assert env.action_masks().sum() == 1 and env.action_masks()[25]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_draw_gives_zero():
    env = GoGymEnv(board_size=5, komi=0, opponent=passer)
    env.reset(seed=0)
    _, reward, term, _, info = env.step(25)
    assert term and reward == 0.0 and info["winner"] is None and info["score"] == 0.0


def test_loss_and_move_cap():
    env = GoGymEnv(board_size=5, komi=0.5, max_moves=4, agent_colour="white",
                   opponent=lambda obs, mask, rng: int(np.flatnonzero(mask)[0]))
    env.reset(seed=0)  # Black A5
    _, reward, term, _, _ = env.step(24)  # White E1, Black B5
    assert not term
    _, reward, term, trunc, info = env.step(25)  # White passes: the 4th move, the cap
    assert term and not trunc and info["end_reason"] == "move_cap"
    assert info["score"] == pytest.approx(0.5) and reward == -1.0


def test_illegal_action_loses_or_raises():
    env = GoGymEnv(board_size=5, opponent=passer)
    env.reset(seed=0)
    env.step(12)
    _, reward, term, _, info = env.step(12)  # occupied
    assert term and reward == -1.0
    assert info["end_reason"] == "illegal_move" and info["winner"] == "white"
    assert env.action_masks().sum() == 1

    strict = GoGymEnv(board_size=5, opponent=passer, illegal_action="raise")
    strict.reset(seed=0)
    strict.step(12)
    with pytest.raises(IllegalMoveError, match="C3"):
        strict.step(12)
    assert strict.engine.moves[0] == 2  # unchanged, and the game goes on
    strict.step(13)
    with pytest.raises(IllegalMoveError, match="outside"):
        strict.step(26)


def test_illegal_opponent_raises():
    env = GoGymEnv(board_size=5, opponent=lambda obs, mask, rng: 0)
    env.reset(seed=0)
    with pytest.raises(IllegalMoveError, match="opponent"):
        env.step(0)


def test_seeded_games_repeat():
    def trajectory(env):
        obs, _ = env.reset(seed=5)
        out, done = [obs.tobytes()], False
        while not done:
            action = int(np.flatnonzero(env.action_masks())[0])  # fixed agent policy
            obs, reward, done, _, _ = env.step(action)
            out.append((obs.tobytes(), reward))
        return out

    assert trajectory(GoGymEnv(board_size=7)) == trajectory(GoGymEnv(board_size=7))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_continue_identically(how):
    env = GoGymEnv(board_size=5)
    env.reset(seed=2)
    env.step(12)
    clone = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    for _ in range(3):  # the random opponent's generator was copied too
        action = int(np.flatnonzero(env.action_masks()[:-1])[-1])
        a, b = env.step(action), clone.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]


def test_render():
    env = GoGymEnv(board_size=5, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(12)
    img = env.render()
    assert img.shape == (6 * 32, 6 * 32, 3) and img.dtype == np.uint8
    text = GoGymEnv(board_size=5, render_mode="ansi")
    text.reset(seed=0)
    assert "A B C D E" in text.render()


def test_maskable_ppo_smoke():
    torch = pytest.importorskip("torch")
    sb3_contrib = pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    env = gymnasium.make(ENV_ID, board_size=5, opponent="random")
    model = sb3_contrib.MaskablePPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1,
                                    seed=0, policy_kwargs={"net_arch": [32]})
    model.learn(total_timesteps=256)
    obs, _ = env.reset(seed=1)
    mask = env.unwrapped.action_masks()
    action, _ = model.predict(obs, action_masks=mask, deterministic=True)
    assert mask[int(action)]


def test_an_opponent_that_raises_leaves_the_env_as_before_the_step():
    """Bit-identical state, the agent still to move: the next step plays the agent's
    colour, not the opponent's."""
    calls = {"n": 0}

    def flaky(obs, mask, rng):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("opponent crashed")
        return int(np.flatnonzero(mask[:-1])[0])

    env = GoGymEnv(board_size=5, opponent=flaky, agent_colour="black")
    env.reset(seed=0)
    env.step(12)
    env.step(6)
    before = [x.copy() for x in env.engine.state]
    mask = env.action_masks()
    with pytest.raises(RuntimeError, match="opponent crashed"):
        env.step(18)
    for now, old in zip(env.engine.state, before, strict=True):
        np.testing.assert_array_equal(now, old)
    np.testing.assert_array_equal(env.action_masks(), mask)
    assert int(env.engine.moves[0]) == 4 and int(env.engine.to_play[0]) == 1  # Black's turn
    obs, *_ = env.step(18)  # the retry plays Black's stone, then the opponent answers
    assert int(env.engine.moves[0]) == 6 and obs[3, 3, 0] == 1  # (row 3, col 3): ours


def test_an_opponent_that_raises_on_its_opening_move_needs_a_new_reset():
    def broken(obs, mask, rng):
        raise RuntimeError("no opening book")

    env = GoGymEnv(board_size=5, opponent=broken, agent_colour="white")
    with pytest.raises(RuntimeError, match="opening book"):
        env.reset(seed=0)
    with pytest.raises(RuntimeError, match="call reset"):  # never plays as the wrong colour
        env.step(12)
