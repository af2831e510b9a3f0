"""The bfloat16 acting copy: BatchNorm folded exactly, bfloat16 close to float32, rebuilt
after every change of the weights, and float32 where bfloat16 has no hardware."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from rlgo.learning import network
from rlgo.learning.network import NetConfig, PolicyValueNet, acting_copy, fold_norm

TINY = NetConfig(blocks=2, channels=8, value_hidden=8, precision="float32")
HALF = dataclasses.replace(TINY, precision="bfloat16")


def _trained_statistics(net: PolicyValueNet) -> PolicyValueNet:
    """Non-trivial BatchNorm statistics and affine weights, then eval mode."""
    net.train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
        for _ in range(3):
            net(torch.randint(0, 2, (64, 17, 5, 5), dtype=torch.uint8))
    return net.eval()


def _positions(batch: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 2, (batch, 17, 5, 5)).astype(np.uint8)
    mask = rng.random((batch, 26)) < 0.7
    mask[:, -1] = True
    return obs, mask


def test_fold_norm_is_the_convolution_then_the_norm():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
    norm = torch.nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(fold_norm(conv, norm)(x), norm(conv(x)), atol=1e-5, rtol=1e-5)


def test_a_float32_copy_is_the_eval_mode_network():
    torch.manual_seed(0)
    net = _trained_statistics(PolicyValueNet(5, TINY))
    copy = acting_copy(net, torch.float32)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in copy.modules())
    x = torch.from_numpy(_positions()[0])
    with torch.no_grad():
        for a, b in zip(copy(x), net(x), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_the_bfloat16_copy_matches_float32_within_bfloat16_tolerance():
    torch.manual_seed(0)
    full = _trained_statistics(PolicyValueNet(5, TINY))
    half = PolicyValueNet(5, HALF)
    half.load_state_dict(full.state_dict())
    obs, mask = _positions()
    logp_full, value_full = full.evaluate(obs, mask)
    logp_half, value_half = half.evaluate(obs, mask)
    assert half._acting().stem[0].weight.dtype == torch.bfloat16  # it did run the copy
    legal = mask
    # bfloat16 keeps 8 significant bits: close, and not equal
    err = np.abs(logp_full - logp_half)[legal]
    assert 0 < err.max() < 0.05
    assert 0 < np.abs(value_full - value_half).max() < 0.02
    assert half.evals == len(obs)  # counted once, on the learner's network
    assert "_acting_copy" not in str(list(half.state_dict()))


def test_the_copy_is_rebuilt_after_every_update():
    torch.manual_seed(0)
    net = PolicyValueNet(5, HALF)
    obs, mask = _positions()
    before, _ = net.evaluate(obs, mask)
    copy = net._acting()
    assert net._acting() is copy  # nothing changed: the same copy
    # an optimiser step
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net.train()
    logits, value = net(torch.from_numpy(obs))
    (logits.sum() + value.sum()).backward()
    opt.step()
    after_step, _ = net.evaluate(obs, mask)
    assert net._acting() is not copy and not np.allclose(after_step, before, atol=1e-3)
    # new BatchNorm statistics alone (no weight changed)
    copy = net._acting()
    net.refresh_norm(torch.from_numpy(obs) * 2)
    assert net._acting() is not copy
    # loading other weights
    other = PolicyValueNet(5, HALF)
    copy = net._acting()
    net.load_state_dict(other.state_dict())
    assert net._acting() is not copy
    np.testing.assert_allclose(net.evaluate(obs, mask)[0], other.evaluate(obs, mask)[0])


def test_without_bfloat16_hardware_the_network_runs_in_float32(monkeypatch):
    monkeypatch.setattr(network, "bfloat16_supported", lambda device: False)
    network._warn_no_bfloat16.cache_clear()
    torch.manual_seed(0)
    full = PolicyValueNet(5, TINY)
    half = PolicyValueNet(5, HALF)
    half.load_state_dict(full.state_dict())
    obs, mask = _positions()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logp, value = half.evaluate(obs, mask)
        half.train()
        logits, _ = half(torch.from_numpy(obs))
    assert any("no bfloat16 matrix instructions" in str(w.message) for w in caught)
    assert half.acts_as_it_learns and half._acting() is half
    np.testing.assert_array_equal(logp, full.evaluate(obs, mask)[0])  # float32 exactly
    full.train()
    torch.testing.assert_close(logits, full(torch.from_numpy(obs))[0])
    network._warn_no_bfloat16.cache_clear()


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_group_norm_networks_get_a_copy_too(norm):
    torch.manual_seed(0)
    net = PolicyValueNet(5, dataclasses.replace(HALF, norm=norm))
    obs, mask = _positions()
    logp, _ = net.evaluate(obs, mask)
    assert np.isfinite(logp[mask]).all()
    norms = (torch.nn.BatchNorm2d, torch.nn.GroupNorm)
    kept = [m for m in net._acting().modules() if isinstance(m, norms)]
    assert bool(kept) == (norm == "group")  # GroupNorm stays; BatchNorm is folded


def test_a_subclass_acts_as_itself():
    class Wider(PolicyValueNet):
        def __init__(self, board_size: int, config: NetConfig) -> None:
            super().__init__(board_size, config)
            self.policy_fc = torch.nn.Sequential(torch.nn.Linear(50, 26))

    net = Wider(5, HALF)
    assert net.acts_as_it_learns and net._acting() is net
    logp, _ = net.evaluate(*_positions())
    assert np.isfinite(logp).any()


@pytest.mark.parametrize("hardware", [True, False])
def test_auto_is_bfloat16_where_the_hardware_has_it_and_float32_elsewhere(monkeypatch,
                                                                            hardware):
    assert NetConfig().precision == "auto"
    monkeypatch.setattr(network, "bfloat16_supported", lambda device: hardware)
    network._warn_no_bfloat16.cache_clear()
    torch.manual_seed(0)
    full = PolicyValueNet(5, TINY)
    auto = PolicyValueNet(5, dataclasses.replace(TINY, precision="auto"))
    auto.load_state_dict(full.state_dict())
    obs, mask = _positions()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" never warns
        logp, _ = auto.evaluate(obs, mask)
    if hardware:
        assert not auto.acts_as_it_learns
        assert next(auto._acting().parameters()).dtype == torch.bfloat16
        np.testing.assert_allclose(np.exp(logp), np.exp(full.evaluate(obs, mask)[0]),
                                   atol=0.05)
    else:
        assert auto.acts_as_it_learns and auto._acting() is auto
        np.testing.assert_array_equal(logp, full.evaluate(obs, mask)[0])
