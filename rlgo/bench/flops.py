"""Floating-point work against the machine's limit.

* :func:`peak_flops`: what this machine's matrix units reach on a large square matrix
  product (``2 * size**3`` FLOPs each) in a given dtype, with torch's current threads: the
  ceiling that model FLOP utilisation is measured against. On a CPU with AMX (``amx_bf16``
  in ``lscpu``) bfloat16's peak is several times float32's.
* :func:`count_flops`: the FLOPs that torch itself counts while a function runs
  (``torch.utils.flop_counter``: convolutions, matrix products and their backward passes,
  2 per multiply-add; element-wise work such as normalisation and activations is not
  counted, so utilisation is if anything understated). Counted on the network as built,
  never assumed from its config.
* :func:`forward_flops`: one position's forward pass of a policy-value network.

Only figures taken in the same run are compared; measure on a quiet machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from rlgo.envs.engine import NUM_PLANES

#: The dtypes whose peak the benchmarks report, by name.
PEAK_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def peak_flops(dtype: torch.dtype, size: int = 2048, seconds: float = 1.0) -> float:
    """FLOP/s of ``size`` x ``size`` matrix products in ``dtype`` on the CPU: the best of
    repeated timings over about ``seconds`` (after one warm-up product)."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best, start = float("inf"), time.perf_counter()
    while True:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start >= seconds:
            break
    return 2 * size**3 / best


def peaks(seconds: float = 1.0) -> dict[str, float]:
    """:func:`peak_flops` for each dtype of :data:`PEAK_DTYPES`, by name."""
    return {name: peak_flops(dtype, seconds=seconds) for name, dtype in PEAK_DTYPES.items()}


def count_flops(fn: Callable[[], object]) -> int:
    """The FLOPs torch counts while ``fn()`` runs (its result is discarded)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@torch.no_grad()
def forward_flops(net: torch.nn.Module, board_size: int) -> int:
    """FLOPs of one position's forward pass (policy and value) of ``net``, counted on a
    batch of one in eval mode; the network's mode is restored."""
    was_training = net.training
    net.eval()
    try:
        obs = torch.zeros(1, NUM_PLANES, board_size, board_size)
        return count_flops(lambda: net(obs))
    finally:
        net.train(was_training)


def utilisation(flops_per_s: float, peak: float) -> float:
    """Achieved over peak FLOP/s (0 when the peak is unknown)."""
    return flops_per_s / peak if peak > 0 else 0.0
