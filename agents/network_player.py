"""A policy network as a player: one batched :meth:`PolicyValueNet.evaluate` per ``act``.

Greedy play (the default, for evaluation) takes the most probable legal action; sampling
draws from the masked policy at a temperature. Either way every position of the batch
costs one network evaluation, reported as :attr:`Decision.nn_evals`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from rlgo.envs import Rules

from rlgo.checkpoint import load_checkpoint, network_from_checkpoint
from rlgo.network import PolicyValueNet, sample_actions
from rlgo.protocols import Decision, Positions

__all__ = ["NetworkPlayer", "check_board_size", "checkpoint_player_name"]


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


def check_board_size(name: str, net: PolicyValueNet, positions: Positions) -> None:
    """ValueError unless the positions are on the board size the network was built for."""
    n = positions.obs.shape[-1]
    if n != net.board_size:
        raise ValueError(f"{name} plays {net.board_size}x{net.board_size}, not {n}x{n}")


class NetworkPlayer:
    """Plays the moves of a :class:`PolicyValueNet`.

    ``extras`` of each decision: ``logp`` [B] float32, the log-probability of the chosen
    action under the (temperature-free) policy, and ``value`` [B] float32, the network's
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
        self.rules: Rules | None = None
        """The rules the network was trained under, when known (set by from_checkpoint)."""
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_checkpoint(cls, path: str | Path, greedy: bool = True, temperature: float = 1.0,
                        seed: int = 0, name: str | None = None) -> NetworkPlayer:
        """The network of a checkpoint file; raises :class:`CheckpointError` when the file
        is missing, corrupt or not an rlgo checkpoint. ``name`` defaults to
        :func:`checkpoint_player_name`."""
        net, rules = network_from_checkpoint(load_checkpoint(path))
        if name is None:
            name = checkpoint_player_name(path, greedy, temperature)
        spec = {"path": os.path.normpath(str(path)), "greedy": greedy}
        if not greedy:
            spec["temperature"] = temperature
        player = cls(net, name, greedy=greedy, temperature=temperature, seed=seed, spec=spec)
        player.rules = rules
        return player

    def act(self, positions: Positions) -> Decision:
        check_board_size(self.name, self.net, positions)
        if len(positions) == 0:
            empty = np.zeros(0, np.float32)
            return Decision(np.zeros(0, np.int64), {"logp": empty, "value": empty})
        logp, value = self.net.evaluate(positions.obs, positions.mask)
        if self.greedy:
            actions = logp.argmax(axis=1).astype(np.int64)
        else:
            actions = sample_actions(logp, self._rng, self.temperature)
        chosen = logp[np.arange(len(actions)), actions].astype(np.float32)
        return Decision(actions, {"logp": chosen, "value": value.astype(np.float32)},
                        nn_evals=len(positions))

    def __repr__(self) -> str:
        mode = "greedy" if self.greedy else f"sample, temperature={self.temperature:g}"
        return f"NetworkPlayer(name={self.name!r}, {mode})"
