"""Learners and fixed opponents, one readable file each.

Learners (built by the harness through each module's ``make``): :mod:`.reinforce`,
:mod:`.mcts` (AlphaZero-style search distillation).
Fixed players: :class:`RandomPlayer`, :class:`RolloutMCTSPlayer` (compiled UCT with random
rollouts), :class:`GnuGoPlayer` (GNU Go over GTP), :class:`NetworkPlayer` (a network or a
checkpoint). Names are imported lazily: importing ``rlgo.agents`` loads neither torch nor
the compiled kernels.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "RandomPlayer": "random_player",
    "RolloutMCTSPlayer": "rollout_mcts",
    "GnuGoPlayer": "gnugo_player",
    "NetworkPlayer": "network_player",
    "Reinforce": "reinforce",
    "ReinforceConfig": "reinforce",
    "MCTSConfig": "mcts",
    "MCTSLearner": "mcts",
    "MCTSPlayer": "mcts",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rlgo.agents' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlgo.agents.{_WHERE[name]}"), name)
