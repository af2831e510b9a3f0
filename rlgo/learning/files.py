"""Run files: resume checkpoints and weights-only snapshots, written atomically and read
with ``torch.load(weights_only=True)`` so that a file can never run code.

Only tensors, numbers, strings, lists and dicts are stored; configs are plain dicts of
their dataclass fields.

Two kinds of file, one header (``rlgo_version``, ``kind``, ``agent``, ``rules``,
``agent_config``, ``net_config``, ``counters``; ``agent`` is the learner's name and
``agent_config`` its config, names the format keeps from before configs called them
``train.learner`` and ``[learner]``):

* a **snapshot** (``kind = "snapshot"``) adds ``weights``, the learner's
  :meth:`~rlgo.protocols.Learner.snapshot`: small, what the ladder, the opponent pool and
  ``rlgo arena`` load;
* a **checkpoint** (``kind = "checkpoint"``) adds ``weights`` too (so a checkpoint also
  plays) plus ``learner`` (its full state: optimiser, replay buffer), ``harness`` (the
  training loop's progress) and ``metrics_rows``: everything to resume.

Files written by rlgo 0.1 (one kind, the network under ``net``) still load and play, as
``kind = "legacy"``; they cannot resume a run.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from rlgo import __version__
from rlgo.envs import Rules
from rlgo.errors import RlgoError

HEADER = ("rlgo_version", "agent", "rules", "agent_config", "net_config")
KINDS = ("snapshot", "checkpoint")
"""What rlgo writes; :func:`load_file` also returns ``"legacy"`` for rlgo 0.1 files."""


class CheckpointError(RlgoError, ValueError):
    """A checkpoint or snapshot is missing, truncated, corrupt or not rlgo's."""


def rules_to_dict(rules: Rules) -> dict[str, Any]:
    return dataclasses.asdict(rules)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as a storable dict (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(config).items()}


def save_file(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write atomically (temporary file, fsync, rename): a run killed mid-write leaves the
    previous file intact and never a truncated one under the final name. A write that
    fails (a full disk) removes its temporary file and raises OSError naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"rlgo_version": __version__, **payload}
    missing = [k for k in (*HEADER, "kind", "weights") if k not in payload]
    if missing or payload["kind"] not in KINDS:
        raise ValueError(f"run file payload lacks {missing} or has an unknown kind")
    write_atomically(path, lambda f: torch.save(payload, f), binary=True)
    return path


def write_atomically(path: Path, write: Callable[[IO], object], binary: bool = False) -> None:
    """``write(file)`` into a temporary file, fsync, rename: a kill leaves the old file or
    the new, never half; a failed write (a full disk) removes its temporary file and
    raises OSError naming ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") if binary else open(tmp, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:  # e.g. Ctrl-C mid-write: no half file is left behind either
        tmp.unlink(missing_ok=True)
        raise


def write_error(path: Path, exc: OSError) -> OSError:
    """``exc`` (from writing ``path``) as an OSError of the same errno whose message names
    the file: ``[Errno 28] cannot write runs/x/step.pt: No space left on device``."""
    return OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}")


def load_file(path: str | Path) -> dict[str, Any]:
    """Load and validate a snapshot or checkpoint; raises :class:`CheckpointError` with the
    reason. An rlgo 0.1 checkpoint comes back in today's layout."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError,
            OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable rlgo checkpoint "
                              f"(corrupt or truncated?): {exc}") from exc
    if isinstance(payload, dict) and "weights" not in payload and "net" in payload:
        payload = {**payload, "weights": payload["net"], "kind": "legacy",
                   "agent_config": payload.get("agent_config", {})}
    if not isinstance(payload, dict) or any(k not in payload for k in (*HEADER, "weights")):
        raise CheckpointError(f"{path} is not an rlgo checkpoint (missing keys)")
    return payload
