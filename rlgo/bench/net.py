"""The network alone, against the machine's limit: positions per second and FLOP/s of the
default policy-value network (:class:`~rlgo.learning.network.PolicyValueNet`) in each way
rlgo can run it, at one batch size, as shares of the peaks measured in the same run.

Acting (inference in eval mode, no gradient):

* ``float32``: the network as it learns in float32;
* ``bfloat16 autocast``: a bfloat16 network's own forward pass, torch's autocast casting
  weights and activations on every call (how rlgo acted in bfloat16 until 2026-12-03);
* ``bfloat16 acting copy``: what :meth:`PolicyValueNet.evaluate` runs for a bfloat16
  network, BatchNorm folded into the convolutions and weights held in bfloat16.

Learning (train mode): one gradient step of a cross-entropy policy loss and a squared
value loss with Adam, in ``float32`` and under ``bfloat16 autocast`` (float32 weights and
optimiser state); positions per second are trained samples per second.

FLOPs are counted by torch on the network as built (:func:`rlgo.bench.flops.count_flops`).
Each row is the median of ``rounds`` interleaved timings. Measure on a quiet machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from rlgo.bench.flops import count_flops, peaks, utilisation
from rlgo.envs.engine import NUM_PLANES
from rlgo.learning.network import NetConfig, PolicyValueNet, adamw, bfloat16_supported

Row = dict[str, object]


def _rate(step: Callable[[], object], batch: int, seconds: float) -> float:
    """Positions per second of ``step`` (``batch`` positions each) over about
    ``seconds``, after one warm-up call."""
    step()
    done, start = 0, time.perf_counter()
    while True:
        step()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def _steps(board_size: int, batch: int) -> dict[tuple[str, str], Callable[[], object]]:
    """The measured calls by (kind, path), on one random batch of positions."""
    torch.manual_seed(0)
    f32 = PolicyValueNet(board_size, NetConfig(precision="float32"))
    bf16 = PolicyValueNet(board_size, NetConfig(precision="bfloat16"))
    bf16.load_state_dict(f32.state_dict())
    obs = torch.randint(0, 2, (batch, NUM_PLANES, board_size, board_size), dtype=torch.uint8)
    target = torch.randint(0, board_size**2 + 1, (batch,))
    outcome = torch.rand(batch) * 2 - 1

    def act(module: torch.nn.Module) -> Callable[[], object]:
        def step() -> object:
            with torch.no_grad():
                return module(obs)
        return step

    def learn(net: PolicyValueNet) -> Callable[[], object]:
        learner = PolicyValueNet(board_size, net.config)
        learner.load_state_dict(net.state_dict())
        learner.train()
        opt = adamw(learner.parameters(), 1e-3, 0.0)  # the learners' optimiser

        def step() -> None:
            logits, value = learner(obs)
            loss = F.cross_entropy(logits, target) + F.mse_loss(value, outcome)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    f32.eval()
    bf16.eval()
    steps = {("act", "float32"): act(f32), ("learn", "float32"): learn(f32)}
    if bfloat16_supported(torch.device("cpu")):
        steps[("act", "bfloat16 autocast")] = act(bf16)
        steps[("act", "bfloat16 acting copy")] = act(bf16._acting())
        steps[("learn", "bfloat16 autocast")] = learn(bf16)
    return steps


def run_net_bench(board_sizes: Sequence[int] = (9,), batch: int = 256, seconds: float = 6.0,
                  rounds: int = 3, peak_seconds: float = 1.0) -> list[Row]:
    """Rows ``{"kind": "act" | "learn", "path", "board_size", "batch", "positions_per_s",
    "flops_per_s", "peak_float32", "peak_bfloat16"}``, the bfloat16 paths only where the
    CPU has bfloat16 matrix instructions."""
    peak = {f"peak_{name}": flops for name, flops in peaks(peak_seconds).items()}
    rows: list[Row] = []
    for n in board_sizes:
        steps = _steps(n, batch)
        per_position = {key: count_flops(step) / batch for key, step in steps.items()}
        measured: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
        for _ in range(rounds):
            for key, step in steps.items():
                measured[key].append(_rate(step, batch, seconds / rounds / len(steps)))
        for (kind, path), values in measured.items():
            rate = float(np.median(values))
            rows.append({"kind": kind, "path": path, "board_size": n, "batch": batch,
                         "positions_per_s": rate,
                         "flops_per_s": rate * per_position[(kind, path)], **peak})
    return rows


def format_net_table(rows: list[Row]) -> str:
    """One line per row, with the bfloat16 peak's share and the speed-up over float32."""
    peak = float(rows[0]["peak_bfloat16"]) if rows else 0.0
    lines = []
    if rows:
        lines += [f"peak (2048x2048 matrix product): float32 "
                  f"{float(rows[0]['peak_float32']) / 1e9:,.0f} GFLOP/s, bfloat16 "
                  f"{peak / 1e9:,.0f} GFLOP/s", ""]
    lines.append(f"{'board':>5}  {'kind':<6}{'path':<23}{'batch':>6}{'positions/s':>13}"
                 f"{'x float32':>10}{'GFLOP/s':>9}{'% bf16 peak':>13}")
    for r in rows:
        base = next(float(b["positions_per_s"]) for b in rows if b["kind"] == r["kind"]
                    and b["board_size"] == r["board_size"] and b["path"] == "float32")
        n, rate, flops = r["board_size"], float(r["positions_per_s"]), float(r["flops_per_s"])
        lines.append(f"{n:>3}x{n:<2} {r['kind']:<6}{r['path']:<23}{r['batch']:>6}"
                     f"{rate:>13,.0f}{rate / base:>9.2f}x{flops / 1e9:>9,.0f}"
                     f"{utilisation(flops, peak):>13.1%}")
    return "\n".join(lines)
