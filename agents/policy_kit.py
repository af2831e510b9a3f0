"""What the policy-value learners (REINFORCE, PPO, MCTS distillation) share, by
composition rather than a base class: a :class:`PolicyKit` holds the network and its
optimiser and does the parts of :class:`rlgo.protocols.Learner` (and of the credit
analysis's :class:`rlgo.protocols.CreditAssigner`) that touch nothing else, so that each
learner's file keeps only its own algorithm and passes these through in one line each.

:func:`acting_seed` is the one way a learner seeds a player it hands out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlgo.agents.network_player import copy_weights, policy_snapshot_player
from rlgo.envs import Rules
from rlgo.learning.credit import policy_gradient, probabilities, softmax_log_policy
from rlgo.learning.network import NetConfig, PolicyValueNet, adamw
from rlgo.protocols import Player, Weights

__all__ = ["FromKit", "PolicyKit", "acting_seed"]


def acting_seed() -> int:
    """A seed for a player's own generator, drawn from torch's global one, which the
    harness seeds at every iteration: so a resumed run acts as an uninterrupted one."""
    return int(torch.randint(2**31 - 1, ()))


class FromKit:
    """A learner's attribute that is its kit's (``net = FromKit()`` in the class body):
    reading and assigning both go to ``self.kit``, so a subclass that swaps the network
    (``self.net = MyNet(...)``) swaps the one that snapshots, checkpoints and the credit
    analysis use too."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, learner: Any, owner: type | None = None) -> Any:
        return self if learner is None else getattr(learner.kit, self.name)

    def __set__(self, learner: Any, value: Any) -> None:
        setattr(learner.kit, self.name, value)


class PolicyKit:
    """A policy-value network (:class:`~rlgo.learning.network.PolicyValueNet`) on
    ``device`` with its AdamW optimiser, and what a learner does with them alone."""

    def __init__(self, rules: Rules, net_config: NetConfig, *, lr: float,
                 weight_decay: float, device: torch.device | str = "cpu",
                 temperature: float = 1.0) -> None:
        self.board_size = rules.board_size
        self.net_config = net_config
        self.device = torch.device(device)
        self.temperature = temperature
        """The softmax temperature of the policy the credit analysis reads."""
        self.net = PolicyValueNet(rules.board_size, net_config).to(self.device)
        self.opt = adamw(self.net.parameters(), lr=lr, weight_decay=weight_decay)

    def snapshot(self) -> Weights:
        """:meth:`rlgo.protocols.Learner.snapshot`: the network's weights, on the CPU."""
        return copy_weights(self.net)

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        """:meth:`rlgo.protocols.Learner.snapshot_player`: the snapshot's policy, or its
        network searching ``search`` simulations a move."""
        return policy_snapshot_player(self.board_size, self.net_config, weights, name=name,
                                      greedy=greedy, search=search, seed=seed,
                                      device=self.device)

    def load_snapshot(self, weights: Weights) -> None:
        """Act as the snapshot did (the optimiser untouched)."""
        self.net.load_state_dict(weights)

    def probabilities(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """[T, A] float32 policy at ``temperature`` (eval mode), zero on illegal actions."""
        return probabilities(self.net, softmax_log_policy(self.net, self.temperature), obs,
                             mask)

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """:meth:`rlgo.protocols.CreditAssigner.policy_gradient` of the policy at
        ``temperature``."""
        return policy_gradient(self.net, softmax_log_policy(self.net, self.temperature), obs,
                               mask, weights)

    def state_dict(self) -> dict[str, Any]:
        """The network's and the optimiser's state (checkpoint keys ``net``,
        ``optimizer``)."""
        return {"net": self.net.state_dict(), "optimizer": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["optimizer"])
