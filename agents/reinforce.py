"""REINFORCE: Monte-Carlo policy gradient from self-play outcomes.

Every move of a finished game is pushed towards (or away from) the action played by the
game's result from the mover's point of view, ``G = +1 / -1 / 0``:

    loss = -E[(G - b(s)) * log pi(a|s)] + c_v * E[(v(s) - G)^2] - c_H * E[H(pi(.|s))]

with an optional learned value baseline ``b(s) = v(s)`` (detached in the policy term),
masked logits (illegal actions get no probability) and an entropy bonus. One win/loss
bit per game has to be shared by ~50-100 moves: this is the credit-assignment baseline
that the MCTS-distillation agent is compared against (Williams 1992).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn import functional as F

from rlgo.network import NetConfig, PolicyValueNet, masked_log_softmax
from rlgo.protocols import Experience, Player


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyper-parameters of REINFORCE."""

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

    def __post_init__(self) -> None:
        if self.baseline not in ("value", "mean", "none"):
            raise ValueError(f"baseline must be 'value', 'mean' or 'none', got {self.baseline!r}")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive for REINFORCE self-play")


class Reinforce:
    """The REINFORCE learner (see the module docstring)."""

    def __init__(self, board_size: int, config: ReinforceConfig, net_config: NetConfig,
                 seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        self.net = PolicyValueNet(board_size, net_config)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=config.lr,
                                     weight_decay=config.weight_decay)

    def player(self, greedy: bool = False) -> Player:
        from rlgo.agents.network_player import NetworkPlayer

        # Randomness comes from torch's generator, which the harness seeds per iteration.
        return NetworkPlayer(self.net, name="reinforce", greedy=greedy,
                             temperature=self.config.temperature,
                             seed=int(torch.randint(2**31 - 1, ())))

    def learn(self, batch: Experience) -> dict[str, float]:
        cfg = self.config
        n = len(batch)
        if n == 0:
            return {}
        obs = torch.from_numpy(batch.obs)
        mask = torch.from_numpy(batch.mask)
        action = torch.from_numpy(batch.action)
        ret = torch.from_numpy(batch.outcome)
        self.net.train()
        sums = {"policy": 0.0, "value": 0.0, "entropy": 0.0, "grad_norm": 0.0}
        steps = 0
        for _ in range(cfg.epochs):
            order = torch.randperm(n)
            for start in range(0, n, cfg.minibatch):
                idx = order[start : start + cfg.minibatch]
                logits, value = self.net(obs[idx])
                logp_all = masked_log_softmax(logits, mask[idx])
                logp = logp_all.gather(1, action[idx, None]).squeeze(1)
                probs = logp_all.exp()
                entropy = -(probs * logp_all.clamp_min(-30)).sum(1).mean()
                g = ret[idx]
                if cfg.baseline == "value":
                    adv = g - value.detach()
                elif cfg.baseline == "mean":
                    adv = g - g.mean()
                else:
                    adv = g
                policy_loss = -(adv * logp).mean()
                value_loss = F.mse_loss(value, g)
                loss = policy_loss - cfg.entropy_coef * entropy
                if cfg.baseline == "value":
                    loss = loss + cfg.value_coef * value_loss
                self.opt.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.opt.step()
                sums["policy"] += policy_loss.item()
                sums["value"] += value_loss.item()
                sums["entropy"] += entropy.item()
                sums["grad_norm"] += norm.item()
                steps += 1
        metrics = {f"losses/{k}": v / steps for k, v in sums.items()}
        metrics["train_samples"] = n * cfg.epochs
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.opt.state_dict(), "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["optimizer"])


def make(board_size: int, config: ReinforceConfig, net_config: NetConfig,
         seed: int = 0) -> Reinforce:
    """Build the learner (the harness's entry point for every agent module)."""
    return Reinforce(board_size, config, net_config, seed)
