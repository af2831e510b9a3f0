"""Checkpoints: one ``torch.save`` file holding everything needed to resume a run or to
play its network, loaded with ``torch.load(weights_only=True)`` so that a checkpoint can
never run code. Only tensors, numbers, strings, lists and dicts are stored; configs are
plain dicts of their dataclass fields and RNG states are JSON strings.

Payload keys: ``rlgo_version``, ``agent``, ``rules`` (board_size, komi, max_moves,
superko), ``net_config``, ``agent_config``, ``net`` (state dict), ``learner`` (the
learner's own state: optimiser, buffers), ``counters``, ``rng`` (JSON), ``metrics_rows``
(how many metric rows the run had written when this checkpoint was taken).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from rlgo import __version__
from rlgo.envs import Rules
from rlgo.network import NetConfig, PolicyValueNet


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt or not an rlgo checkpoint."""


REQUIRED = ("rlgo_version", "agent", "rules", "net_config", "net")


def rules_to_dict(rules: Rules) -> dict[str, Any]:
    return dataclasses.asdict(rules)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically (temporary file, then rename): a run killed mid-write leaves the
    previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"rlgo_version": __version__, **payload}
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a checkpoint; raises :class:`CheckpointError` with the reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError,
            OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable rlgo checkpoint "
                              f"(corrupt or truncated?): {exc}") from exc
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED):
        raise CheckpointError(f"{path} is not an rlgo checkpoint (missing keys)")
    return payload


def network_from_checkpoint(payload: dict[str, Any]) -> tuple[PolicyValueNet, Rules]:
    """The network (eval mode) and the rules a checkpoint was trained under."""
    rules = Rules(**payload["rules"])
    net = PolicyValueNet(rules.board_size, NetConfig(**payload["net_config"]))
    try:
        net.load_state_dict(payload["net"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint weights do not fit the network: {exc}") from exc
    net.eval()
    return net, rules
