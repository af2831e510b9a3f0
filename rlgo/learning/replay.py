"""A bounded replay buffer shared by the learners that train on past experience (MCTS
distillation's window of recent positions, the off-policy value learner).

Rows are dicts of equally long numpy arrays (one field per key); the buffer keeps the
newest ``capacity`` rows in preallocated arrays (a ring), so its memory is fixed once the
first rows arrive and stays flat however long a run lasts. Sampling draws indices with
torch's global generator (the harness seeds it per iteration, so a resumed run samples
the same rows), and a checkpoint stores the rows in place (tensors only, loadable with
``weights_only=True``) so that indices drawn after a resume hit the same rows.

Prioritised replay (Schaul et al. 2016, proportional variant), when built with
``alpha``: slot i is drawn with probability ``P(i) = p_i^alpha / sum_j p_j^alpha``, new
rows get the largest priority seen so far (so each is drawn soon), the learner sets
``p_i = |TD error| + eps`` after training on it, and importance weights
``w_i = (size * P(i))^-beta / max_minibatch w`` correct the bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class ReplayBuffer:
    """Ring buffer of the newest ``capacity`` rows; arrays allocated on the first
    :meth:`add`, with shapes and dtypes taken from the data."""

    def __init__(self, capacity: int, alpha: float | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        if alpha is not None and not alpha >= 0:
            raise ValueError(f"priority exponent alpha must be >= 0, got {alpha}")
        self.capacity = int(capacity)
        self.alpha = alpha
        """Priority exponent; None: uniform sampling only."""
        self.priorities = np.zeros(self.capacity if alpha is not None else 0)
        """[capacity] float64 priority p_i of each slot (prioritised buffers)."""
        self.max_priority = 1.0
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
        if self.alpha is not None:
            self.priorities[where] = self.max_priority
        self.head = int((self.head + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)
        return where

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        """Uniform slot indices of the given shape (torch's global generator)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return torch.randint(self.size, shape).numpy()

    def sample_prioritized(self, count: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
        """``count`` slots drawn with probability P(i) (module docstring) and their
        importance weights [count] float32, normalised by their maximum."""
        if self.alpha is None:
            raise ValueError("this replay buffer was built without priorities (alpha)")
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        scaled = self.priorities[: self.size] ** self.alpha
        probs = scaled / scaled.sum()
        idx = torch.multinomial(torch.from_numpy(probs), count, replacement=True).numpy()
        weights = (self.size * probs[idx]) ** (-beta)
        return idx, (weights / weights.max()).astype(np.float32)

    def update_priorities(self, idx: np.ndarray, priorities: np.ndarray) -> None:
        """Set p_i of slots ``idx`` (positive: |TD error| plus a small constant)."""
        priorities = np.asarray(priorities, np.float64)
        if not (np.isfinite(priorities).all() and (priorities > 0).all()):
            raise ValueError("priorities must be positive and finite")
        self.priorities[idx] = priorities
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def rows(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """The fields of slots ``idx`` (copies)."""
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "head": self.head, "added": self.added,
                "max_priority": self.max_priority,
                "priorities": torch.from_numpy(self.priorities[: self.size].copy()),
                "fields": {k: torch.from_numpy(np.ascontiguousarray(v[: self.size]))
                           for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"stored replay holds {size} rows, more than the "
                             f"capacity {self.capacity}")
        self.size, self.head = size, int(state["head"])
        self.added = int(state.get("added", self.size))
        self.max_priority = float(state.get("max_priority", 1.0))
        if self.alpha is not None:  # rows stored without priorities count as new ones
            stored_p = state.get("priorities")
            self.priorities[: self.size] = (stored_p.numpy() if stored_p is not None
                                            and len(stored_p) == self.size
                                            else self.max_priority)
        stored = state["fields"]
        self.data = {}
        for k, t in stored.items():
            arr = t.numpy()
            self.data[k] = np.zeros((self.capacity, *arr.shape[1:]), arr.dtype)
            self.data[k][: self.size] = arr
