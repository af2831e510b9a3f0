"""A policy network as a player: one batched :meth:`PolicyValueNet.evaluate` per ``act``.

Greedy play (the default, for evaluation) takes the most probable legal action; sampling
draws from the masked policy at a temperature. Either way every position of the batch
costs one network evaluation, reported as :attr:`Decision.nn_evals`.

:func:`policy_snapshot_player` turns a snapshot of any learner whose acting policy is a
:class:`PolicyValueNet` (REINFORCE, PPO, MCTS distillation) into a player, raw or with
tree search: the ``snapshot_player`` of those learners.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlgo.agents.search_player import SearchPlayer
from rlgo.learning.network import (
    NetConfig,
    PolicyValueNet,
    check_board_size,
    sample_actions,
    tempered,
)
from rlgo.learning.search import SearchConfig
from rlgo.protocols import Decision, Player, Positions, Weights

__all__ = ["NetworkPlayer", "checkpoint_player_name", "copy_weights", "load_policy_net",
           "policy_snapshot_player"]


def checkpoint_player_name(path: str | Path, greedy: bool = True, temperature: float = 1.0
                           ) -> str:
    """The name a checkpoint plays under: its path as given, normalised
    (``runs/ppo/./100.pt`` -> ``runs/ppo/100.pt``), with ``:sample`` when it samples
    (and ``:temperature=T`` when T is not 1). The same spelling always gives the same
    name, so its games accumulate under one row of the Elo table."""
    name = os.path.normpath(str(path))
    if not greedy:
        name += ":sample" + (f":temperature={temperature:g}" if temperature != 1.0 else "")
    return name


class NetworkPlayer:
    """Plays the moves of a :class:`PolicyValueNet`.

    ``extras`` of each decision: ``logp`` [B] float32, the log-probability of the chosen
    action under the distribution it was drawn from (the policy at ``temperature``; the
    behaviour policy of an on-policy learner), and ``value`` [B] float32, the network's
    value for the player to move.
    """

    kind = "network"
    """Player kind stored in the match database."""

    def __init__(self, net: PolicyValueNet, name: str, greedy: bool = True,
                 temperature: float = 1.0, seed: int = 0,
                 spec: dict[str, Any] | None = None) -> None:
        """``greedy``: argmax of the policy; otherwise sample at ``temperature`` (> 0).
        ``spec``: JSON-able description stored with the player in the match database."""
        if not greedy and not temperature > 0:
            raise ValueError(f"a sampling player needs temperature > 0, got {temperature}")
        self.net = net
        self.name = name
        self.greedy = greedy
        self.temperature = temperature
        self.spec = spec
        self._rng = np.random.default_rng(seed)

    def act(self, positions: Positions) -> Decision:
        check_board_size(self.name, self.net, positions.obs)
        if len(positions) == 0:
            empty = np.zeros(0, np.float32)
            return Decision(np.zeros(0, np.int64), {"logp": empty, "value": empty})
        logp, value = self.net.evaluate(positions.obs, positions.mask)
        if self.greedy:
            actions = logp.argmax(axis=1).astype(np.int64)
            behaviour = logp
        else:
            behaviour = tempered(logp, self.temperature)
            actions = sample_actions(behaviour, self._rng)
        chosen = behaviour[np.arange(len(actions)), actions].astype(np.float32)
        return Decision(actions, {"logp": chosen, "value": value.astype(np.float32)},
                        nn_evals=len(positions))

    def __repr__(self) -> str:
        mode = "greedy" if self.greedy else f"sample, temperature={self.temperature:g}"
        return f"NetworkPlayer(name={self.name!r}, {mode})"


def load_policy_net(board_size: int, net_config: NetConfig, weights: Weights,
                    device: torch.device | str = "cpu") -> PolicyValueNet:
    """A :class:`PolicyValueNet` holding ``weights``, in eval mode, on ``device``; weights
    that do not fit raise ValueError."""
    net = PolicyValueNet(board_size, net_config)
    try:
        net.load_state_dict(weights)
    except (RuntimeError, KeyError) as exc:
        raise ValueError(f"snapshot weights do not fit the network: {exc}") from exc
    return net.to(device).eval()


def copy_weights(net: torch.nn.Module) -> Weights:
    """A snapshot of a network: a CPU copy of its state, independent of later updates."""
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def policy_snapshot_player(board_size: int, net_config: NetConfig, weights: Weights, *,
                           name: str, greedy: bool = True, search: int = 0, seed: int = 0,
                           device: torch.device | str = "cpu",
                           search_config: SearchConfig | None = None,
                           spec: dict[str, Any] | None = None) -> Player:
    """The player of a policy-value snapshot: its policy's argmax (``greedy``) or samples,
    or with ``search`` > 0 the network with that many simulations per move, playing the
    search's move greedily. Every snapshot searches with the same constants
    (``search_config``, default PUCT), so that search strength compares networks."""
    net = load_policy_net(board_size, net_config, weights, device)
    if search > 0:
        config = search_config if search_config is not None else SearchConfig()
        return SearchPlayer(net, search, config, name=name, seed=seed, spec=spec)
    return NetworkPlayer(net, name, greedy=greedy, seed=seed, spec=spec)
