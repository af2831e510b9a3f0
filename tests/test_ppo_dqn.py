"""PPO and the off-policy replay learner: negamax targets on hand-built games, the clipped
objective, ratio 1 before the first update, masked play, double Q, prioritised replay."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from rlgo.agents.dqn import DQNConfig, QPlayer, legal_q
from rlgo.agents.ppo import PPOConfig, clipped_surrogate
from rlgo.envs import GoEngine, Rules
from rlgo.learning import ReplayBuffer
from rlgo.learning.network import NetConfig, PolicyValueNet, masked_log_softmax
from rlgo.protocols import Experience, Positions
from rlgo.registry import get_learner
from rlgo.training import SelfPlay

TINY = NetConfig(blocks=1, channels=8, value_hidden=8)
RULES = Rules(board_size=5)


def _learner(name: str, net: NetConfig = TINY, **config):
    entry = get_learner(name)
    return entry.make(RULES, entry.config_class(**config), net, 0, "cpu")


def _two_games() -> Experience:
    """Game 0: B W B (Black's third move ends it), Black wins. Game 1: B W B W, White
    wins. Rows in move order; values chosen by hand."""
    game = np.array([0, 0, 0, 1, 1, 1, 1])
    move = np.array([0, 1, 2, 0, 1, 2, 3], np.int32)
    player = np.array([1, 2, 1, 1, 2, 1, 2], np.int8)
    outcome = np.array([1, -1, 1, -1, 1, -1, 1], np.float32)
    value = np.array([0.5, -0.2, 0.8, 0.1, 0.3, -0.6, 0.9], np.float32)
    t = len(game)
    return Experience(obs=np.zeros((t, 17, 5, 5), np.uint8), mask=np.ones((t, 26), bool),
                      player=player, action=np.arange(t, dtype=np.int64),
                      reward=np.zeros(t, np.float32), outcome=outcome,
                      last=np.zeros(t, bool), game=game.astype(np.int64), move=move,
                      extras={"value": value, "logp": np.zeros(t, np.float32)})


# --------------------------------------------------------------------- PPO


def test_ppo_advantages_are_negamax_gae_on_a_hand_built_game():
    batch = _two_games()
    v = batch.extras["value"]
    # lambda 1: the Monte-Carlo return (the outcome) minus the value, in both modes
    for per_player in (True, False):
        learner = _learner("ppo", gae_lambda=1.0, per_player=per_player)
        adv, ret = learner.advantages(batch)
        np.testing.assert_allclose(adv, batch.outcome - v, atol=1e-6)
        np.testing.assert_allclose(ret, batch.outcome, atol=1e-6)
    # lambda 0, own moves: delta = V(own next) - V, the outcome on each last move
    adv, _ = _learner("ppo", gae_lambda=0.0, per_player=True).advantages(batch)
    np.testing.assert_allclose(adv, [0.8 - 0.5, -1 + 0.2, 1 - 0.8,
                                     -0.6 - 0.1, 0.9 - 0.3, -1 + 0.6, 1 - 0.9], atol=1e-6)
    # lambda 0, plies: the next mover is the opponent, whose value enters negated
    adv, _ = _learner("ppo", gae_lambda=0.0, per_player=False).advantages(batch)
    np.testing.assert_allclose(adv, [0.2 - 0.5, -0.8 + 0.2, 1 - 0.8,
                                     -0.3 - 0.1, 0.6 - 0.3, -0.9 + 0.6, 1 - 0.9], atol=1e-6)


def test_clip_stops_the_gradient_only_in_the_direction_the_advantage_favours():
    def grad(log_ratio: float, adv: float) -> float:
        x = torch.tensor([log_ratio], requires_grad=True)
        clipped_surrogate(x, torch.tensor([adv]), 0.2).backward()
        return float(x.grad[0])

    up, down = float(np.log(1.5)), float(np.log(0.5))
    assert grad(up, +1.0) == 0.0  # already far more likely: no further push up
    assert grad(down, -1.0) == 0.0  # already far less likely: no further push down
    assert grad(down, +1.0) < 0.0  # below the range, a good move is still raised
    assert grad(up, -1.0) > 0.0  # above it, a bad move is still lowered
    assert grad(0.0, +1.0) == pytest.approx(-1.0)  # inside: the plain policy gradient


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_ppo_ratio_is_one_before_the_first_update(precision):
    torch.manual_seed(0)
    learner = _learner("ppo", replace(TINY, precision=precision), minibatch=4096, epochs=1)
    batch, _ = SelfPlay(RULES, 4, learner.player()).play(4)
    learner.net.eval()
    with torch.no_grad():
        logits, _ = learner.net(torch.from_numpy(batch.obs))
    logp = masked_log_softmax(logits, torch.from_numpy(batch.mask))
    loss_logp = logp.gather(1, torch.from_numpy(batch.action)[:, None]).squeeze(1).numpy()
    if precision == "float32":  # acting and the loss run one function
        np.testing.assert_allclose(batch.extras["logp"], loss_logp, atol=1e-5)
    else:  # the bfloat16 acting copy rounds otherwise: PPO recomputes its behaviour
        assert not np.allclose(batch.extras["logp"], loss_logp, atol=1e-5)
        np.testing.assert_allclose(batch.extras["logp"], loss_logp, atol=0.05)
    first = learner.learn(batch).metrics  # one epoch of one minibatch: the statistics of the
    assert first["losses/approx_kl"] == pytest.approx(0.0, abs=1e-9)  # pass before the step
    assert first["losses/clipfrac"] == 0.0
    learner.net.eval()
    with torch.no_grad():
        moved, _ = learner.net(torch.from_numpy(batch.obs))
    assert not torch.allclose(moved, logits, atol=1e-4)  # the step moved the policy


def test_ppo_logs_what_the_issue_names():
    torch.manual_seed(0)
    learner = _learner("ppo", target_kl=1e-9, lr_anneal_positions=1000, minibatch=64)
    batch, _ = SelfPlay(RULES, 4, learner.player()).play(4)
    learned = learner.learn(batch)
    metrics = learned.metrics
    for key in ("losses/approx_kl", "losses/clipfrac", "losses/explained_variance",
                "losses/entropy", "losses/value", "losses/policy", "charts/advantage_std"):
        assert key in metrics
    # the KL of the first epoch's later minibatches exceeds the target: one epoch only
    assert metrics["charts/epochs"] == 1.0
    assert learned.train_samples == len(batch) and learned.nn_evals == 0
    assert learner.learn(batch).metrics["charts/lr"] < learner.config.lr  # annealed
    with pytest.raises(ValueError, match="gae_lambda"):
        PPOConfig(gae_lambda=1.5)


# --------------------------------------------------------------------- replay learner


def _positions(n: int, rng: np.random.Generator) -> Positions:
    eng = GoEngine(n, RULES)
    for _ in range(6):
        eng.step(eng.random_actions(rng))
    mask = eng.legal.copy()
    mask[:, :-1] &= rng.random((n, 25)) < 0.3  # sparse legal sets
    return Positions(eng.observations(), mask, eng, np.arange(n))


@pytest.mark.parametrize("mode", [dict(greedy=True), dict(greedy=False, temperature=5.0),
                                  dict(greedy=False, epsilon=1.0, temperature=0.0)])
def test_q_player_never_picks_an_illegal_move(mode):
    rng = np.random.default_rng(0)
    net = PolicyValueNet(5, TINY)
    with torch.no_grad():
        net.policy_fc.bias[:] = 10.0  # every illegal action looks best
    player = QPlayer(net, "q", seed=1, **mode)
    for _ in range(5):
        pos = _positions(64, rng)
        d = player.act(pos)
        assert pos.mask[np.arange(64), d.actions].all()
    q = legal_q(net, torch.from_numpy(pos.obs), torch.from_numpy(pos.mask))
    assert pos.mask[np.arange(64), q.argmax(1).numpy()].all()


def test_double_q_uses_the_online_argmax_and_the_target_value():
    torch.manual_seed(0)
    learner = _learner("dqn")
    learner.net.eval()
    with torch.no_grad():  # the two networks disagree on the best move
        learner.net.policy_fc.bias[:] = 0.0
        learner.net.policy_fc.bias[3] = 5.0
        learner.target.policy_fc.bias[:] = 0.0
        learner.target.policy_fc.bias[7] = 5.0
    pos = _positions(8, np.random.default_rng(1))
    pos.mask[:, [3, 7]] = True
    obs, mask = torch.from_numpy(pos.obs), torch.from_numpy(pos.mask)
    values = learner.bootstrap_values(obs, mask)
    target_q = torch.tanh(learner.target(obs)[0])
    torch.testing.assert_close(values, target_q[:, 3])  # online argmax 3, target's value
    assert (target_q[:, 7] > values).all()  # not the target's own max


def test_dqn_targets_are_negamax_n_step_returns():
    batch = _two_games()
    plies = _learner("dqn", n_step=2).targets(batch)
    # game 0 (B W B, Black wins): row 0 sums its own zero reward and White's (zero), then
    # bootstraps from row 2 (Black to move again: two sign flips, +1); row 1 reaches the
    # final move, reward +1 for Black = -1 for White, no bootstrap; row 2 is terminal
    np.testing.assert_allclose(plies["partial"][:3], [0.0, -1.0, 1.0])
    np.testing.assert_allclose(plies["boot_coef"][:3], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(plies["boot_obs"][0], batch.obs[2])
    one = _learner("dqn", n_step=1).targets(batch)
    np.testing.assert_allclose(one["boot_coef"], [-1, -1, 0, -1, -1, -1, 0])
    own = _learner("dqn", n_step=1, per_player=True).targets(batch)
    np.testing.assert_allclose(own["partial"], [0, -1, 1, 0, 0, -1, 1])
    np.testing.assert_allclose(own["boot_coef"], [1, 0, 0, 1, 1, 0, 0])


def test_prioritised_sampling_follows_the_priorities():
    buf = ReplayBuffer(4, alpha=1.0)
    buf.add({"x": np.arange(4)})
    buf.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    torch.manual_seed(0)
    idx, w = buf.sample_prioritized(40_000, beta=1.0)
    freq = np.bincount(idx, minlength=4) / len(idx)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    # w_i = (N P(i))^-1 normalised by the largest: the rarest row weighs 1
    expected = (4 * np.array([0.1, 0.2, 0.3, 0.4])) ** -1.0
    np.testing.assert_allclose(w, (expected / expected.max())[idx], rtol=1e-5)
    buf.add({"x": np.array([9])})  # new rows get the largest priority so far
    assert buf.priorities[0] == 4.0
    with pytest.raises(ValueError, match="positive"):
        buf.update_priorities(np.array([1]), np.array([0.0]))
    twin = ReplayBuffer(4, alpha=1.0)
    twin.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(twin.priorities, buf.priorities)


def test_dqn_learns_after_warm_up_and_logs_what_the_issue_names():
    torch.manual_seed(0)
    learner = _learner("dqn", learning_starts=100, minibatch=64, buffer_positions=500)
    batch, _ = SelfPlay(RULES, 8, learner.player()).play(8)
    learned = learner.learn(batch)
    metrics = learned.metrics
    for key in ("losses/td_error", "charts/q_mean", "charts/q_max", "charts/q_legal_mean",
                "charts/sample_age", "charts/replay_ratio", "charts/buffer_size"):
        assert np.isfinite(metrics[key]), key
    assert learned.nn_evals > 0 and learned.train_samples > 0
    nbytes = learner.buffer.nbytes
    for _ in range(3):
        learner.learn(SelfPlay(RULES, 8, learner.player()).play(8)[0])
    assert learner.buffer.nbytes == nbytes and len(learner.buffer) == 500
    with pytest.raises(ValueError, match="cannot guide tree search"):
        learner.snapshot_player(learner.snapshot(), name="s", search=8)
    with pytest.raises(ValueError, match="exploration"):
        DQNConfig(exploration="ucb")
