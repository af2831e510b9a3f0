"""How the compiled engine behaves when another process occupies a core.

numba's parallel loops run on a thread pool; when the machine's cores are all busy, a pool
whose threads spin while they wait for each other loses most of its speed. Two ways to
measure it:

* ``rlgo bench env --contended``: the usual rows, idle, then again while a busy process
  (a pure-Python spin loop) occupies one core; the table gives the contended/idle ratio.
* ``rlgo bench contention``: the batched engine under each thread-pool setting (threading
  layer, OpenMP wait policy, thread count), each in a fresh process, idle and contended;
  this is how rlgo's defaults (:func:`rlgo.envs.threads.configure`) were chosen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

Row = dict[str, object]

SETTINGS: dict[str, dict[str, str]] = {
    "numba's default (spin ~300k)": {"NUMBA_THREADING_LAYER": "omp",
                                     "GOMP_SPINCOUNT": "300000"},
    "spin 10000": {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "10000"},
    "rlgo's default (spin 2000)": {"NUMBA_THREADING_LAYER": "omp"},
    "spin 1000": {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "1000"},
    "passive wait": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "PASSIVE"},
    "workqueue layer": {"NUMBA_THREADING_LAYER": "workqueue"},
    "one thread": {"NUMBA_NUM_THREADS": "1"},
}
"""Thread-pool settings compared by ``rlgo bench contention`` (environment variables)."""

_SPIN = "while True:\n    pass\n"


@contextmanager
def busy_core() -> Iterator[None]:
    """A process spinning on one core for the duration (pinned to core 0 where possible)."""
    proc = subprocess.Popen([sys.executable, "-c", _SPIN])
    try:
        if hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(proc.pid, {0})
            except OSError:
                pass
        yield
    finally:
        proc.kill()
        proc.wait()


def _measure_in_child(env: Mapping[str, str], board_size: int, seconds: float,
                      batch: int) -> float:
    """Moves/s of the batched engine in a fresh process with ``env`` added."""
    code = ("import json, sys\nfrom rlgo.bench.env import bench_batched\n"
            f"print(json.dumps(bench_batched({board_size}, {seconds}, {batch})))\n")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "NUMBA_NUM_THREADS",
                          "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, check=True,
                         capture_output=True, text=True, timeout=600)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run_contention_bench(board_size: int = 9, seconds: float = 3.0, batch: int = 512,
                         settings: Mapping[str, Mapping[str, str]] | None = None) -> list[Row]:
    """Rows ``{"setting", "idle", "contended", "ratio"}``: moves/s of the batched engine
    under each thread-pool setting, on an idle machine and with one core busy."""
    rows = []
    for name, env in (settings or SETTINGS).items():
        idle = _measure_in_child(env, board_size, seconds, batch)
        with busy_core():
            contended = _measure_in_child(env, board_size, seconds, batch)
        rows.append({"setting": name, "board_size": board_size, "idle": round(idle, 1),
                     "contended": round(contended, 1), "ratio": round(contended / idle, 3)})
    return rows


def format_contended_rows(rows: Sequence[Row]) -> str:
    """``rlgo bench env --contended``: each row idle and with one core busy."""
    lines = [f"{'board':>5}  {'impl':<17}{'idle steps/s':>14}{'one core busy':>15}{'ratio':>8}"]
    for r in rows:
        n = r["board_size"]
        lines.append(f"{n:>3}x{n:<2} {r['impl']:<17}{float(r['steps_per_s']):>14,.0f}"
                     f"{float(r['contended_steps_per_s']):>15,.0f}{float(r['ratio']):>8.2f}")
    lines.append("\ntarget (rlgo-batched): ratio >= 0.4 with one core busy")
    return "\n".join(lines)


def format_contention_table(rows: Sequence[Row]) -> str:
    lines = [f"{'setting':<38}{'idle moves/s':>14}{'one core busy':>15}{'ratio':>8}"]
    for r in rows:
        lines.append(f"{r['setting']:<38}{float(r['idle']):>14,.0f}"
                     f"{float(r['contended']):>15,.0f}{float(r['ratio']):>8.2f}")
    lines.append("\ntarget: ratio >= 0.4 with one core busy")
    return "\n".join(lines)
