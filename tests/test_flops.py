"""FLOP counting for utilisation: torch's counter against a hand count of a small network."""

import torch

from rlgo.bench.flops import count_flops, forward_flops, peak_flops, utilisation
from rlgo.learning.network import NetConfig, PolicyValueNet


def test_forward_flops_match_a_hand_count():
    # 1 block x 8 channels on 3x3 (9 points, 10 actions), value head 4 wide; 2 FLOPs per
    # multiply-add, per position:
    #   stem 3x3 conv 17->8:          9 * 8 * 17 * 9 = 11,016 MACs
    #   block, two 3x3 convs 8->8:    2 * 9 * 8 * 8 * 9 = 10,368
    #   policy 1x1 conv 8->2, fc 18->10:  9 * 2 * 8 + 18 * 10 = 324
    #   value 1x1 conv 8->1, fc 9->4->1:  9 * 8 + 9 * 4 + 4 = 112
    net = PolicyValueNet(3, NetConfig(blocks=1, channels=8, value_hidden=4))
    assert forward_flops(net, 3) == 2 * (11_016 + 10_368 + 324 + 112)


def test_forward_flops_grow_with_the_trunk_and_keep_the_mode():
    small = PolicyValueNet(5, NetConfig(blocks=1, channels=8)).train()
    large = PolicyValueNet(5, NetConfig(blocks=2, channels=8))
    block = 2 * 2 * 25 * 8 * 8 * 9  # one more block: two 3x3 convs 8->8 on 25 points
    assert forward_flops(large, 5) - forward_flops(small, 5) == block
    assert small.training


def test_count_flops_counts_backward_passes_too():
    w = torch.randn(4, 3, requires_grad=True)
    x = torch.randn(2, 4, requires_grad=True)
    forward = count_flops(lambda: x @ w)
    both = count_flops(lambda: (x @ w).sum().backward())
    assert forward == 2 * 2 * 4 * 3
    assert both == 3 * forward  # the gradient of w and of x: one product each


def test_peak_and_utilisation():
    peak = peak_flops(torch.float32, size=64, seconds=0.01)
    assert peak > 0
    assert utilisation(peak / 4, peak) == 0.25
    assert utilisation(1.0, 0.0) == 0.0
