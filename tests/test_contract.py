"""The learner contract: behaviour log-probabilities, augmentation inside the learner, the
shared replay buffer, the agent registry (a third-party learner trained through `rlgo
train` without touching rlgo), devices."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rlgo.agents.network_player import NetworkPlayer
from rlgo.envs import Rules
from rlgo.learning import ReplayBuffer, augment, masked_log_softmax
from rlgo.learning.augment import transform_planes, transform_policy
from rlgo.learning.network import NetConfig, PolicyValueNet, resolve_device, tempered
from rlgo.registry import UnknownAgentError, builtin_names, get_learner, registered
from rlgo.training import SelfPlay, TrainConfig, build_trainer
from rlgo.training.config import apply_overrides

TINY = NetConfig(blocks=1, channels=8, value_hidden=8)
FLOAT32 = dataclasses.replace(TINY, precision="float32")
RULES = Rules(board_size=5)


# ----------------------------------------------------------------- behaviour policy


def test_recorded_logp_is_the_distribution_actually_sampled():
    """At temperature T the player samples pi^(1/T) renormalised; ``logp`` is that
    distribution's log-probability of the action, not the T = 1 policy's."""
    torch.manual_seed(0)
    net = PolicyValueNet(5, TINY)
    player = NetworkPlayer(net, "t", greedy=False, temperature=0.5, seed=0)
    batch, _ = SelfPlay(RULES, 4, player).play(4)
    logp, _ = net.evaluate(batch.obs, batch.mask)
    expected = tempered(logp, 0.5)[np.arange(len(batch)), batch.action]
    np.testing.assert_allclose(batch.extras["logp"], expected, atol=1e-5)
    assert not np.allclose(batch.extras["logp"], logp[np.arange(len(batch)), batch.action])
    # tempered rows are distributions; T = 1 is the identity
    np.testing.assert_allclose(np.exp(tempered(logp, 0.5)).sum(1), 1.0, rtol=1e-5)
    assert tempered(logp, 1.0) is logp


@pytest.mark.parametrize("agent,config", [("ppo", {}),
                                          ("reinforce", {"consistent_norm": True})])
def test_ratio_is_one_before_the_first_update(agent, config):
    """A learner recomputing log pi(a|s) with its network in eval mode (as PPO learns, and
    REINFORCE with consistent_norm) gets exactly the behaviour log-probabilities: ratio 1
    at identical weights, also after BatchNorm's statistics were refreshed by an update.
    In float32: a bfloat16 network acts through its acting copy, and PPO then recomputes
    its behaviour log-probabilities (test_ppo_dqn)."""
    torch.manual_seed(0)
    entry = get_learner(agent)
    learner = entry.make(RULES, entry.config_class(**config), FLOAT32, 0, "cpu")
    for _ in range(2):  # before any update, and after one (statistics refreshed)
        batch, _ = SelfPlay(RULES, 4, learner.player()).play(4)
        learner.net.eval()
        with torch.no_grad():
            logits, _ = learner.net(torch.from_numpy(batch.obs))
            logp = masked_log_softmax(logits, torch.from_numpy(batch.mask))
        new = logp.gather(1, torch.from_numpy(batch.action)[:, None]).squeeze(1).numpy()
        ratio = np.exp(new - batch.extras["logp"])
        np.testing.assert_allclose(ratio, 1.0, atol=1e-5)
        learner.net.train()  # train mode would give another function: the bug fixed
        with torch.no_grad():
            logits, _ = learner.net(torch.from_numpy(batch.obs))
        other = masked_log_softmax(logits, torch.from_numpy(batch.mask))
        assert not torch.allclose(other, logp, atol=1e-3)
        learner.learn(batch)


# ----------------------------------------------------------------- augmentation


def test_mcts_draws_a_fresh_symmetry_each_time_a_row_is_sampled():
    torch.manual_seed(0)
    entry = get_learner("mcts")
    cfg = entry.config_class(simulations=2, minibatch=16, augment=True)
    learner = entry.make(RULES, cfg, TINY, 0, "cpu")
    batch, _ = SelfPlay(RULES, 2, learner.player()).play(2)
    learner.learn(batch)
    row = 3
    stored = learner.window.rows(np.array([row]))
    draws = learner._minibatch(np.full(64, row))
    images = {transform_planes(stored["obs"][0], k).tobytes(): k for k in range(8)}
    seen = set()
    for obs, policy in zip(draws["obs"].numpy(), draws["policy"].numpy(), strict=True):
        k = images[obs.tobytes()]  # every draw is a symmetry of the stored row...
        np.testing.assert_allclose(policy, transform_policy(stored["policy"][0], 5, k))
        seen.add(k)
    assert len(seen) >= 4  # ...and the draws differ (64 draws of 8 symmetries)
    np.testing.assert_array_equal(learner.window.rows(np.array([row]))["obs"], stored["obs"])


def test_augment_moves_actions_with_the_board():
    rng = np.random.default_rng(1)
    obs = np.zeros((8, 17, 5, 5), np.uint8)
    action = np.full(8, 1)  # the point (row 0, col 1)
    obs[:, 0, 0, 1] = 1  # a stone where the action is
    mask = np.zeros((8, 26), bool)
    mask[:, 1] = True
    obs2, mask2, action2, _, _ = augment(obs, mask, action, None, rng)
    for o, m, a in zip(obs2, mask2, action2, strict=True):
        assert o[0].reshape(-1)[a] == 1 and m[a] and m.sum() == 1


# ----------------------------------------------------------------- replay buffer


def test_replay_buffer_keeps_the_newest_rows_in_flat_memory():
    buf = ReplayBuffer(5)
    for start in (0, 3, 6):
        buf.add({"x": np.arange(start, start + 3), "y": np.zeros((3, 4), np.float32)})
    assert len(buf) == 5 and buf.added == 9
    assert buf.data["x"].tolist() == [5, 6, 7, 8, 4]  # a ring: 4 is the oldest
    nbytes = buf.nbytes
    for _ in range(200):  # a long run: memory stays where it was
        buf.add({"x": np.arange(7), "y": np.ones((7, 4), np.float32)})
    assert buf.nbytes == nbytes and len(buf) == 5 and buf.added == 9 + 1400
    assert sorted(buf.data["x"].tolist()) == [2, 3, 4, 5, 6]  # more rows than room: last 5
    twin = ReplayBuffer(5)
    twin.load_state_dict(buf.state_dict())  # rows in place: same samples after a resume
    np.testing.assert_array_equal(twin.data["x"], buf.data["x"])
    torch.manual_seed(3)
    a = buf.sample((4, 2))
    torch.manual_seed(3)
    np.testing.assert_array_equal(a, twin.sample((4, 2)))
    assert a.shape == (4, 2) and a.max() < 5
    with pytest.raises(ValueError, match="fields"):
        buf.add({"x": np.arange(2)})
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3).sample((1,))


def test_mcts_window_memory_is_bounded_over_many_updates():
    torch.manual_seed(0)
    entry = get_learner("mcts")
    cfg = entry.config_class(simulations=2, minibatch=16, replay_positions=40,
                             replay_ratio=0.5)
    learner = entry.make(RULES, cfg, TINY, 0, "cpu")
    sizes = []
    for _ in range(4):
        batch, _ = SelfPlay(RULES, 4, learner.player()).play(4)
        learner.learn(batch)
        sizes.append(learner.window.nbytes)
    assert len(learner.window) == 40 and learner.window.added > 40
    assert len(set(sizes)) == 1


# ----------------------------------------------------------------- registry


def test_registry_lists_the_builtin_learners_and_refuses_unknown_names():
    assert {"mcts", "reinforce"} <= set(registered())
    assert "network_player" not in registered()  # fixed players define no make
    entry = get_learner("reinforce")
    assert entry.config_class.__name__ == "ReinforceConfig" and entry.builtin
    with pytest.raises(UnknownAgentError, match="registered agents: .*mcts"):
        get_learner("alphago")
    with pytest.raises(UnknownAgentError, match="cannot import"):
        get_learner("no_such_package.agent:make")
    with pytest.raises(UnknownAgentError, match="no callable 'nope'"):
        get_learner("rlgo.agents.reinforce:nope")


def test_a_learner_module_declares_its_own_fast_test_settings(tmp_path, monkeypatch):
    """Every learner's tiny-run settings come from its module, so the suite's
    registry-wide tests train a new learner without a test edited for it."""
    assert get_learner("mcts").fast_settings[0] == "simulations=4"
    assert get_learner("ppo").fast_settings == ()
    for name in builtin_names():  # each applies to its own config
        entry = get_learner(name)
        apply_overrides({"": entry.default_config()}, list(entry.fast_settings))
    (tmp_path / "quick_agent.py").write_text(textwrap.dedent(THIRD_PARTY) +
                                             '\nFAST_SETTINGS = ("lr=0.5",)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_learner("quick_agent:make").fast_settings == ("lr=0.5",)


def test_entry_point_agents_are_registered(monkeypatch):
    import importlib.metadata

    ep = importlib.metadata.EntryPoint(name="tabular", value="rlgo.agents.reinforce:make",
                                       group="rlgo.agents")
    real = importlib.metadata.entry_points

    def fake(**kwargs):
        return [ep] if kwargs.get("group") == "rlgo.agents" else real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    assert "tabular" in registered()
    assert get_learner("tabular").config_class.__name__ == "ReinforceConfig"


THIRD_PARTY = '''
"""A learner that lives outside rlgo: a softmax over per-point preferences (no
network), trained by policy gradient on the game's outcome."""
from dataclasses import dataclass

import numpy as np
import torch

from rlgo.envs import Rules
from rlgo.protocols import CannotSearchError, Decision, Learned


@dataclass(frozen=True)
class BiasConfig:
    """The one hyper-parameter."""
    lr: float = 0.1
    """Step size."""


class BiasPlayer:
    def __init__(self, bias, name, greedy, seed):
        self.bias, self.name, self.greedy = bias, name, greedy
        self.rng = np.random.default_rng(seed)

    def act(self, positions):
        z = np.where(positions.mask, self.bias.numpy()[None, :], -1e9)
        if self.greedy:
            return Decision(z.argmax(1).astype(np.int64))
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return Decision(np.array([self.rng.choice(len(q), p=q) for q in p], np.int64))


class BiasLearner:
    def __init__(self, rules, config):
        self.config = config
        self.bias = torch.zeros(rules.num_actions)

    def player(self):
        return BiasPlayer(self.bias, "bias", False, int(torch.randint(2**31 - 1, ())))

    def snapshot(self):
        return {"bias": self.bias.clone()}

    def snapshot_player(self, weights, *, name, greedy=True, search=0, seed=0):
        if search:
            raise CannotSearchError("no search without a policy-value network")
        return BiasPlayer(weights["bias"], name, greedy, seed)

    def learn(self, batch):
        np.add.at(self.bias.numpy(), batch.action, self.config.lr * batch.outcome)
        return Learned({"losses/mean_outcome": float(batch.outcome.mean())},
                       train_samples=len(batch))

    def state_dict(self):
        return {"bias": self.bias.clone()}

    def load_state_dict(self, state):
        self.bias = state["bias"].clone()


def make(rules: Rules, config: BiasConfig, net_config, seed: int, device) -> BiasLearner:
    return BiasLearner(rules, config)
'''


def test_a_third_party_learner_trains_through_rlgo_train(tmp_path):
    """A learner in a module outside the repository, named on the command line, trains,
    is rated, checkpoints and resumes, without one line of rlgo changed."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bias_agent.py").write_text(textwrap.dedent(THIRD_PARTY))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg"), "NUMBA_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "rlgo.cli", "train", "--agent", "bias_agent:make",
            "--board-size", "5", "--env-steps", "600", "--out", str(out), "--no-progress",
            "--set", "lr=0.05", "--set", "eval.every=300", "--set",
            "eval.ladder=random", "--set", "eval.games=4", "--set",
            "eval.search=8", "--set", "train.parallel_games=8", "--set",
            "train.games_per_iteration=8"]
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(out / "metrics.csv")
    assert {"losses/mean_outcome", "eval/elo", "eval/vs_random/score"} <= set(df.metric)
    assert "eval/search/elo" not in set(df.metric)  # it cannot search: skipped, no crash
    assert df.env_steps.max() >= 600 and (df.nn_evals == 0).all()
    assert list((out / "snapshots").glob("step_*.pt"))
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr  # resumed from its checkpoint: done already
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), df)
    other = [a if a != "lr=0.05" else "lr=0.5" for a in args]
    changed = subprocess.run(other, capture_output=True, text=True, env=env, timeout=300)
    assert changed.returncode == 2 and "different config" in changed.stderr
    assert Path(__file__).resolve().parents[1] not in (tmp_path / "pkg").parents


@pytest.mark.parametrize("error", ["RuntimeError", "ValueError"])  # ValueError: not "bad
def test_a_third_party_learner_that_raises_is_named_with_its_traceback(tmp_path, error):
    """The probe: a third-party learner raising in ``learn`` was reported in the worker
    log as "a bug in rlgo", with no traceback, and a study could not pass --debug on."""
    (tmp_path / "pkg").mkdir()  # input" either, when it comes from inside the learner
    broken = textwrap.dedent(THIRD_PARTY).replace(
        "    def learn(self, batch):\n",
        f"    def learn(self, batch):\n        raise {error}('the bias overflowed')\n")
    (tmp_path / "pkg" / "bad_agent.py").write_text(broken)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg"), "NUMBA_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "rlgo.cli", "train", "--agent", "bad_agent:make",
            "--board-size", "5", "--env-steps", "100", "--out", str(tmp_path / "run"),
            "--no-progress", "--set", "eval.every=0", "--set", "train.parallel_games=4",
            "--set", "train.games_per_iteration=4"]
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1, res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: the learner's code at bad_agent:") and \
        first.endswith(f"raised {error}: the bias overflowed"), res.stderr
    assert "Traceback (most recent call last)" in res.stderr
    assert f"raise {error}('the bias overflowed')" in res.stderr
    assert "a bug in rlgo" not in res.stderr


def test_a_study_passes_debug_on_to_its_training_workers(tmp_path):
    from rlgo.study.config import load_study
    from rlgo.study.runner import training_tasks

    path = tmp_path / "s.toml"
    path.write_text(f'[study]\nname = "s"\nboard_size = 5\nbudget = "env_steps"\n'
                    f'amount = 100\nout = "{tmp_path / "s"}"\n[agents.r]\n'
                    'learner = "reinforce"\n')
    study = load_study(path)
    (task,) = training_tasks(study, debug=True)
    assert task.argv[1:5] == ["-m", "rlgo.cli", "--debug", "train"]
    (task,) = training_tasks(study)
    assert task.argv[1:4] == ["-m", "rlgo.cli", "train"]


@pytest.mark.parametrize("debug", [True, False])
def test_rlgo_debug_study_run_hands_debug_to_the_runner(monkeypatch, debug):
    from typer.testing import CliRunner

    import rlgo.study.runner as runner
    from rlgo.cli import app

    seen = {}

    def run_study(*args, **kwargs):
        seen.update(kwargs)
        raise runner.StudyFailed("stopped here")

    monkeypatch.setattr(runner, "run_study", run_study)
    res = CliRunner().invoke(app, [*(["--debug"] if debug else []), "study", "run", "s.toml"])
    assert res.exit_code == 1 and seen["debug"] is debug


def test_the_rlgo_command_is_main_with_its_one_line_errors():
    import importlib.metadata

    (script,) = importlib.metadata.entry_points(group="console_scripts", name="rlgo")
    assert script.value.split()[0] == "rlgo.cli:main"


# ----------------------------------------------------------------- devices


def test_devices_resolve_and_cuda_without_cuda_is_a_clear_error(tmp_path):
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        TrainConfig(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            build_trainer("reinforce", 5, 100, 0, tmp_path, ["train.device=cuda"],
                          progress=False)
    trainer = build_trainer("reinforce", 5, 100, 0, tmp_path / "a",
                            ["train.device=auto", "net.blocks=1", "net.channels=8"],
                            progress=False)
    assert trainer.learner.net.device == trainer.device


def test_rlgo_agents_lists_every_learner_with_its_fields():
    from typer.testing import CliRunner

    from rlgo.cli import app

    res = CliRunner().invoke(app, ["agents"])
    assert res.exit_code == 0, res.output
    for name in registered():
        assert f"{name}:" in res.output
    assert "    lr = " in res.output and "    simulations = 32" in res.output


def test_group_norm_networks_are_one_function_in_training_and_in_play():
    torch.manual_seed(0)
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8, value_hidden=8, norm="group"))
    x = torch.randint(0, 2, (6, 17, 5, 5), dtype=torch.uint8)
    net.train()
    train_logits, train_value = net(x)
    alone, _ = net(x[:1])  # no dependence on the rest of the batch
    net.eval()
    eval_logits, eval_value = net(x)
    torch.testing.assert_close(train_logits, eval_logits)
    torch.testing.assert_close(train_value, eval_value)
    torch.testing.assert_close(alone, train_logits[:1])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    with pytest.raises(ValueError, match="norm must be"):
        NetConfig(norm="layer")


def test_the_residual_block_is_conv_norm_relu_twice_with_the_skip_added():
    """The block's in-place ReLUs compute what the out-of-place formula does, gradients
    included (written out here by hand from its layers)."""
    torch.manual_seed(0)
    net = PolicyValueNet(5, TINY).train()
    block = net.trunk[0]
    x = torch.randn(4, TINY.channels, 5, 5, requires_grad=True)
    out = block(x)
    y = torch.relu(block.bn1(block.conv1(x)))
    expected = torch.relu(x + block.bn2(block.conv2(y)))
    torch.testing.assert_close(out, expected)
    (g_out,) = torch.autograd.grad(out.square().sum(), x)
    (g_expected,) = torch.autograd.grad(expected.square().sum(), x)
    torch.testing.assert_close(g_out, g_expected)


@pytest.mark.parametrize("agent", builtin_names())
def test_every_learner_steps_with_fused_adamw_on_the_cpu(agent):
    entry = get_learner(agent)
    learner = entry.make(RULES, entry.default_config(), TINY, 0, "cpu")
    assert isinstance(learner.opt, torch.optim.AdamW) and learner.opt.defaults["fused"]


# ----------------------------------------------------------------- precision


def test_a_bfloat16_network_computes_in_bfloat16_and_keeps_float32_weights_and_outputs():
    torch.manual_seed(0)
    full = PolicyValueNet(5, FLOAT32)
    half = PolicyValueNet(5, dataclasses.replace(TINY, precision="bfloat16"))
    half.load_state_dict(full.state_dict())
    x = torch.randint(0, 2, (16, 17, 5, 5), dtype=torch.uint8)
    full.eval(), half.eval()
    (lf, vf), (lh, vh, own) = full(x), half.forward_ownership(x)
    assert lh.dtype == vh.dtype == own.dtype == torch.float32
    # bfloat16 keeps 8 significant bits: close to float32, and not equal to it
    assert 0 < (lf - lh).abs().max() < 0.05 * lf.abs().max()
    assert 0 < (vf - vh).abs().max() < 0.05
    half.train()
    logits, value = half(x)
    (logits.logsumexp(1) + value).sum().backward()
    assert all(p.dtype == torch.float32 and p.grad is not None and torch.isfinite(p.grad).all()
               for p in (half.stem[0].weight, half.policy_fc.weight))
    # a float32 network adds no context of its own: an autocast opened around it applies
    with torch.autocast("cpu", dtype=torch.bfloat16):
        caller_lf, _ = full(x)
    assert not torch.equal(caller_lf, lf)
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        NetConfig(precision="float16")


@pytest.mark.parametrize("agent", builtin_names())
def test_every_learner_trains_in_bfloat16(tmp_path, agent):
    trainer = build_trainer(agent, 5, 100, 0, tmp_path, [
        "net.blocks=1", "net.channels=8", "net.precision=bfloat16",
        "train.games_per_iteration=8", "train.parallel_games=8",
        *get_learner(agent).fast_settings],
        progress=False)
    before = {k: v.clone() for k, v in trainer.learner.snapshot().items()}
    metrics = trainer.iterate()
    after = trainer.learner.snapshot()
    assert all(np.isfinite(v) for v in metrics.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it learned
    assert all(v.dtype == before[k].dtype for k, v in after.items())


@pytest.mark.parametrize("agent", ["ppo", "reinforce", "mcts"])
def test_a_swapped_network_is_the_one_snapshots_and_checkpoints_hold(agent):
    """A subclass that sets ``self.net`` (docs/learners.md, your own network) swaps the
    network of the learner's kit: snapshots, checkpoints and the credit analysis use it."""
    entry = get_learner(agent)
    learner = entry.make(RULES, entry.default_config(), TINY, 0, "cpu")
    other = PolicyValueNet(5, dataclasses.replace(TINY, value_hidden=4))
    learner.net = other
    learner.opt = torch.optim.AdamW(other.parameters())
    assert learner.kit.net is other and learner.kit.opt is learner.opt
    assert learner.snapshot()["value_fc.0.weight"].shape == \
        other.state_dict()["value_fc.0.weight"].shape
    assert learner.state_dict()["net"].keys() == other.state_dict().keys()
