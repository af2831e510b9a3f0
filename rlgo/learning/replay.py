"""A bounded replay buffer shared by the learners that train on past experience (MCTS
distillation's window of recent positions, the off-policy value learner).

Rows are dicts of equally long numpy arrays (one field per key); the buffer keeps the
newest ``capacity`` rows in preallocated arrays (a ring), so its memory is fixed once the
first rows arrive and stays flat however long a run lasts. Sampling draws indices with
torch's global generator (the harness seeds it per iteration, so a resumed run samples
the same rows), and a checkpoint stores the rows in place (tensors only, loadable with
``weights_only=True``) so that indices drawn after a resume hit the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class ReplayBuffer:
    """Ring buffer of the newest ``capacity`` rows; arrays allocated on the first
    :meth:`add`, with shapes and dtypes taken from the data."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.size = 0
        """Rows held (at most ``capacity``)."""
        self.head = 0
        """Next row to write."""
        self.added = 0
        """Rows ever added (``added - size`` were overwritten)."""
        self.data: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes held by the preallocated arrays (constant after the first add)."""
        return sum(v.nbytes for v in self.data.values())

    def add(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        """Append rows, overwriting the oldest; returns the [count] slots written (the
        last ``capacity`` rows when more are given)."""
        count = len(next(iter(rows.values()))) if rows else 0
        if count == 0:
            return np.zeros(0, np.int64)
        if not self.data:
            self.data = {k: np.zeros((self.capacity, *v.shape[1:]), v.dtype)
                         for k, v in rows.items()}
        if set(rows) != set(self.data):
            raise ValueError(f"replay rows have fields {sorted(rows)}, "
                             f"the buffer holds {sorted(self.data)}")
        self.added += count
        if count > self.capacity:
            rows = {k: v[-self.capacity:] for k, v in rows.items()}
            count = self.capacity
        where = (self.head + np.arange(count)) % self.capacity
        for k, v in rows.items():
            self.data[k][where] = v
        self.head = int((self.head + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)
        return where

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform slot indices of the given shape (torch's global generator)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return torch.randint(self.size, shape).numpy()

    def rows(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """The fields of slots ``idx`` (copies)."""
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "head": self.head, "added": self.added,
                "fields": {k: torch.from_numpy(np.ascontiguousarray(v[: self.size]))
                           for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.head = int(state["size"]), int(state["head"])
        self.added = int(state.get("added", self.size))
        stored = state["fields"]
        self.data = {}
        if self.size > self.capacity:
            raise ValueError(f"stored replay holds {self.size} rows, more than the "
                             f"capacity {self.capacity}")
        for k, t in stored.items():
            arr = t.numpy()
            self.data[k] = np.zeros((self.capacity, *arr.shape[1:]), arr.dtype)
            self.data[k][: self.size] = arr
