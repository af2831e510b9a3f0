"""Speed benchmarks measured side by side with the peers, in the same process and run.

Every row is random play (uniform over the legal actions, pass included) for a fixed
wall-clock time; games that end are restarted. Machines are noisy: only ratios between
rows of the same run mean anything.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import numpy as np

from rlgo.envs import GoEngine, Rules, go_v0

Row = dict[str, object]

#: Speed targets on the 2-core reference machine, 9x9.
TARGETS = {
    "rlgo-batched": "≥ 1,000,000 moves/s and ≥ 2.5x open_spiel",
    "rlgo-aec": "≥ 10x pettingzoo-go_v5",
}


def _timed(loop: Callable[[float], int], seconds: float) -> float:
    """Run ``loop(deadline)`` (which returns the steps it made) and return steps/s."""
    start = time.perf_counter()
    steps = loop(start + seconds)
    return steps / (time.perf_counter() - start)


def bench_batched(board_size: int, seconds: float, batch: int = 512, seed: int = 0) -> float:
    """Moves/s of :class:`~rlgo.envs.GoEngine` over ``batch`` games, action sampling
    and resets of finished games included."""

    eng = GoEngine(batch, Rules(board_size=board_size))
    rng = np.random.default_rng(seed)

    def loop(deadline: float) -> int:
        steps = 0
        while time.perf_counter() < deadline:
            for _ in range(20):
                done = eng.done
                if done.any():
                    eng.reset(done)
                eng.step(eng.random_actions(rng, allow_pass=True))
                steps += batch
        return steps

    loop(time.perf_counter() + 0.2)  # warm-up: load the compiled kernels
    return _timed(loop, seconds)


def _aec_loop(make_env: Callable[[], object], seed: int) -> Callable[[float], int]:
    """The PettingZoo user's loop: ``last()`` (observation included), a random legal
    action from the mask, ``step``."""
    pick = random.Random(seed)

    def loop(deadline: float) -> int:
        steps = 0
        env = make_env()
        while time.perf_counter() < deadline:
            env.reset(seed=pick.randrange(2**31))
            for _agent in env.agent_iter():
                obs, _, term, trunc, _ = env.last()
                if term or trunc:
                    action = None
                else:
                    legal = np.flatnonzero(obs["action_mask"])
                    action = int(legal[int(pick.random() * len(legal))])
                env.step(action)
                steps += 1
        return steps

    return loop


def bench_aec(board_size: int, seconds: float, seed: int = 0) -> float:
    """Steps/s of ``rlgo.envs.go_v0.env()`` in the standard AEC loop."""

    loop = _aec_loop(lambda: go_v0.env(board_size=board_size), seed)
    loop(time.perf_counter() + 0.2)
    return _timed(loop, seconds)


def bench_pettingzoo(board_size: int, seconds: float, seed: int = 0) -> float | None:
    """Steps/s of PettingZoo's ``go_v5`` in the same loop (None if not importable)."""
    try:
        from pettingzoo.classic import go_v5
    except ImportError:
        return None
    loop = _aec_loop(lambda: go_v5.env(board_size=board_size), seed)
    loop(time.perf_counter() + 0.2)
    return _timed(loop, seconds)


def bench_open_spiel(board_size: int, seconds: float, seed: int = 0) -> float | None:
    """Steps/s of OpenSpiel's C++ Go driven from Python: ``legal_actions()`` then
    ``apply_action()`` (None if ``open_spiel`` is not installed)."""
    try:
        import pyspiel
    except ImportError:
        return None
    game = pyspiel.load_game("go", {"board_size": board_size, "komi": 7.5})
    pick = random.Random(seed)

    def loop(deadline: float) -> int:
        steps = 0
        while time.perf_counter() < deadline:
            state = game.new_initial_state()
            while not state.is_terminal():
                legal = state.legal_actions()
                state.apply_action(legal[int(pick.random() * len(legal))])
                steps += 1
        return steps

    loop(time.perf_counter() + 0.2)
    return _timed(loop, seconds)


def run_env_bench(board_sizes: Sequence[int] = (9, 19), seconds: float = 3.0,
                  batch: int = 512, rounds: int = 3) -> list[Row]:
    """Rows ``{"impl", "board_size", "steps_per_s"}`` for every implementation found.

    Each implementation is measured ``rounds`` times for ``seconds / rounds``, the rounds
    interleaved (A B C D A B C D ...), and the median is reported: a burst of load from
    another process then hits every row alike instead of one row.
    """
    benches: dict[str, Callable[[int, float], float | None]] = {
        "rlgo-batched": lambda n, t: bench_batched(n, t, batch),
        "rlgo-aec": bench_aec,
        "pettingzoo-go_v5": bench_pettingzoo,
        "open_spiel": bench_open_spiel,
    }
    rows: list[Row] = []
    for n in board_sizes:
        measured: dict[str, list[float]] = {}
        for _ in range(rounds):
            for impl, bench in benches.items():
                v = bench(n, seconds / rounds)
                if v is not None:
                    measured.setdefault(impl, []).append(v)
        rows += [{"impl": impl, "board_size": n, "steps_per_s": round(float(np.median(v)), 1)}
                 for impl, v in measured.items()]
    return rows


def format_env_table(rows: list[Row]) -> str:
    """A side-by-side table with the ratios to go_v5 and OpenSpiel of the same run."""
    lines = [
        f"{'board':>5}  {'impl':<17}{'steps/s':>13}{'x go_v5':>10}{'x open_spiel':>14}",
    ]
    for n in sorted({r["board_size"] for r in rows}):
        same = {r["impl"]: float(r["steps_per_s"]) for r in rows if r["board_size"] == n}
        for impl, v in same.items():
            vs_pz = f"{v / same['pettingzoo-go_v5']:.1f}x" if "pettingzoo-go_v5" in same else "-"
            vs_os = f"{v / same['open_spiel']:.2f}x" if "open_spiel" in same else "-"
            lines.append(f"{n:>3}x{n:<2} {impl:<17}{v:>13,.0f}{vs_pz:>10}{vs_os:>14}")
    if any(r["board_size"] == 9 for r in rows):  # the targets are set on 9x9 only
        lines.append("")
        lines += [f"target ({impl}, 9x9): {t}" for impl, t in TARGETS.items()]
    return "\n".join(lines)
