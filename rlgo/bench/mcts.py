"""How much of the network's speed the batched tree search keeps, measured side by side.

Two rows per board size, taken in the same run with the same default network
(``NetConfig()``) and the same batch:

* ``network``: bare ``PolicyValueNet.evaluate`` on ``batch`` positions per call;
* ``search``: :func:`rlgo.learning.search.run_search` over ``batch`` games at once,
  ``simulations`` per move, counting simulations per second (each one a leaf evaluated by
  the network in a batch of ``batch``, the tree work around it included; the roots'
  evaluations are extra work not counted).

The ratio search / network is the fraction of the network's throughput the search keeps:
the target is >= 0.75 on 9x9 (tree work and Python overhead <= 25%). Rounds are
interleaved and the median reported, so a burst of load from another process hits both
rows alike. Only ratios within one run mean anything.

Against the machine's limit: each row's network FLOP/s (evaluations per second times one
position's forward FLOPs, counted by torch on the network as built) and its share of the
bfloat16 peak of a large matrix product measured at the start of the run
(:mod:`rlgo.bench.flops`). ``precision`` runs the network as ``NetConfig.precision`` says
(bfloat16: its acting copy).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from rlgo.bench.flops import forward_flops, peaks, utilisation
from rlgo.envs import GoEngine, Rules
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.learning.search import SearchConfig, Workspace, run_search

Row = dict[str, object]

TARGET = 0.75
"""search / network evaluations per second on 9x9."""


def _positions(board_size: int, batch: int, seed: int):
    """``batch`` games of random play, 2 * N moves in (early middle game)."""

    eng = GoEngine(batch, Rules(board_size=board_size))
    rng = np.random.default_rng(seed)
    for _ in range(2 * board_size):
        eng.step(np.where(eng.done, -1, eng.random_actions(rng)))
    return eng


def bench_network(net, eng, seconds: float) -> float:
    """Positions/s of bare ``net.evaluate`` on the engine's observations."""
    obs, mask = eng.observations(), eng.legal.copy()
    net.evaluate(obs, mask)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        net.evaluate(obs, mask)
        done += len(obs)
    return done / (time.perf_counter() - start)


def bench_search(net, eng, simulations: int, seconds: float, gumbel: bool = False) -> float:
    """Simulations/s of :func:`run_search` over all the engine's games (one move's
    search repeated; noise on, as in self-play)."""

    games = np.arange(eng.num_games)
    config = SearchConfig(gumbel=gumbel)
    rng = np.random.default_rng(0)
    work = Workspace()  # as a player keeps it from move to move
    run_search(eng, games, net.evaluate, config, simulations, noise=True, rng=rng,
               workspace=work)  # compile and warm up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = run_search(eng, games, net.evaluate, config, simulations, noise=True, rng=rng,
                         workspace=work)
        done += int(out.visit_counts.sum())
    return done / (time.perf_counter() - start)


def run_mcts_bench(board_sizes: Sequence[int] = (9,), simulations: int = 64, batch: int = 64,
                   seconds: float = 6.0, rounds: int = 3, gumbel: bool = False,
                   threads: int = 0, precision: str = "float32",
                   peak_seconds: float = 1.0) -> list[Row]:
    """Rows ``{"impl": "search" | "network", "board_size", "evals_per_s", "batch",
    "simulations", "precision", "flops_per_s", "peak_float32", "peak_bfloat16"}``: the
    median over ``rounds`` interleaved rounds of ``seconds / rounds / 2`` each.
    ``threads`` > 0 sets torch's intra-op threads."""
    if threads > 0:
        torch.set_num_threads(threads)
    peak = {f"peak_{name}": flops for name, flops in peaks(peak_seconds).items()}
    rows: list[Row] = []
    for n in board_sizes:
        torch.manual_seed(0)
        net = PolicyValueNet(n, NetConfig(precision=precision)).eval()
        per_eval = forward_flops(net, n)
        eng = _positions(n, batch, seed=n)
        measured: dict[str, list[float]] = {"search": [], "network": []}
        per = seconds / rounds / 2
        for _ in range(rounds):
            measured["search"].append(bench_search(net, eng, simulations, per, gumbel))
            measured["network"].append(bench_network(net, eng, per))
        for impl, values in measured.items():
            rate = float(np.median(values))
            rows.append({"impl": impl, "board_size": n, "evals_per_s": round(rate, 1),
                         "batch": batch, "simulations": simulations if impl == "search" else 0,
                         "precision": precision, "flops_per_s": rate * per_eval, **peak})
    return rows


def format_mcts_table(rows: list[Row]) -> str:
    """The two rows of each size side by side, with search / network, and each row's
    network GFLOP/s as a share of the bfloat16 peak (after a line giving the peaks)."""
    peak = next((r["peak_bfloat16"] for r in rows if r.get("peak_bfloat16")), 0.0)
    lines = []
    if peak:
        f32 = next(r["peak_float32"] for r in rows if r.get("peak_float32"))
        lines += [f"peak (2048x2048 matrix product): float32 {f32 / 1e9:,.0f} GFLOP/s, "
                  f"bfloat16 {peak / 1e9:,.0f} GFLOP/s", ""]
    lines.append(f"{'board':>5}  {'impl':<9}{'batch':>7}{'sims':>6}{'evals/s':>12}"
                 f"{'x network':>11}{'GFLOP/s':>10}{'% bf16 peak':>13}")
    for n in sorted({r["board_size"] for r in rows}):
        same = {r["impl"]: r for r in rows if r["board_size"] == n}
        base = float(same["network"]["evals_per_s"]) if "network" in same else None
        for impl, r in same.items():
            v = float(r["evals_per_s"])
            ratio = f"{v / base:.2f}x" if base else "-"
            sims = r.get("simulations") or "-"
            flops = r.get("flops_per_s")
            gflops = f"{flops / 1e9:,.1f}" if flops is not None else "-"
            share = f"{utilisation(flops, peak):.1%}" if flops is not None and peak else "-"
            lines.append(f"{n:>3}x{n:<2} {impl:<9}{r.get('batch', '-'):>7}{sims:>6}"
                         f"{v:>12,.0f}{ratio:>11}{gflops:>10}{share:>13}")
    if any(r["board_size"] == 9 for r in rows):  # the target is set on 9x9 only
        lines.append("")
        lines.append(f"target (9x9): search >= {TARGET:.2f}x network (overhead <= "
                     f"{1 - TARGET:.0%})")
    return "\n".join(lines)
