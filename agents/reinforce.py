"""REINFORCE: Monte-Carlo policy gradient from self-play outcomes.

Every move of a finished game is pushed towards (or away from) the action played by the
game's result from the mover's point of view, ``G = +1 / -1 / 0``:

    loss = -E[(G - b(s)) * log pi(a|s)] + c_v * E[(v(s) - G)^2] - c_H * E[H(pi(.|s))]

with an optional learned value baseline ``b(s) = v(s)`` (detached in the policy term),
masked logits (illegal actions get no probability) and an entropy bonus. One win/loss
bit per game has to be shared by ~50-100 moves: this is the credit-assignment baseline
that the MCTS-distillation agent is compared against (Williams 1992).

BatchNorm: by default the gradient is taken in train mode (batch statistics), as rlgo 0.1
did, although the moves were chosen in eval mode (running statistics), so the gradient is
that of a slightly different function. ``consistent_norm=true`` takes it in eval mode,
the function that acted, and refreshes the statistics after the update (see
:mod:`rlgo.learning.network`). Measured on 7x7 (seed 0, 20-game evaluations against
random and rollout:32): the consistent gradient learned far slower (Elo 100 at 400k env
steps against 491 in train mode), so it is not the default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rlgo.agents.network_player import NetworkPlayer
from rlgo.agents.policy_kit import FromKit, PolicyKit, acting_seed
from rlgo.envs import Rules
from rlgo.learning.augment import augment
from rlgo.learning.checks import check_config
from rlgo.learning.network import NetConfig, masked_log_softmax
from rlgo.protocols import Credit, Experience, Learned, Player, Weights


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyper-parameters of REINFORCE (defaults used for every board size; untuned)."""

    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 1e-4
    """L2 penalty (AdamW's decoupled weight decay)."""
    baseline: str = "value"
    """"value": a learned value baseline v(s); "mean": the batch mean of G; "none"."""
    value_coef: float = 0.5
    """Weight of the value loss (only with the value baseline)."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    temperature: float = 1.0
    """Softmax temperature of the self-play policy (1 = on-policy)."""
    epochs: int = 1
    """Passes over each batch of games (1 keeps the gradient unbiased)."""
    minibatch: int = 1024
    """Positions per gradient step."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    augment: bool = False
    """Train on a random D4 symmetry of every position (the action moves with it)."""
    consistent_norm: bool = False
    """Take the gradient of the function that acted (BatchNorm in eval mode, statistics
    refreshed after the update); False: BatchNorm in train mode while learning (module
    docstring: measured slower when True)."""

    def __post_init__(self) -> None:
        check_config(self, positive=("lr", "temperature", "max_grad_norm", "epochs", "minibatch"),
                     non_negative=("weight_decay", "value_coef", "entropy_coef"),
                     choices={"baseline": ("value", "mean", "none")})


class Reinforce:
    """The REINFORCE learner (see the module docstring)."""

    net, opt, device, net_config = FromKit(), FromKit(), FromKit(), FromKit()
    """The kit's network, optimiser, device and network config."""

    def __init__(self, rules: Rules, config: ReinforceConfig, net_config: NetConfig,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.config, self.rules = config, rules
        self.kit = PolicyKit(rules, net_config, lr=config.lr, weight_decay=config.weight_decay,
                             device=device, temperature=config.temperature)

    def player(self) -> Player:
        return NetworkPlayer(self.net, name="reinforce", greedy=False,
                             temperature=self.config.temperature, seed=acting_seed())

    def snapshot(self) -> Weights:
        return self.kit.snapshot()

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        return self.kit.snapshot_player(weights, name=name, greedy=greedy, search=search,
                                        seed=seed)

    def learn(self, batch: Experience) -> Learned:
        cfg = self.config
        n = len(batch)
        if n == 0:
            return Learned({}, 0)
        obs, mask, action = batch.obs, batch.mask, batch.action
        if cfg.augment:
            rng = np.random.default_rng(acting_seed())
            obs, mask, action, _, _ = augment(obs, mask, action, None, rng)
        dev = self.device
        obs, mask = torch.from_numpy(obs).to(dev), torch.from_numpy(mask).to(dev)
        action = torch.from_numpy(action).to(dev)
        ret = torch.from_numpy(batch.outcome).to(dev)
        self.net.train(not cfg.consistent_norm)  # module docstring
        sums = {"policy": 0.0, "value": 0.0, "entropy": 0.0, "grad_norm": 0.0}
        steps = 0
        for _ in range(cfg.epochs):
            order = torch.randperm(n).to(dev)
            for start in range(0, n, cfg.minibatch):
                idx = order[start : start + cfg.minibatch]
                logits, value = self.net(obs[idx])
                logp_all = masked_log_softmax(logits, mask[idx])
                logp = logp_all.gather(1, action[idx, None]).squeeze(1)
                entropy = -(logp_all.exp() * logp_all.clamp_min(-30)).sum(1).mean()
                g = ret[idx]
                policy_loss = -(self._advantage(g, value) * logp).mean()
                value_loss = F.mse_loss(value, g)
                loss = policy_loss - cfg.entropy_coef * entropy
                if cfg.baseline == "value":
                    loss = loss + cfg.value_coef * value_loss
                self.opt.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.opt.step()
                for k, v in (("policy", policy_loss), ("value", value_loss),
                             ("entropy", entropy), ("grad_norm", norm)):
                    sums[k] += v.item()
                steps += 1
        if cfg.consistent_norm:
            self.net.refresh_norm(obs, cfg.minibatch)
        return Learned({f"losses/{k}": v / steps for k, v in sums.items()},
                       train_samples=n * cfg.epochs)

    def _advantage(self, g: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        if self.config.baseline == "value":
            return g - value.detach()
        if self.config.baseline == "mean":
            return g - g.mean()
        return g

    # ------------------------------------------------------------------ credit
    def load_snapshot(self, weights: Weights, env_steps: int) -> None:
        self.kit.load_snapshot(weights)

    def credit(self, batch: Experience) -> Credit:
        """The played move's ``G - b(s)`` (the baseline as configured; the value baseline
        from the network in eval mode, the function that acted); no vector."""
        policy = self.kit.probabilities(batch.obs, batch.mask)
        _, value = self.net.evaluate(batch.obs, batch.mask)
        played = self._advantage(torch.from_numpy(batch.outcome.astype(np.float32)),
                                 torch.from_numpy(value)).numpy()
        return Credit(played=played, policy=policy)

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        return self.kit.policy_gradient(obs, mask, weights)

    def state_dict(self) -> dict[str, Any]:
        return {**self.kit.state_dict(), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.kit.load_state_dict(state)


FAST_SETTINGS: tuple[str, ...] = ()
"""``--set`` overrides of the config that make a run on a 5x5 board with a tiny network
take seconds, for the test suite (:mod:`rlgo.registry`): the same algorithm, smaller
budgets."""


def make(rules: Rules, config: ReinforceConfig, net_config: NetConfig, seed: int = 0,
         device: torch.device | str = "cpu") -> Reinforce:
    """Build the learner (the agent's entry point, see :mod:`rlgo.protocols`)."""
    return Reinforce(rules, config, net_config, seed, device)
