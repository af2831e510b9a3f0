"""MCTS distillation (AlphaZero): self-play guided by tree search, the network trained
towards the search's policy and the game's outcome.

Every self-play move runs :func:`rlgo.learning.search.run_search` with the shared network, for all
live games at once. The network is trained on a replay window of recent positions:

    loss = -E[pi_search . log pi(.|s)] + c_v * E[(v(s) - z)^2] + c_o * L_own  (+ AdamW decay)

where ``pi_search`` is the search's ``action_weights`` (PUCT: the root visit distribution;
Gumbel: softmax(logits + sigma(completed Q))) and z the game's result for the mover
(Silver et al. 2017, 2018). Compared with REINFORCE, each move gets a dense target over
all actions instead of one win/loss bit shared by the whole game. ``L_own`` is KataGo's
auxiliary ownership loss (Wu 2019): the network also predicts which player owns each
point at the end of the game (Tromp-Taylor area), a target with N*N outcomes per position
that teaches the trunk life and death far faster than the single result bit does; the
head is not used in play.

Self-play options:

* PUCT root: Dirichlet noise on the priors; for the first ``temperature_moves`` moves of
  a game the move is sampled from N(root, a)^(1/T), later moves take the most visited.
* Gumbel root (``gumbel=True``, Danihelka et al. 2022): the Gumbel noise does the
  exploring (no Dirichlet, no temperature), sequential halving over ``max_considered``
  sampled actions; policy improvement holds with 2..16 simulations.
* Playout cap randomization (KataGo, Wu 2019): with probability ``full_search_prob`` a
  move gets the full ``simulations`` with noise and becomes a training row; otherwise a
  ``cheap_simulations`` search without noise just picks the move, recorded with
  ``extras["policy_weight"] = 0`` and dropped by the learner.

Learner side: a replay window (:class:`rlgo.learning.replay.ReplayBuffer`) of the last
``replay_positions`` full-search positions (in the checkpoint, so a resumed run replays
exactly); each ``learn`` adds the new positions and takes ``ceil(replay_ratio * new /
minibatch)`` gradient steps on minibatches drawn uniformly from the window. With
``augment`` every sampled row gets a fresh random symmetry of the square each time it is
drawn (the window stores positions as played). Reanalyse (``reanalyse_fraction`` > 0, MuZero
Reanalyse's policy half): that fraction of every minibatch gets its policy target
recomputed by a noise-free search with the current network before training, written back
into the window. Positions are rebuilt by replaying the game's move record from the empty
board (the self-play player stores ``extras["record"]``, the actions before the move, only
in that mode): the rebuilt state is exact (history planes, superko set), costs 2 bytes
per move, and needs no pickled engine. The value target stays the game's result; the
reanalyse searches' network evaluations are reported as the learner's ``nn_evals``.

Diagnostics (``charts/...``, from the self-play moves of each batch):
``search_disagreement`` (the search's best move, argmax of its target, differs from the
raw policy's argmax: the training signal's information), ``policy_entropy`` (raw policy at
the root, nats), ``search_entropy`` (the targets), ``value_error`` and
``search_value_error`` (squared error of the network's / the search's root value against
the game's result), ``full_search_fraction``, ``replay_positions``, ``reanalysed``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rlgo.agents.policy_kit import FromKit, PolicyKit, acting_seed
from rlgo.agents.search_player import SearchPlayer
from rlgo.envs import GoEngine, Rules
from rlgo.learning.augment import augment
from rlgo.learning.checks import check_config
from rlgo.learning.network import NetConfig, masked_log_softmax
from rlgo.learning.replay import ReplayBuffer
from rlgo.learning.search import SearchConfig, run_search
from rlgo.protocols import Credit, Experience, Learned, Player, Weights

__all__ = ["MCTSConfig", "MCTSLearner", "make"]


@dataclass(frozen=True)
class MCTSConfig:
    """Hyper-parameters of MCTS distillation (search constants: see rlgo.learning.search)."""

    simulations: int = 32
    """Simulations per move of a full search (self-play, evaluation and reanalyse)."""
    gumbel: bool = True
    """Gumbel MuZero's root and interior rules (module docstring); False: AlphaZero's PUCT
    with Dirichlet noise, temperature and visit-count targets. Gumbel is the default: on
    7x7 with 32 simulations its raw policy reached 611 Elo after 152k env steps against
    PUCT's 188 (docs/learners.md, "The tree search")."""
    c_puct: float = 1.25
    """PUCT exploration constant."""
    fpu_reduction: float = 0.2
    """PUCT: an unvisited edge's Q is the node's value minus this."""
    dirichlet_alpha: float | None = None
    """PUCT root noise concentration; None: 10.83 / (legal actions)."""
    dirichlet_fraction: float = 0.25
    """PUCT root noise weight in the self-play priors."""
    max_considered: int = 16
    """Gumbel: root actions sampled for sequential halving (m)."""
    c_visit: float = 50.0
    """Gumbel: sigma's c_visit."""
    c_scale: float = 0.1
    """Gumbel: sigma's c_scale."""
    temperature: float = 1.0
    """PUCT self-play: early moves are sampled from N(root, a)^(1/temperature)."""
    temperature_moves: int = 10
    """PUCT self-play: moves of a game (from its start) played by sampling; later moves
    take the most visited action."""
    full_search_prob: float = 1.0
    """Playout cap randomization: chance that a move gets the full search and is trained
    on (1 turns it off; KataGo used 0.25)."""
    cheap_simulations: int = 8
    """Playout cap randomization: simulations of the other moves (not trained on)."""
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW decoupled weight decay."""
    value_coef: float = 1.0
    """Weight of the value loss (AlphaGo Zero: 1)."""
    ownership_coef: float = 1.5
    """Weight of the auxiliary ownership loss, the cross-entropy of each point's
    predicted final owner averaged over the points (KataGo's 1.5 / N^2 on the sum); 0
    turns it off."""
    minibatch: int = 256
    """Positions per gradient step, drawn uniformly from the replay window."""
    replay_positions: int = 80_000
    """Capacity of the replay window (newest positions kept)."""
    replay_ratio: float = 4.0
    """Positions trained on per new position: ceil(ratio * new / minibatch) steps."""
    reanalyse_fraction: float = 0.0
    """Share of each minibatch whose policy target is recomputed by search with the
    current network before training (0 turns reanalyse off)."""
    max_grad_norm: float = 1.0
    """Gradient clipping."""
    augment: bool = True
    """Train on a random D4 symmetry of every sampled position, drawn afresh each time it
    is sampled (every MCTS run of the committed studies used it)."""

    def __post_init__(self) -> None:
        check_config(self, positive=("lr", "max_grad_norm", "temperature", "replay_ratio",
                                     "simulations", "cheap_simulations", "minibatch",
                                     "replay_positions", "full_search_prob"),
                     non_negative=("weight_decay", "value_coef", "ownership_coef",
                                   "temperature_moves"),
                     unit=("reanalyse_fraction", "full_search_prob"))
        self.search  # noqa: B018 (building the SearchConfig validates its fields)

    # ------------------------------------------------------------------ derived
    @property
    def search(self) -> SearchConfig:
        """The search constants as :func:`rlgo.learning.search.run_search` takes them."""
        return SearchConfig(gumbel=self.gumbel, c_puct=self.c_puct,
                            fpu_reduction=self.fpu_reduction,
                            dirichlet_alpha=self.dirichlet_alpha,
                            dirichlet_fraction=self.dirichlet_fraction,
                            max_considered=self.max_considered, c_visit=self.c_visit,
                            c_scale=self.c_scale)


# --------------------------------------------------------------------------- learner

class MCTSLearner:
    """The MCTS-distillation learner (module docstring)."""

    net, opt, device, net_config = FromKit(), FromKit(), FromKit(), FromKit()
    """The kit's network, optimiser, device and network config."""

    def __init__(self, rules: Rules, config: MCTSConfig, net_config: NetConfig,
                 seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.rules = rules
        self.kit = PolicyKit(rules, net_config, lr=config.lr, weight_decay=config.weight_decay,
                             device=device)
        self.window = ReplayBuffer(config.replay_positions)

    def player(self) -> Player:
        cfg = self.config
        return SearchPlayer(self.net, cfg.simulations, cfg.search, name="mcts", greedy=False,
                            temperature=cfg.temperature,
                            temperature_moves=cfg.temperature_moves,
                            full_search_prob=cfg.full_search_prob,
                            cheap_simulations=cfg.cheap_simulations,
                            record_history=cfg.reanalyse_fraction > 0,
                            seed=acting_seed())

    def snapshot(self) -> Weights:
        return self.kit.snapshot()

    def snapshot_player(self, weights: Weights, *, name: str, greedy: bool = True,
                        search: int = 0, seed: int = 0) -> Player:
        return self.kit.snapshot_player(weights, name=name, greedy=greedy, search=search,
                                        seed=seed)

    # ------------------------------------------------------------------ learning
    def learn(self, batch: Experience) -> Learned:
        cfg = self.config
        if len(batch) == 0:
            return Learned({}, 0)
        metrics = self._diagnostics(batch)
        keep = batch.extras.get("policy_weight", np.ones(len(batch), np.float32)) > 0
        new = int(keep.sum())
        rows = {"obs": batch.obs[keep], "mask": batch.mask[keep],
                "policy": batch.extras["policy"][keep].astype(np.float32),
                "outcome": batch.outcome[keep].astype(np.float32),
                "record": batch.extras["record"][keep] if cfg.reanalyse_fraction > 0
                else np.zeros((new, 0), np.int16),
                "move": batch.move[keep].astype(np.int32),
                "ownership": (batch.ownership[keep] if batch.ownership is not None else
                              np.zeros((new, batch.mask.shape[1] - 1), np.int8)),
                "has_ownership": np.full(new, batch.ownership is not None)}
        self.window.add(rows)
        metrics["charts/replay_positions"] = float(self.window.size)
        if new == 0:
            return Learned(metrics, 0)
        steps = math.ceil(cfg.replay_ratio * new / cfg.minibatch)
        idx = self.window.sample((steps, cfg.minibatch))
        reanalysed, evals = 0, 0
        if cfg.reanalyse_fraction > 0:
            k = math.ceil(cfg.reanalyse_fraction * cfg.minibatch)
            reanalysed, evals = self._reanalyse(np.unique(idx[:, :k]))
        metrics["charts/reanalysed"] = float(reanalysed)
        metrics.update(self._train(idx))
        return Learned(metrics, train_samples=steps * cfg.minibatch, nn_evals=evals)

    def _minibatch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Tensors of window rows ``rows`` on the device, augmented when configured."""
        d = self.window.rows(rows)
        if self.config.augment:
            rng = np.random.default_rng(acting_seed())
            d["obs"], d["mask"], _, d["policy"], d["ownership"] = augment(
                d["obs"], d["mask"], None, d["policy"], rng, d["ownership"])
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(self.device)
                for k, v in d.items() if k != "record"}

    def _train(self, idx: np.ndarray) -> dict[str, float]:
        cfg = self.config
        self.net.train()
        sums = {"policy": 0.0, "policy_kl": 0.0, "value": 0.0, "ownership": 0.0,
                "entropy": 0.0, "grad_norm": 0.0}
        for rows in idx:
            b = self._minibatch(rows)
            target, z = b["policy"], b["outcome"]
            if cfg.ownership_coef > 0:
                logits, value, own_logits = self.net.forward_ownership(b["obs"])
                own_loss = _ownership_loss(own_logits, b["ownership"], b["has_ownership"])
            else:  # the head gets no gradient, so AdamW leaves it alone
                logits, value = self.net(b["obs"])
                own_loss = torch.zeros((), device=self.device)
            logp = masked_log_softmax(logits, b["mask"]).clamp_min(-30.0)
            policy_loss = -(target * logp).sum(1).mean()
            target_entropy = -(target * target.clamp_min(1e-30).log()).sum(1).mean()
            value_loss = F.mse_loss(value, z)
            loss = policy_loss + cfg.value_coef * value_loss + cfg.ownership_coef * own_loss
            self.opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
            self.opt.step()
            sums["policy"] += policy_loss.item()
            sums["policy_kl"] += (policy_loss - target_entropy).item()
            sums["value"] += value_loss.item()
            sums["ownership"] += own_loss.item()
            sums["entropy"] += -(logp.exp() * logp).sum(1).mean().item()
            sums["grad_norm"] += norm.item()
        return {f"losses/{k}": v / len(idx) for k, v in sums.items()}

    def _reanalyse(self, rows: np.ndarray) -> tuple[int, int]:
        """Recompute the targets of window rows ``rows`` by search with the current
        network (no noise, full budget), rebuilding each position from its move record.
        Returns (rows, network evaluations spent)."""
        if len(rows) == 0:
            return 0, 0
        data = self.window.data
        record, moves = data["record"][rows], data["move"][rows]
        eng = GoEngine(len(rows), self.rules)
        for t in range(int(moves.max())):
            eng.step(np.where(t < moves, record[:, t], -1).astype(np.int64))
        out = run_search(eng, np.arange(len(rows)), self.net.evaluate, self.config.search,
                         self.config.simulations)
        data["obs"][rows] = eng.observations()
        data["mask"][rows] = eng.legal
        data["policy"][rows] = out.action_weights
        return len(rows), int(out.nn_evals)

    @staticmethod
    def _diagnostics(batch: Experience) -> dict[str, float]:
        """``charts/...`` metrics of the self-play moves (module docstring)."""
        ex, z = batch.extras, batch.outcome
        full = ex.get("policy_weight", np.ones(len(batch), np.float32)) > 0
        out: dict[str, float] = {"charts/full_search_fraction": float(full.mean())}
        if full.any() and "disagree" in ex:
            out["charts/search_disagreement"] = float(ex["disagree"][full].mean())
        if full.any() and "policy" in ex:
            target = ex["policy"][full].astype(np.float64)
            out["charts/search_entropy"] = float(
                -(target * np.log(np.maximum(target, 1e-30))).sum(1).mean())
        if "prior_entropy" in ex:
            out["charts/policy_entropy"] = float(ex["prior_entropy"].mean())
        if "value" in ex:
            out["charts/value_error"] = float(np.mean((ex["value"] - z) ** 2))
        if "search_value" in ex:
            out["charts/search_value_error"] = float(np.mean((ex["search_value"] - z) ** 2))
        return out

    # ------------------------------------------------------------------ credit
    def load_snapshot(self, weights: Weights, env_steps: int) -> None:
        self.kit.load_snapshot(weights)

    def credit(self, batch: Experience) -> Credit:
        """The improvement vector: the search's target minus the network's policy (the
        cross-entropy gradient's weight on every legal action); NaN on rows searched with
        the cheap budget, which carry no target."""
        policy = self.kit.probabilities(batch.obs, batch.mask)
        target = batch.extras["policy"].astype(np.float32)
        vector = np.where(batch.mask, target - policy, np.nan).astype(np.float32)
        cheap = batch.extras.get("policy_weight", np.ones(len(batch), np.float32)) <= 0
        vector[cheap] = np.nan
        played = vector[np.arange(len(batch)), batch.action]
        return Credit(played=played, policy=policy, vector=vector,
                      target=np.where(cheap[:, None], np.nan, target).astype(np.float32))

    def policy_gradient(self, obs: np.ndarray, mask: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        return self.kit.policy_gradient(obs, mask, weights)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {**self.kit.state_dict(), "config": asdict(self.config),
                "window": self.window.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.kit.load_state_dict(state)
        self.window.load_state_dict(state["window"])


def _ownership_loss(logits: torch.Tensor, owner: torch.Tensor,
                    has: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each point's final owner, averaged over the points and the rows
    that have a target: the head predicts P(mover owns) = (1 + tanh(u)) / 2 =
    sigmoid(2u); a neutral point (0) is the target 1/2."""
    per_row = F.binary_cross_entropy_with_logits(
        2.0 * logits, (owner.float() + 1.0) / 2.0, reduction="none").mean(1)
    weight = has.float()
    return (per_row * weight).sum() / weight.sum().clamp_min(1.0)


FAST_SETTINGS: tuple[str, ...] = ("simulations=4", "cheap_simulations=2",
                                  "replay_positions=2000", "minibatch=64")
"""``--set`` overrides of the config that make a run on a 5x5 board with a tiny network
take seconds, for the test suite (:mod:`rlgo.registry`): the same algorithm, smaller
budgets."""


def make(rules: Rules, config: MCTSConfig, net_config: NetConfig, seed: int = 0,
         device: torch.device | str = "cpu") -> MCTSLearner:
    """Build the learner (the agent's entry point, see :mod:`rlgo.protocols`)."""
    return MCTSLearner(rules, config, net_config, seed, device)
