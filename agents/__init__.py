"""Learners and fixed opponents, one readable file each.

Learners: every module here that defines ``make(rules, config, net_config, seed,
device)`` (see :mod:`rlgo.protocols`) is an agent, registered under its module name by
:mod:`rlgo.registry`: :mod:`.reinforce` (Monte-Carlo policy gradient), :mod:`.mcts`
(AlphaZero-style search distillation), :mod:`.ppo` (PPO), :mod:`.dqn` (double Q-learning
from prioritised replay). Adding a learner is adding one such file.

Fixed players: :class:`RandomPlayer`, :class:`RolloutMCTSPlayer` (compiled UCT with random
rollouts), :class:`GTPPlayer` (any GTP engine), :class:`GnuGoPlayer` and
:class:`PachiPlayer` (GTP players configured for GNU Go and Pachi), :class:`NetworkPlayer`
(a policy network), :class:`SearchPlayer` (a policy-value network with tree search) and
:class:`MixedPlayer` (any player diluted by random moves: a strength knob).
Names are imported lazily: importing ``rlgo.agents`` loads neither torch nor the compiled
kernels.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "RandomPlayer": ("random_player", "RandomPlayer"),
    "RolloutMCTSPlayer": ("rollout_mcts", "RolloutMCTSPlayer"),
    "GnuGoPlayer": ("gnugo_player", "GnuGoPlayer"),
    "GTPPlayer": ("gtp_player", "GTPPlayer"),
    "PachiPlayer": ("pachi_player", "PachiPlayer"),
    "MixedPlayer": ("mixed_player", "MixedPlayer"),
    "NetworkPlayer": ("network_player", "NetworkPlayer"),
    "SearchPlayer": ("search_player", "SearchPlayer"),
    "MCTSPlayer": ("search_player", "SearchPlayer"),  # rlgo 0.1's name of SearchPlayer
    "Reinforce": ("reinforce", "Reinforce"),
    "ReinforceConfig": ("reinforce", "ReinforceConfig"),
    "MCTSConfig": ("mcts", "MCTSConfig"),
    "MCTSLearner": ("mcts", "MCTSLearner"),
    "PPO": ("ppo", "PPO"),
    "PPOConfig": ("ppo", "PPOConfig"),
    "DQN": ("dqn", "DQN"),
    "DQNConfig": ("dqn", "DQNConfig"),
    "QPlayer": ("dqn", "QPlayer"),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rlgo.agents' has no attribute {name!r}")
    module, attr = _WHERE[name]
    return getattr(importlib.import_module(f"rlgo.agents.{module}"), attr)
