"""Training throughput of every learner, beside sb3-contrib's MaskablePPO measured in the
same run: what a user would reach for instead of rlgo.

One row per implementation, all on one board size and one network size (the default
:class:`~rlgo.learning.network.NetConfig`, or ``blocks`` x ``channels`` for every row) and
each learner's default config:

* ``rlgo-<agent>``: the harness's iterations (batched self-play of
  ``train.parallel_games`` games, then ``learn``), evaluation off; ``env_steps_per_s``
  counts moves of both colours, ``nn_evals_per_s`` the counter ``nn_evals`` (acting,
  search included, and the learner's own recomputation);
* ``sb3-maskableppo``: ``MaskablePPO`` on the Gymnasium env ``rlgo/Go-v0`` against its
  random opponent, with the same residual trunk as rlgo's network as features extractor
  (``RlgoTrunk``, channels-last like rlgo's), ``n_steps`` 512, minibatch 256, 4 epochs; its
  ``env_steps_per_s`` counts the moves of both colours too (the engine's move counter)
  and ``nn_evals_per_s`` the policy's forward passes in rollouts.

Every row also says its network (``net``, blocks x channels) and ``trunk_size``, the
numbers in the state dict of the stem and residual blocks as built (equal across rows
when they share a network; the heads differ: MaskablePPO's are SB3's).

Where the time goes: ``learn_share`` is the fraction of the measured time spent learning
(rlgo's ``learn``, MaskablePPO's ``train``: the gradient passes; the rest is playing and
recording), and ``env_steps_per_learn_s`` the env steps per second of learning alone, the
**ceiling** an implementation would reach if playing cost nothing. When a row's ceiling is
below a speed target, no faster self-play reaches the target: only less learning work
per env step (a smaller network, fewer epochs, fewer trained moves) or faster passes do.

Against the machine's limit (rlgo rows): ``act_flops_per_s`` is the network FLOPs of
self-play (acting evaluations, search and pool included, times one position's forward
FLOPs as torch counts them on the network as built) per second of self-play, and
``learn_flops_per_s`` the FLOPs of ``learn`` (counted by torch over one extra iteration,
per trained sample) per second of learning. The table gives both as shares of the
bfloat16 peak measured at the start of the run (:mod:`rlgo.bench.flops`): the model FLOP
utilisation. MaskablePPO's row, context for a user choosing between the two, has none.

Each row first runs a warm-up (numba compilation, torch's first calls), then measures for
``seconds``. Only ratios within one run mean anything; measure on an idle machine.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import gymnasium
import torch
from torch.utils.flop_counter import FlopCounterMode

from rlgo.bench.flops import forward_flops, peaks, utilisation
from rlgo.envs.gym_env import ENV_ID
from rlgo.learning.network import NetConfig, PolicyValueNet, autocast, effective_precision
from rlgo.training import build_trainer

Row = dict[str, object]

def bench_learner(agent: str, board_size: int, seconds: float, out: Path,
                  net: NetConfig | None = None) -> Row:
    """Env steps/s, network evaluations/s and FLOP/s of ``agent``'s training iterations."""
    net = net or NetConfig()
    trainer = build_trainer(agent, board_size, 10**12, 0, out / agent,
                            ["eval.every=0", f"train.checkpoint_every={10**12}",
                             *(f"net.{f.name}={getattr(net, f.name)}" for f in fields(net))],
                            progress=False)
    trainer.iterate()  # warm-up: compilation, first calls
    c = trainer.state.counters
    before = (c.env_steps, c.nn_evals, _acting_evals(c), c.train_samples)
    learn_s, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        learn_s += trainer.iterate()["charts/learn_s"]
    elapsed = time.perf_counter() - start
    steps, evals, acting, samples = (c.env_steps - before[0], c.nn_evals - before[1],
                                     _acting_evals(c) - before[2], c.train_samples - before[3])
    trunk = {k: v for k, v in trainer.learner.snapshot().items()
             if k.startswith(("stem.", "trunk."))}
    play_s = elapsed - learn_s
    acting_flops = acting * forward_flops(PolicyValueNet(board_size, trainer.net_config),
                                          board_size)
    return {"impl": f"rlgo-{agent}", "board_size": board_size,
            "net": _net_name(trainer.net_config), "trunk_size": _size(trunk),
            "env_steps_per_s": steps / elapsed, "nn_evals_per_s": evals / elapsed,
            **_learning(steps, learn_s, elapsed),
            "act_flops_per_s": acting_flops / play_s if play_s > 0 else 0.0,
            "learn_flops_per_s": samples * _learn_flops_per_sample(trainer) / learn_s
            if learn_s > 0 else 0.0}


def _acting_evals(counters) -> int:
    """Network evaluations in self-play: the learner's moves (search included) and the
    pool's."""
    return counters.nn_evals_act + counters.nn_evals_opponent


def _learn_flops_per_sample(trainer) -> float:
    """FLOPs of one more iteration's ``learn`` (counted by torch, forward and backward
    passes and any recomputation) per trained sample."""
    learner, c = trainer.learner, trainer.state.counters
    learn, counted = learner.learn, [0]

    def counting(batch):
        with FlopCounterMode(display=False) as counter:
            metrics = learn(batch)
        counted[0] = counter.get_total_flops()
        return metrics

    samples0 = c.train_samples
    learner.learn = counting  # this instance only, for one iteration
    try:
        trainer.iterate()
    finally:
        del learner.learn
    return counted[0] / max(c.train_samples - samples0, 1)


def _learning(env_steps: int, learn_s: float, elapsed: float) -> Row:
    """The learning share of ``elapsed`` and the env steps per second of learning."""
    return {"learn_share": learn_s / elapsed,
            "env_steps_per_learn_s": env_steps / learn_s if learn_s > 0 else float("inf")}


def _trunk_class():
    """A features extractor with rlgo's residual trunk (built lazily: torch and SB3 are
    imported only when the benchmark runs)."""
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn


    class RlgoTrunk(BaseFeaturesExtractor):
        """rlgo's stem and residual blocks over [N, N, 17] observations, flattened."""

        def __init__(self, observation_space, board_size: int, config: NetConfig) -> None:
            super().__init__(observation_space, config.channels * board_size * board_size)
            net = PolicyValueNet(board_size, config)
            # SB3's orthogonal initialisation needs standard strides; rlgo's channels-last
            # layout is restored after it (channels_last_after_init).
            self.body = nn.Sequential(net.stem, net.trunk).to(
                memory_format=torch.contiguous_format)
            self.precision = config.precision  # rlgo's arithmetic, as its network's

        def channels_last_after_init(self) -> None:
            self.body.to(memory_format=torch.channels_last)

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            x = obs.permute(0, 3, 1, 2).float().contiguous(memory_format=torch.channels_last)
            with autocast(self.precision, x.device):
                return self.body(x).flatten(1).float()

    return RlgoTrunk


def bench_maskable_ppo(board_size: int, seconds: float, net: NetConfig | None = None) -> Row:
    """MaskablePPO's env steps/s (both colours' moves) and policy evaluations/s, with
    rlgo's trunk of ``net``'s size as features extractor."""
    net = net or NetConfig()
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.callbacks import BaseCallback


    env = gymnasium.make(ENV_ID, board_size=board_size, opponent="random")

    class Counter(BaseCallback):
        """Counts engine moves (both colours, games in progress included) and policy
        calls; stops after ``seconds``."""

        def __init__(self) -> None:
            super().__init__()
            self.moves = self.calls = self.seen = 0
            self.start = time.perf_counter()

        def _moves(self) -> int:
            return int(self.training_env.envs[0].unwrapped.engine.moves[0])

        def _on_training_start(self) -> None:
            self.seen = self._moves()  # the game in progress when measuring begins

        def _on_step(self) -> bool:
            self.calls += 1
            now = self._moves()
            if self.locals["dones"][0]:  # the env was reset: the game's last count is here
                self.moves += int(self.locals["infos"][0]["moves"]) - self.seen
            else:
                self.moves += now - self.seen
            self.seen = now
            return time.perf_counter() - self.start < seconds

    model = MaskablePPO("MlpPolicy", env, n_steps=512, batch_size=256, n_epochs=4, seed=0,
                        policy_kwargs={"features_extractor_class": _trunk_class(),
                                       "features_extractor_kwargs": {"board_size": board_size,
                                                                     "config": net},
                                       "net_arch": []})
    model.policy.features_extractor.channels_last_after_init()  # as rlgo's network
    model.learn(total_timesteps=512)  # warm-up
    counter = Counter()
    learn_s = _timed_train(model)
    model.learn(total_timesteps=10**9, callback=counter, reset_num_timesteps=False)
    elapsed = time.perf_counter() - counter.start
    return {"impl": "sb3-maskableppo", "board_size": board_size, "net": _net_name(net),
            "trunk_size": _size(model.policy.features_extractor.body.state_dict()),
            "env_steps_per_s": counter.moves / elapsed,
            "nn_evals_per_s": counter.calls / elapsed,
            **_learning(counter.moves, learn_s[0], elapsed)}


def _timed_train(model) -> list[float]:
    """Wrap ``model.train`` (SB3's gradient passes after each rollout) so that its
    seconds add up in the returned one-element list."""
    total = [0.0]
    train = model.train

    def timed() -> None:
        t0 = time.perf_counter()
        train()
        total[0] += time.perf_counter() - t0

    model.train = timed
    return total


def run_train_bench(agents: Sequence[str], board_size: int = 7, seconds: float = 30.0,
                    peer: bool = True, net: NetConfig | None = None,
                    peak_seconds: float = 1.0) -> list[Row]:
    """Rows of :func:`bench_learner` for each agent, each with the machine's peaks measured
    first (``peak_float32``, ``peak_bfloat16``: :func:`~rlgo.bench.flops.peaks`), then
    MaskablePPO's (``peer``), all with the network ``net`` (default: rlgo's default)."""
    peak = {f"peak_{name}": flops for name, flops in peaks(peak_seconds).items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for agent in agents:
            rows.append({**bench_learner(agent, board_size, seconds, Path(tmp), net), **peak})
    if peer:
        rows.append(bench_maskable_ppo(board_size, seconds, net))
    return rows


def _net_name(net: NetConfig) -> str:
    """``<blocks>x<channels>``, with ``/bfloat16`` when the network runs in it here."""
    name = f"{net.blocks}x{net.channels}"
    precision = effective_precision(net.precision, torch.device("cpu"))
    return name if precision == "float32" else f"{name}/{precision}"


def _size(tensors: dict[str, torch.Tensor]) -> int:
    """Numbers in a state dict (parameters and normalisation statistics)."""
    return int(sum(t.numel() for t in tensors.values()))


def parse_net(text: str) -> NetConfig:
    """``"<blocks>x<channels>"`` (e.g. ``"1x8"``) as a network config; ValueError else."""
    blocks, sep, channels = text.lower().partition("x")
    if not (sep and blocks.isdigit() and channels.isdigit()):
        raise ValueError(f"--net must read <blocks>x<channels>, e.g. 1x8, got {text!r}")
    return NetConfig(blocks=int(blocks), channels=int(channels))


def format_train_table(rows: Sequence[Row]) -> str:
    """A Markdown table with each row's env steps/s, and its ceiling (env steps per second
    of learning), as multiples of MaskablePPO's env steps/s, and the network FLOP/s of
    acting and of learning as shares of the bfloat16 peak measured in the same run."""
    peer = next((r for r in rows if r["impl"] == "sb3-maskableppo"), None)
    peak = next((r["peak_bfloat16"] for r in rows if r.get("peak_bfloat16")), 0.0)
    lines = []
    if peak:
        f32 = next(r["peak_float32"] for r in rows if r.get("peak_float32"))
        lines += [f"peak of this machine (2048x2048 matrix product): float32 "
                  f"{f32 / 1e9:,.0f} GFLOP/s, bfloat16 {peak / 1e9:,.0f} GFLOP/s; "
                  "'% peak' is of bfloat16's", ""]
    lines += ["| board | net | impl | env steps/s | nn evals/s | x MaskablePPO "
              "| learning share | ceiling (env steps per learning s) | ceiling x MaskablePPO "
              "| acting GFLOP/s | % peak | learning GFLOP/s | % peak |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def ratio(value: float) -> str:
        return f"{value / peer['env_steps_per_s']:.1f}x" if peer and peer[
            "env_steps_per_s"] else "-"

    def flops(row: Row, key: str) -> str:
        if key not in row:
            return "- | -"
        share = f"{utilisation(row[key], peak):.1%}" if peak else "-"
        return f"{row[key] / 1e9:,.1f} | {share}"

    for r in rows:
        n = r["board_size"]
        lines.append(f"| {n}x{n} | {r['net']} | {r['impl']} | {r['env_steps_per_s']:,.0f} | "
                     f"{r['nn_evals_per_s']:,.0f} | {ratio(r['env_steps_per_s'])} | "
                     f"{r['learn_share']:.0%} | {r['env_steps_per_learn_s']:,.0f} | "
                     f"{ratio(r['env_steps_per_learn_s'])} | {flops(r, 'act_flops_per_s')} | "
                     f"{flops(r, 'learn_flops_per_s')} |")
    return "\n".join(lines)
