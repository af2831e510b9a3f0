"""PPO: proximal policy optimisation from self-play, no search (Schulman et al. 2017).

Each batch of finished games is trained on for ``epochs`` passes of shuffled minibatches:

    r_t(theta) = pi_theta(a_t|s_t) / pi_behaviour(a_t|s_t)
    L_clip     = -E[min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)]
    L_value    = 1/2 E[max((v - R)^2, (v_old + clip(v - v_old, -eps_v, eps_v) - R)^2)]
    loss       = L_clip + c_v L_value - c_H E[H(pi(.|s))]

``pi_behaviour`` is the log-probability the self-play player recorded for the move it
sampled; legal-move masking gives illegal actions probability zero in sampling, in the
ratio and in the entropy. Advantages are **negamax GAE(lambda)** over each player's own
moves (:func:`rlgo.learning.episodes.gae` with ``per_player=True``: the successor of a move
is the same player's next move and the reward the game's result on its last one, both
from that player's point of view; ``per_player=False`` follows the plies instead, the
opponent's value entering with a minus sign). Discount 1 by default: Go has one terminal
reward. Advantages are normalised per minibatch; gradients clipped; an optional target KL
stops the epochs early; the learning rate can anneal linearly with the positions trained
on.

The loss is computed with the network in eval mode (BatchNorm's running statistics), the
function that sampled the moves, so the ratio is exactly 1 before the first update; the
statistics are refreshed from the batch afterwards (see :mod:`rlgo.learning.network`). In
bfloat16 the moves were sampled by the network's acting copy, the same function up to
rounding: there the behaviour log-probabilities and values are recomputed by the loss's
forward pass before the first epoch (one more forward pass over the batch), which keeps
the ratio exactly 1.
REINFORCE learned far slower with such an eval-mode gradient (:mod:`.reinforce`);
``--set net.norm=group`` (GroupNorm, one function in both modes) keeps the ratio exact
with a normalisation that takes part in the gradient.

Opponents, random openings: the harness's ``train.opponent = "pool"`` (with
``train.pool_share``) and ``train.opening_moves``; against a pool snapshot only the
learner's own moves are rows, which per-player GAE handles as it is.

Logged: ``losses/policy``, ``losses/value``, ``losses/entropy``, ``losses/approx_kl``
(the ``(r - 1) - log r`` estimator), ``losses/clipfrac``, ``losses/explained_variance`` (of
the returns by the behaviour values), ``losses/grad_norm``, ``charts/advantage_std`` (the
advantage scale before normalisation), ``charts/lr``, ``charts/epochs`` (epochs run, the
one whose KL triggered a stop included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rlgo.agents.network_player import NetworkPlayer
from rlgo.agents.policy_kit import FromKit, PolicyKit, acting_seed
from rlgo.envs import Rules
from rlgo.learning.checks import check_config
from rlgo.learning.episodes import gae, successors, terminal_rewards
from rlgo.learning.network import NetConfig, masked_log_softmax
from rlgo.protocols import Credit, Experience, Learned, Player, Weights


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of PPO. Defaults for 5x5 to 9x9, chosen on 7x7 between two
    150k-step runs (lr 3e-4 with entropy 0.01 against lr 1e-3 with entropy 0.003; the
    second scored higher, within the noise of 20-game evaluations): untuned beyond that."""

    lr: float = 1e-3
    """Adam learning rate (the start of the annealing, if any)."""
    lr_anneal_positions: int = 0
    """Anneal the learning rate linearly to 0 over this many trained-on self-play
    positions (counted once each, not per epoch); 0 keeps it constant."""
    weight_decay: float = 1e-4
    """AdamW's decoupled weight decay."""
    gamma: float = 1.0
    """Discount per own move (1: the game's result is the return)."""
    gae_lambda: float = 0.95
    """GAE's lambda (1: Monte-Carlo returns minus the value, 0: one-step TD)."""
    per_player: bool = True
    """GAE along each player's own moves (True) or along the plies with negamax signs."""
    clip_coef: float = 0.2
    """Policy ratio clip epsilon."""
    clip_value: bool = True
    """Clip the value update around the behaviour value (PPO2's value clipping)."""
    value_clip_coef: float = 0.2
    """Value clip range, in value units ([-1, 1] scale)."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    entropy_coef: float = 0.003
    """Weight of the entropy bonus."""
    epochs: int = 4
    """Passes over each batch of games."""
    minibatch: int = 512
    """Positions per gradient step."""
    norm_adv: bool = True
    """Normalise advantages to zero mean and unit variance per minibatch."""
    max_grad_norm: float = 0.5
    """Gradient clipping."""
    target_kl: float | None = None
    """Stop the epochs of a batch once the approximate KL exceeds this; None: never."""

    def __post_init__(self) -> None:
        check_config(self, positive=("target_kl", "lr", "clip_coef", "value_clip_coef",
                                     "max_grad_norm", "epochs", "minibatch"),
                     non_negative=("value_coef", "entropy_coef", "weight_decay",
                                   "lr_anneal_positions"),
                     unit=("gamma", "gae_lambda"))


class PPO:
    """The PPO learner (module docstring)."""

    net, opt, device, net_config = FromKit(), FromKit(), FromKit(), FromKit()
    """The kit's network, optimiser, device and network config."""

    def __init__(self, rules: Rules, config: PPOConfig, net_config: NetConfig,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.config, self.rules = config, rules
        self.kit = PolicyKit(rules, net_config, lr=config.lr, weight_decay=config.weight_decay,
                             device=device)
        self.positions_seen = 0

    def player(self) -> Player:
        return NetworkPlayer(self.net, name="ppo", greedy=False, seed=acting_seed())

    def snapshot(self) -> Weights:
        return self.kit.snapshot()

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        return self.kit.snapshot_player(weights, name=name, greedy=greedy, search=search,
                                        seed=seed)

    # ------------------------------------------------------------------ learning
    def advantages(self, batch: Experience) -> tuple[np.ndarray, np.ndarray]:
        """(advantages [T], returns [T]) of the batch's moves by negamax GAE over the
        behaviour values ``extras["value"]``."""
        cfg = self.config
        nxt, sign = successors(batch.game, batch.player, batch.move, cfg.per_player)
        reward = terminal_rewards(batch.outcome, nxt)
        return gae(batch.extras["value"], reward, nxt, sign, cfg.gamma, cfg.gae_lambda)

    def learn(self, batch: Experience) -> Learned:
        cfg = self.config
        n = len(batch)
        if n == 0:
            return Learned({}, 0)
        adv, ret = self.advantages(batch)
        lr = self._anneal()
        dev = self.device
        t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dev) for k, v in (
            ("obs", batch.obs), ("mask", batch.mask), ("action", batch.action),
            ("logp", batch.extras["logp"]), ("value", batch.extras["value"]),
            ("adv", adv), ("ret", ret))}
        self.net.eval()  # the function that acted (module docstring)
        if not self.net.acts_as_it_learns:
            t["logp"], t["value"] = self._behaviour(t)
        sums: dict[str, float] = {}
        steps, epochs = 0, 0
        for _ in range(cfg.epochs):
            order = torch.randperm(n).to(dev)
            kls = []
            for start in range(0, n, cfg.minibatch):
                stats = self._step({k: v[order[start:start + cfg.minibatch]]
                                    for k, v in t.items()})
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
                kls.append(stats["approx_kl"])
                steps += 1
            epochs += 1
            if cfg.target_kl is not None and float(np.mean(kls)) > cfg.target_kl:
                break
        self.net.refresh_norm(t["obs"], cfg.minibatch)
        self.positions_seen += n
        metrics = {f"losses/{k}": v / steps for k, v in sums.items()}
        metrics.update({
            "losses/explained_variance": _explained_variance(batch.extras["value"], ret),
            "charts/advantage_std": float(np.std(adv)),
            "charts/lr": lr, "charts/epochs": float(epochs),
        })
        return Learned(metrics, train_samples=n * epochs)

    @torch.no_grad()
    def _behaviour(self, t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and v(s) of the batch recomputed by the loss's own forward pass, for
        a network that acted through its bfloat16 acting copy (the same weights, rounded
        otherwise): so the ratio is exactly 1 before the first update."""
        logps, values = [], []
        for start in range(0, len(t["obs"]), self.config.minibatch):
            part = slice(start, start + self.config.minibatch)
            logits, value = self.net(t["obs"][part])
            logp_all = masked_log_softmax(logits, t["mask"][part])
            logps.append(logp_all.gather(1, t["action"][part, None]).squeeze(1))
            values.append(value)
        return torch.cat(logps), torch.cat(values)

    def _step(self, b: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on minibatch ``b``; returns its statistics."""
        cfg = self.config
        logits, value = self.net(b["obs"])
        logp_all = masked_log_softmax(logits, b["mask"])
        logp = logp_all.gather(1, b["action"][:, None]).squeeze(1)
        log_ratio = logp - b["logp"]
        ratio = log_ratio.exp()
        adv = b["adv"]
        if cfg.norm_adv and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy_loss = clipped_surrogate(log_ratio, adv, cfg.clip_coef)
        value_loss = _value_loss(value, b["value"], b["ret"],
                                 cfg.value_clip_coef if cfg.clip_value else None)
        probs = logp_all.exp()
        entropy = -(probs * logp_all.clamp_min(-30.0)).sum(1).mean()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        self.opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.opt.step()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - log_ratio).mean()
            clipfrac = ((ratio - 1).abs() > cfg.clip_coef).float().mean()
        return {"policy": policy_loss.item(), "value": value_loss.item(),
                "entropy": entropy.item(), "approx_kl": approx_kl.item(),
                "clipfrac": clipfrac.item(), "grad_norm": norm.item()}

    def _anneal(self) -> float:
        """Set and return this batch's learning rate."""
        cfg = self.config
        lr = cfg.lr
        if cfg.lr_anneal_positions > 0:
            lr *= max(0.0, 1.0 - self.positions_seen / cfg.lr_anneal_positions)
        for group in self.opt.param_groups:
            group["lr"] = lr
        return lr

    # ------------------------------------------------------------------ credit
    def load_snapshot(self, weights: Weights, env_steps: int) -> None:
        self.kit.load_snapshot(weights)
        self.positions_seen = int(env_steps)

    def credit(self, batch: Experience) -> Credit:
        """The played move's GAE advantage (before normalisation); no vector."""
        adv, _ = self.advantages(batch)
        policy = self.kit.probabilities(batch.obs, batch.mask)
        return Credit(played=adv.astype(np.float32), policy=policy)

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        return self.kit.policy_gradient(obs, mask, weights)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {**self.kit.state_dict(), "positions_seen": self.positions_seen,
                "config": asdict(self.config)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.kit.load_state_dict(state)
        self.positions_seen = int(state["positions_seen"])


def clipped_surrogate(log_ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's policy loss -E[min(r A, clip(r, 1 - clip, 1 + clip) A)], r = exp(log_ratio):
    no gradient once r has left the clip range in the direction A favours."""
    ratio = log_ratio.exp()
    return torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()


def _value_loss(value: torch.Tensor, old: torch.Tensor, ret: torch.Tensor,
                clip: float | None) -> torch.Tensor:
    """1/2 E[(v - R)^2], or with ``clip`` the pessimistic max with the clipped update."""
    loss = (value - ret) ** 2
    if clip is not None:
        clipped = old + (value - old).clamp(-clip, clip)
        loss = torch.max(loss, (clipped - ret) ** 2)
    return 0.5 * loss.mean()


def _explained_variance(pred: np.ndarray, target: np.ndarray) -> float:
    """1 - Var(target - pred) / Var(target); NaN when the targets do not vary."""
    var = float(np.var(target))
    return float("nan") if var == 0 else 1.0 - float(np.var(target - pred)) / var


FAST_SETTINGS: tuple[str, ...] = ()
"""``--set`` overrides of the config that make a run on a 5x5 board with a tiny network
take seconds, for the test suite (:mod:`rlgo.registry`): the same algorithm, smaller
budgets."""


def make(rules: Rules, config: PPOConfig, net_config: NetConfig, seed: int = 0,
         device: torch.device | str = "cpu") -> PPO:
    """Build the learner (the agent's entry point, see :mod:`rlgo.protocols`)."""
    return PPO(rules, config, net_config, seed, device)
