"""A policy-value network with tree search as a player: every checkpoint or snapshot
``:search=<n>``, and the MCTS-distillation learner's self-play.

All positions of a call are searched in one batch by :func:`rlgo.learning.search.run_search`
(see its module docstring for PUCT, Gumbel and the sign convention).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlgo.envs import GoEngine
from rlgo.learning.network import PolicyValueNet, check_board_size
from rlgo.learning.search import SearchConfig, Workspace, run_search
from rlgo.protocols import Decision, Positions

__all__ = ["SearchPlayer"]


def _entropy(logp: np.ndarray) -> np.ndarray:
    """[B] entropy in nats of rows of log-probabilities (illegal rows ~ -1e9 count 0)."""
    p = np.exp(logp.astype(np.float64))
    return -(p * np.maximum(logp, -30.0)).sum(1)


class SearchPlayer:
    """The network plus tree search, ``simulations`` per move, all positions searched in
    one batch.

    ``greedy`` (evaluation): no noise, the full budget, the search's move (PUCT: most
    visited). Otherwise (self-play): root noise, temperature for the first
    ``temperature_moves`` moves (PUCT) and playout cap randomization.

    ``extras`` of each decision, [B] float32 unless stated: ``policy`` [B, A] (the search
    target), ``policy_weight`` (1 full search, 0 cheap), ``value`` (network value of the
    root), ``search_value``, ``disagree`` (1 when the target's argmax differs from the
    raw policy's), ``prior_entropy``; with ``record_history`` also ``record`` [B,
    max_moves] int16, the game's actions so far (the first ``moves`` entries count).
    """

    kind = "mcts"
    """Player kind stored in the match database."""

    def __init__(self, net: PolicyValueNet, simulations: int,
                 search: SearchConfig | None = None, *, name: str | None = None,
                 greedy: bool = True, temperature: float = 1.0, temperature_moves: int = 0,
                 full_search_prob: float = 1.0, cheap_simulations: int = 8,
                 record_history: bool = False, seed: int = 0,
                 spec: dict[str, Any] | None = None) -> None:
        if simulations < 1:
            raise ValueError(f"simulations must be >= 1, got {simulations}")
        self.net = net
        self.simulations = int(simulations)
        self.search = search if search is not None else SearchConfig()
        self.name = name if name is not None else f"mcts:search={self.simulations}"
        self.greedy = greedy
        self.temperature = temperature
        self.temperature_moves = temperature_moves
        self.full_search_prob = full_search_prob
        self.cheap_simulations = int(cheap_simulations)
        self.record_history = record_history
        self.spec = spec
        self._rng = np.random.default_rng(seed)
        self._workspace = Workspace()

    def act(self, positions: Positions) -> Decision:
        check_board_size(self.name, self.net, positions.obs)
        eng, games = positions.engine, np.asarray(positions.games, np.int64)
        bsz = len(games)
        if self.greedy:
            full = np.ones(bsz, bool)
            noise = np.zeros(bsz, bool)
        else:
            full = self._rng.random(bsz) < self.full_search_prob
            noise = full  # KataGo: cheap searches get no noise
        budget = np.where(full, self.simulations, self.cheap_simulations)
        if bsz == 0:
            return Decision(np.zeros(0, np.int64), self._extras(None, full, eng, games))
        out = run_search(eng, games, self.net.evaluate, self.search, budget, noise, self._rng,
                         workspace=self._workspace)
        actions = out.action.copy()
        if not self.greedy and not self.search.gumbel and self.temperature_moves > 0:
            early = np.flatnonzero(eng.moves[games] < self.temperature_moves)
            actions[early] = self._sample_visits(out.visit_counts[early])
        return Decision(actions, self._extras(out, full, eng, games), nn_evals=out.nn_evals)

    def _sample_visits(self, visits: np.ndarray) -> np.ndarray:
        """One action per row drawn from N^(1/T)."""
        weights = visits.astype(np.float64) ** (1.0 / self.temperature)
        cdf = np.cumsum(weights, axis=1)
        u = self._rng.random(len(weights)) * cdf[:, -1]
        return np.minimum((cdf <= u[:, None]).sum(1), weights.shape[1] - 1).astype(np.int64)

    def _extras(self, out, full: np.ndarray, eng: GoEngine,
                games: np.ndarray) -> dict[str, np.ndarray]:
        actions = eng.rules.num_actions
        if out is None:
            zeros = np.zeros(0, np.float32)
            extras = {"policy": np.zeros((0, actions), np.float32), "policy_weight": zeros,
                      "value": zeros, "search_value": zeros, "disagree": zeros,
                      "prior_entropy": zeros}
        else:
            best = out.action_weights.argmax(1)
            extras = {
                "policy": out.action_weights,
                "policy_weight": full.astype(np.float32),
                "value": out.raw_value.astype(np.float32),
                "search_value": out.value.astype(np.float32),
                "disagree": (best != out.prior_logp.argmax(1)).astype(np.float32),
                "prior_entropy": _entropy(out.prior_logp).astype(np.float32),
            }
        if self.record_history:
            extras["record"] = eng.state.record[games].copy()
        return extras

    def __repr__(self) -> str:
        mode = "greedy" if self.greedy else "self-play"
        root = "gumbel" if self.search.gumbel else "puct"
        return f"SearchPlayer(name={self.name!r}, {root}, {self.simulations} sims, {mode})"
