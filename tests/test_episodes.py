"""Episodes, successors, GAE and n-step returns on two hand-written games.

Game 7: five moves B W B W B, Black wins. Game 3: four moves B W B W, White wins.
The rows are listed shuffled; the comment on each row is its index, and every expected
array below is written by hand from this table.
"""

from __future__ import annotations

import numpy as np
import pytest

from rlgo.learning.episodes import (
    episode_ids,
    gae,
    n_step_returns,
    n_step_targets,
    successors,
    terminal_rewards,
)

B, W = 1, 2
ROWS = [
    # game, move, player, outcome, value
    (3, 2, B, -1.0, 0.2),  # 0
    (7, 4, B, +1.0, 0.9),  # 1
    (7, 0, B, +1.0, 0.1),  # 2
    (3, 0, B, -1.0, -0.1),  # 3
    (7, 3, W, -1.0, -0.6),  # 4
    (3, 3, W, +1.0, 0.7),  # 5
    (7, 1, W, -1.0, -0.2),  # 6
    (3, 1, W, +1.0, 0.3),  # 7
    (7, 2, B, +1.0, 0.4),  # 8
]
# Move order: game 7 is rows 2, 6, 8, 4, 1; game 3 is rows 3, 7, 0, 5.
PLY_NEXT = [5, -1, 6, 7, 1, -1, 8, 0, 4]
PLY_SIGN = [-1, 1, -1, -1, -1, 1, -1, -1, -1]  # +1 where there is no successor
PLAYER_NEXT = [-1, -1, 8, 0, -1, -1, 4, 5, 1]


def columns(rows):
    game, move, player, outcome, value = zip(*rows, strict=True)
    return (
        np.array(game, np.int64),
        np.array(move, np.int32),
        np.array(player, np.int8),
        np.array(outcome, np.float32),
        np.array(value, np.float32),
    )


GAME, MOVE, PLAYER, OUTCOME, VALUE = columns(ROWS)


def chains(per_player):
    next_index, sign = successors(GAME, PLAYER, MOVE, per_player)
    return next_index, sign, terminal_rewards(OUTCOME, next_index)


def test_episode_ids_are_dense_and_ordered_by_game_then_player():
    # (3, B) = 0, (3, W) = 1, (7, B) = 2, (7, W) = 3
    np.testing.assert_array_equal(episode_ids(GAME, PLAYER), [0, 2, 2, 0, 3, 1, 3, 1, 2])


def test_successors_along_plies_flip_sign_at_the_opponent():
    next_index, sign = successors(GAME, PLAYER, MOVE, per_player=False)
    np.testing.assert_array_equal(next_index, PLY_NEXT)
    np.testing.assert_array_equal(sign, PLY_SIGN)
    assert next_index.dtype == np.int64 and sign.dtype == np.float32


def test_successors_per_player_never_flip_sign():
    next_index, sign = successors(GAME, PLAYER, MOVE, per_player=True)
    np.testing.assert_array_equal(next_index, PLAYER_NEXT)
    np.testing.assert_array_equal(sign, np.ones(9))


def test_successors_reject_a_repeated_move_number():
    with pytest.raises(ValueError, match="move number"):
        successors(np.array([1, 1]), np.array([B, W]), np.array([0, 0]), per_player=False)


def test_terminal_rewards_sit_on_each_chains_last_row():
    # Along plies only the game's last move ends a chain; per player, each colour's last.
    np.testing.assert_array_equal(chains(False)[2], [0, 1, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(chains(True)[2], [-1, 1, 0, 0, -1, 1, 0, 0, 0])


@pytest.mark.parametrize("per_player", [False, True])
def test_gae_with_lambda_one_is_the_outcome_minus_the_value(per_player):
    next_index, sign, reward = chains(per_player)
    adv, ret = gae(VALUE, reward, next_index, sign, gamma=1.0, lam=1.0)
    np.testing.assert_allclose(adv, OUTCOME - VALUE, atol=1e-6)
    np.testing.assert_allclose(ret, OUTCOME, atol=1e-6)


def test_gae_with_lambda_zero_is_the_negamax_td_error():
    next_index, sign, reward = chains(per_player=False)
    adv, ret = gae(VALUE, reward, next_index, sign, gamma=1.0, lam=0.0)
    expected = [
        -0.9,  # row 0: 0 - V5 - V0 = -0.7 - 0.2
        0.1,  # row 1: game 7's last move, 1 - V1 = 1 - 0.9
        0.1,  # row 2: 0 - V6 - V2 = 0.2 - 0.1
        -0.2,  # row 3: 0 - V7 - V3 = -0.3 + 0.1
        -0.3,  # row 4: 0 - V1 - V4 = -0.9 + 0.6
        0.3,  # row 5: 1 - 0.7
        -0.2,  # row 6: 0 - V8 - V6 = -0.4 + 0.2
        -0.5,  # row 7: 0 - V0 - V7 = -0.2 - 0.3
        0.2,  # row 8: 0 - V4 - V8 = 0.6 - 0.4
    ]
    np.testing.assert_allclose(adv, expected, atol=1e-6)
    np.testing.assert_allclose(ret, np.array(expected) + VALUE, atol=1e-6)


def test_gae_with_discount_and_lambda_on_game_3():
    next_index, sign, reward = chains(per_player=False)
    adv, ret = gae(VALUE, reward, next_index, sign, gamma=0.9, lam=0.5)
    # Backwards along 3 -> 7 -> 0 -> 5, each step entering with gamma * -1:
    # A5 = 1 - 0.7                            = 0.3
    # A0 = (-0.9 * 0.7 - 0.2) - 0.45 * A5     = -0.965
    # A7 = (-0.9 * 0.2 - 0.3) - 0.45 * A0     = -0.04575
    # A3 = (-0.9 * 0.3 + 0.1) - 0.45 * A7     = -0.1494125
    game_3 = [5, 0, 7, 3]
    np.testing.assert_allclose(adv[game_3], [0.3, -0.965, -0.04575, -0.1494125], atol=1e-6)
    np.testing.assert_allclose(ret[game_3], [1.0, -0.765, 0.25425, -0.2494125], atol=1e-6)


def test_one_colour_recorded_chains_along_plies_without_a_flip():
    # A learner against a frozen opponent: Black's rows of game 7, White's of game 3.
    game, move, player, outcome, value = columns([ROWS[i] for i in (1, 2, 8, 5, 7)])
    next_index, sign = successors(game, player, move, per_player=False)
    np.testing.assert_array_equal(next_index, [-1, 2, 0, -1, 3])
    np.testing.assert_array_equal(sign, [1, 1, 1, 1, 1])
    reward = terminal_rewards(outcome, next_index)
    adv, _ = gae(value, reward, next_index, sign, gamma=1.0, lam=0.0)
    # row 1 (move 0): 0 + V2 - V1 = 0.4 - 0.1; row 4 (move 1): 0 + V3 - V4 = 0.7 - 0.3
    np.testing.assert_allclose(adv, [0.1, 0.3, 0.5, 0.3, 0.4], atol=1e-6)


def test_one_step_return_bootstraps_from_the_negated_successor():
    next_index, sign, reward = chains(per_player=False)
    partial, boot_index, boot_coef = n_step_targets(reward, next_index, sign, n=1)
    np.testing.assert_array_equal(partial, reward)
    np.testing.assert_array_equal(boot_index, PLY_NEXT)
    np.testing.assert_array_equal(boot_coef, [-1, 0, -1, -1, -1, 0, -1, -1, -1])
    returns = n_step_returns(reward, VALUE, next_index, sign, n=1)
    expected = [-0.7, 1.0, 0.2, -0.3, -0.9, 1.0, -0.4, -0.2, 0.6]  # r - V[next]
    np.testing.assert_allclose(returns, expected, atol=1e-6)


def test_two_step_return():
    next_index, sign, reward = chains(per_player=False)
    partial, boot_index, boot_coef = n_step_targets(reward, next_index, sign, n=2)
    # Two plies on is the same colour (coef +1); rows 0 and 4 reach the end first and
    # take the final reward negated.
    np.testing.assert_array_equal(boot_index, [-1, -1, 8, 0, -1, -1, 4, 5, 1])
    np.testing.assert_array_equal(boot_coef, [0, 0, 1, 1, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(partial, [-1, 1, 0, 0, -1, 1, 0, 0, 0])
    returns = n_step_returns(reward, VALUE, next_index, sign, n=2)
    np.testing.assert_allclose(returns, [-1, 1, 0.4, 0.2, -1, 1, -0.6, 0.7, 0.9], atol=1e-6)


@pytest.mark.parametrize("per_player", [False, True])
def test_n_longer_than_the_game_is_the_monte_carlo_return(per_player):
    next_index, sign, reward = chains(per_player)
    partial, boot_index, boot_coef = n_step_targets(reward, next_index, sign, n=10)
    np.testing.assert_array_equal(boot_index, -np.ones(9))
    np.testing.assert_array_equal(boot_coef, np.zeros(9))
    np.testing.assert_array_equal(partial, OUTCOME)


def test_discounted_two_step_return():
    next_index, sign, reward = chains(per_player=False)
    _, _, boot_coef = n_step_targets(reward, next_index, sign, n=2, gamma=0.9)
    returns = n_step_returns(reward, VALUE, next_index, sign, n=2, gamma=0.9)
    assert boot_coef[2] == pytest.approx(0.81)
    assert returns[2] == pytest.approx(0.81 * 0.4)  # 0 - 0.9 * 0 + 0.81 * V8
    assert returns[3] == pytest.approx(0.81 * 0.2)  # 0 - 0.9 * 0 + 0.81 * V0
    assert returns[4] == pytest.approx(-0.9)  # 0 - 0.9 * r1, chain ends
    assert returns[1] == pytest.approx(1.0)  # the last move keeps its undiscounted reward


def test_n_must_be_positive():
    with pytest.raises(ValueError, match="n must be"):
        n_step_targets(np.zeros(1), np.array([-1]), np.ones(1), n=0)
