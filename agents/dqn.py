"""Off-policy value learning from replay: double Q-learning with n-step negamax targets and
prioritised replay (Mnih et al. 2015; van Hasselt et al. 2016; Schaul et al. 2016), for a
two-player zero-sum game.

The shared network's action head is read as action values of the player to move,
``Q(s, a) = tanh(logits(s)[a])`` in [-1, 1] (the value head is unused). Targets are
**negamax** n-step returns along the plies (``per_player=False``, the default) or along
each player's own moves (:mod:`rlgo.learning.episodes` states the sign convention): with
``s'`` the bootstrap position n rows on and ``c`` its coefficient (a product of discounts
and of -1 for every change of the player to move),

    y = sum of the chain's rewards (the game's result on the last move, mover's view)
        + c * Q_target(s', argmax_{a' legal} Q_online(s', a'))          (double Q)
    loss = E_i[w_i * Huber(Q_online(s, a) - y)]

where ``w_i`` are the prioritised-replay importance weights. Illegal actions are never an
argmax, in targets or in play. The target network follows the online one by hard copies
every ``target_every`` gradient steps or, with ``target_tau`` > 0, by Polyak averaging.

Self-play explores by Boltzmann sampling over legal Q (``exploration="boltzmann"``,
temperature annealed) or epsilon-greedy (a uniformly random legal move with probability
epsilon, annealed). Both schedules run on the positions the learner has been given, which
are saved in checkpoints with the replay buffer, so a resumed run continues exactly.
Snapshots play greedily (argmax of legal Q) or, sampling, from softmax(Q /
``eval_temperature``).

BatchNorm: acting and the bootstrap values use eval mode (running statistics); the
gradient step uses train mode (batch statistics), as supervised learners do, unless
``consistent_norm`` (then eval mode throughout, statistics refreshed after each update:
REINFORCE learned far slower that way, see :mod:`rlgo.agents.reinforce`).

Logged: ``losses/td_error`` (mean |y - Q|), ``losses/huber``, ``charts/q_mean`` (Q of the
moves played), ``charts/q_max`` (max over legal Q), ``charts/q_legal_mean``,
``charts/sample_age`` (mean positions given to the learner since a sampled row was played:
how off-policy the learning is; in plain self-play one position is one env step),
``charts/replay_ratio`` (samples trained per new position), ``charts/buffer_size``,
``charts/exploration`` (epsilon or temperature), ``charts/beta``. The target network's and
the double-Q argmax's evaluations of bootstrap positions are the learner's own
``nn_evals``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rlgo.agents.network_player import copy_weights
from rlgo.agents.policy_kit import acting_seed
from rlgo.agents.random_player import random_legal_actions
from rlgo.envs import Rules
from rlgo.learning.checks import check_config
from rlgo.learning.credit import policy_gradient, probabilities
from rlgo.learning.episodes import n_step_targets, successors, terminal_rewards
from rlgo.learning.network import (
    ILLEGAL_LOGIT,
    NetConfig,
    PolicyValueNet,
    adamw,
    masked_log_softmax,
    sample_actions,
)
from rlgo.learning.replay import ReplayBuffer
from rlgo.protocols import (
    CannotSearchError,
    Credit,
    Decision,
    Experience,
    Learned,
    Player,
    Positions,
    Weights,
)


@dataclass(frozen=True)
class DQNConfig:
    """Hyper-parameters of the replay learner. Defaults for 5x5 to 9x9, set on 7x7 where
    one 150k-step run with them scored above one with epsilon-greedy exploration and lr
    1e-3 (within the noise of 20-game evaluations): untuned beyond that."""

    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW's decoupled weight decay."""
    gamma: float = 1.0
    """Discount per row of the chain (1: the game's result)."""
    n_step: int = 3
    """Rows of the chain summed before bootstrapping."""
    per_player: bool = False
    """Chains along each player's own moves (True) or along the plies with negamax signs."""
    buffer_positions: int = 100_000
    """Replay capacity (newest positions kept)."""
    learning_starts: int = 5_000
    """Positions in the buffer before the first gradient step."""
    minibatch: int = 256
    """Positions per gradient step."""
    replay_ratio: float = 2.0
    """Positions trained on per new position: ceil(ratio * new / minibatch) steps."""
    prioritized: bool = True
    """Prioritised replay (False: uniform)."""
    priority_alpha: float = 0.6
    """Priority exponent alpha."""
    priority_beta: float = 0.4
    """Importance-weight exponent at the start; annealed to 1 over ``schedule_positions``."""
    priority_eps: float = 1e-3
    """Added to |TD error| to form a priority."""
    target_every: int = 250
    """Hard target-network copies every this many gradient steps (when target_tau is 0)."""
    target_tau: float = 0.0
    """Polyak averaging rate of the target network per step; 0: hard copies."""
    huber_delta: float = 1.0
    """Huber loss threshold (Q lives in [-1, 1], so 1 is nearly a squared error)."""
    exploration: str = "boltzmann"
    """Self-play exploration: "boltzmann" (softmax over legal Q / temperature) or
    "epsilon" (a random legal move with probability epsilon, else the argmax)."""
    explore_start: float = 0.2
    """Temperature (or epsilon) at the start of training."""
    explore_end: float = 0.03
    """Temperature (or epsilon) after ``schedule_positions``."""
    schedule_positions: int = 1_000_000
    """Positions given to the learner over which exploration and beta anneal linearly."""
    eval_temperature: float = 0.05
    """Softmax temperature of a sampling snapshot (``greedy=False``: the ladder's
    default); greedy snapshots take the argmax."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    consistent_norm: bool = False
    """BatchNorm in eval mode for the gradient too (module docstring); False: train mode."""

    def __post_init__(self) -> None:
        check_config(self, positive=("lr", "minibatch", "buffer_positions", "n_step",
                                     "replay_ratio", "target_every", "huber_delta",
                                     "eval_temperature", "max_grad_norm", "schedule_positions",
                                     "priority_eps"),
                     non_negative=("explore_start", "explore_end", "priority_alpha",
                                   "learning_starts", "weight_decay"),
                     unit=("gamma", "target_tau", "priority_beta"),
                     choices={"exploration": ("boltzmann", "epsilon")})
        if self.exploration == "epsilon" and max(self.explore_start, self.explore_end) > 1:
            raise ValueError("epsilon must lie in [0, 1]")


def legal_q(net: PolicyValueNet, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, A] Q(s, a) for the player to move, illegal actions set to -inf."""
    logits, _ = net(obs)
    return torch.tanh(logits).masked_fill(~mask, -math.inf)


class QPlayer:
    """Plays by the legal action values of a network: argmax (``greedy``), softmax over
    Q / ``temperature``, or epsilon-greedy. ``extras``: ``q`` [B] float32, the value of the
    move played."""

    kind = "network"
    """Player kind stored in the match database."""

    def __init__(self, net: PolicyValueNet, name: str, *, greedy: bool = True,
                 temperature: float = 0.05, epsilon: float = 0.0, seed: int = 0,
                 spec: dict[str, Any] | None = None) -> None:
        self.net, self.name, self.greedy, self.spec = net, name, greedy, spec
        self.temperature, self.epsilon = temperature, epsilon
        self._rng = np.random.default_rng(seed)

    def act(self, positions: Positions) -> Decision:
        if len(positions) == 0:
            return Decision(np.zeros(0, np.int64), {"q": np.zeros(0, np.float32)})
        dev = self.net.device
        self.net.eval()
        with torch.no_grad():
            q = legal_q(self.net, torch.from_numpy(positions.obs).to(dev),
                        torch.from_numpy(positions.mask).to(dev)).cpu().numpy()
        actions = q.argmax(1).astype(np.int64)
        if not self.greedy and self.epsilon > 0:
            explore = self._rng.random(len(q)) < self.epsilon
            if explore.any():
                actions[explore] = random_legal_actions(positions.mask[explore], self._rng)
        elif not self.greedy and self.temperature > 0:
            logits = np.where(positions.mask, q / self.temperature, ILLEGAL_LOGIT)
            actions = sample_actions(logits - logits.max(1, keepdims=True), self._rng)
        chosen = q[np.arange(len(q)), actions].astype(np.float32)
        return Decision(actions, {"q": chosen}, nn_evals=len(positions))


class DQN:
    """The replay learner (module docstring)."""

    def __init__(self, rules: Rules, config: DQNConfig, net_config: NetConfig,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.rules = rules
        self.net_config = net_config
        self.device = torch.device(device)
        self.net = PolicyValueNet(rules.board_size, net_config).to(self.device)
        self.target = PolicyValueNet(rules.board_size, net_config).to(self.device)
        self.target.load_state_dict(self.net.state_dict())
        self.target.eval()
        self.opt = adamw(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.buffer = ReplayBuffer(config.buffer_positions,
                                   config.priority_alpha if config.prioritized else None)
        self.positions_seen = 0
        self.steps = 0

    # ------------------------------------------------------------------ playing
    def _progress(self) -> float:
        return min(1.0, self.positions_seen / self.config.schedule_positions)

    def exploration(self) -> float:
        """Current temperature (or epsilon) of self-play."""
        cfg = self.config
        return cfg.explore_start + (cfg.explore_end - cfg.explore_start) * self._progress()

    def player(self) -> Player:
        boltzmann = self.config.exploration == "boltzmann"
        return QPlayer(self.net, "dqn", greedy=False,
                       temperature=self.exploration() if boltzmann else 0.0,
                       epsilon=0.0 if boltzmann else self.exploration(),
                       seed=acting_seed())

    def snapshot(self) -> Weights:
        return copy_weights(self.net)

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        if search:
            raise CannotSearchError("the replay learner's network holds action values, not "
                                    "a policy and a value: it cannot guide tree search")
        net = PolicyValueNet(self.rules.board_size, self.net_config)
        try:
            net.load_state_dict(weights)
        except (RuntimeError, KeyError) as exc:
            raise ValueError(f"snapshot weights do not fit the network: {exc}") from exc
        return QPlayer(net.to(self.device).eval(), name, greedy=greedy,
                       temperature=self.config.eval_temperature, seed=seed)

    # ------------------------------------------------------------------ learning
    def targets(self, batch: Experience) -> dict[str, np.ndarray]:
        """Replay rows of a batch: the n-step partial returns, bootstrap positions and
        their coefficients (module docstring)."""
        cfg = self.config
        nxt, sign = successors(batch.game, batch.player, batch.move, cfg.per_player)
        reward = terminal_rewards(batch.outcome, nxt)
        partial, boot, coef = n_step_targets(reward, nxt, sign, cfg.n_step, cfg.gamma)
        at = np.maximum(boot, 0)
        return {"obs": batch.obs, "mask": batch.mask, "action": batch.action,
                "partial": partial, "boot_coef": coef, "boot_obs": batch.obs[at],
                "boot_mask": batch.mask[at] | (boot < 0)[:, None],
                "stamp": np.full(len(batch), self.positions_seen, np.int64)}

    def learn(self, batch: Experience) -> Learned:
        cfg = self.config
        new = len(batch)
        if new == 0:
            return Learned({}, 0)
        metrics = self._diagnostics(batch)
        self.buffer.add(self.targets(batch))
        self.positions_seen += new
        metrics.update({"charts/buffer_size": float(len(self.buffer)),
                        "charts/exploration": self.exploration()})
        if len(self.buffer) < cfg.learning_starts:
            return Learned(metrics, 0)
        steps = math.ceil(cfg.replay_ratio * new / cfg.minibatch)
        sums: dict[str, float] = {}
        for _ in range(steps):
            for k, v in self._step().items():
                sums[k] = sums.get(k, 0.0) + v
        if cfg.consistent_norm:
            self.net.refresh_norm(torch.from_numpy(batch.obs).to(self.device), cfg.minibatch)
        metrics.update({k: v / steps for k, v in sums.items()})
        metrics["charts/replay_ratio"] = steps * cfg.minibatch / new
        return Learned(metrics, train_samples=steps * cfg.minibatch,
                       nn_evals=2 * steps * cfg.minibatch)

    def _sample(self) -> tuple[np.ndarray, torch.Tensor, float]:
        cfg = self.config
        beta = cfg.priority_beta + (1.0 - cfg.priority_beta) * self._progress()
        if cfg.prioritized:
            idx, w = self.buffer.sample_prioritized(cfg.minibatch, beta)
        else:
            idx, w = self.buffer.sample((cfg.minibatch,)), np.ones(cfg.minibatch, np.float32)
        return idx, torch.from_numpy(w).to(self.device), beta

    def _step(self) -> dict[str, float]:
        """One gradient step on a sampled minibatch; returns its statistics."""
        cfg = self.config
        idx, weight, beta = self._sample()
        b = {k: torch.from_numpy(v).to(self.device) for k, v in self.buffer.rows(idx).items()}
        self.net.eval()
        y = b["partial"] + b["boot_coef"] * self.bootstrap_values(b["boot_obs"], b["boot_mask"])
        self.net.train(not cfg.consistent_norm)
        q_all = legal_q(self.net, b["obs"], b["mask"])
        q = q_all.gather(1, b["action"][:, None]).squeeze(1)
        td = q - y
        loss = (weight * F.huber_loss(q, y, reduction="none", delta=cfg.huber_delta)).mean()
        self.opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.opt.step()
        self.net.eval()
        self.steps += 1
        self._update_target()
        abs_td = td.detach().abs().cpu().numpy()
        if cfg.prioritized:
            self.buffer.update_priorities(idx, abs_td + cfg.priority_eps)
        age = self.positions_seen - b["stamp"].float().mean().item()
        with torch.no_grad():
            legal = torch.isfinite(q_all)
            q_legal_mean = (q_all.nan_to_num(neginf=0.0).sum(1) / legal.sum(1)).mean()
        return {"losses/td_error": float(abs_td.mean()), "losses/huber": loss.item(),
                "losses/grad_norm": norm.item(), "charts/sample_age": age,
                "charts/beta": beta, "charts/q_max": q_all.max(1).values.mean().item(),
                "charts/q_legal_mean": q_legal_mean.item()}

    @torch.no_grad()
    def bootstrap_values(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Double Q: the target network's value of the online network's best legal move,
        [B] (for the player to move at the bootstrap position)."""
        best = legal_q(self.net, obs, mask).argmax(1, keepdim=True)
        logits, _ = self.target(obs)
        return torch.tanh(logits).gather(1, best).squeeze(1)

    def _update_target(self) -> None:
        cfg = self.config
        if cfg.target_tau > 0:
            with torch.no_grad():
                for t, o in zip(self.target.state_dict().values(),
                                self.net.state_dict().values(), strict=True):
                    if t.dtype.is_floating_point:
                        t.mul_(1 - cfg.target_tau).add_(o, alpha=cfg.target_tau)
                    else:
                        t.copy_(o)
        elif self.steps % cfg.target_every == 0:
            self.target.load_state_dict(self.net.state_dict())

    @staticmethod
    def _diagnostics(batch: Experience) -> dict[str, float]:
        if "q" not in batch.extras:
            return {}
        return {"charts/q_mean": float(batch.extras["q"].mean())}

    # ------------------------------------------------------------------ credit
    def _log_policy(self):
        """log softmax(Q / eval_temperature) over the legal actions: the snapshot's
        sampling policy, the one whose gradient the analysis compares."""
        t = self.config.eval_temperature

        def log_policy(obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            logits, _ = self.net(obs)
            return masked_log_softmax(torch.tanh(logits) / t, mask)
        return log_policy

    def load_snapshot(self, weights: Weights, env_steps: int) -> None:
        self.net.load_state_dict(weights)
        self.positions_seen = int(env_steps)  # exploration follows the snapshot's schedule

    def credit(self, batch: Experience) -> Credit:
        """``Q(s, a) - V(s)`` for every legal action, V the expectation of Q under the
        snapshot's sampling policy softmax(Q / eval_temperature)."""
        policy = probabilities(self.net, self._log_policy(), batch.obs, batch.mask)
        q = np.zeros(batch.mask.shape, np.float32)
        with torch.no_grad():
            self.net.eval()
            for i in range(0, len(batch), 1024):
                rows = slice(i, i + 1024)
                q[rows] = legal_q(self.net, torch.from_numpy(batch.obs[rows]).to(self.device),
                                  torch.from_numpy(batch.mask[rows]).to(self.device)
                                  ).nan_to_num(neginf=0.0).cpu().numpy()
        value = (policy * q).sum(1, keepdims=True)
        vector = np.where(batch.mask, q - value, np.nan).astype(np.float32)
        return Credit(played=vector[np.arange(len(batch)), batch.action], policy=policy,
                      vector=vector)

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        return policy_gradient(self.net, self._log_policy(), obs, mask, weights)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.opt.state_dict(), "buffer": self.buffer.state_dict(),
                "positions_seen": self.positions_seen, "steps": self.steps,
                "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.positions_seen = int(state["positions_seen"])
        self.steps = int(state["steps"])


FAST_SETTINGS: tuple[str, ...] = ("learning_starts=50", "buffer_positions=2000", "minibatch=64")
"""``--set`` overrides of the config that make a run on a 5x5 board with a tiny network
take seconds, for the test suite (:mod:`rlgo.registry`): the same algorithm, smaller
budgets."""


def make(rules: Rules, config: DQNConfig, net_config: NetConfig, seed: int = 0,
         device: torch.device | str = "cpu") -> DQN:
    """Build the learner (the agent's entry point, see :mod:`rlgo.protocols`)."""
    return DQN(rules, config, net_config, seed, device)
