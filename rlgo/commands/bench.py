"""``rlgo bench``: speed benchmarks, each beside its peers measured in the same run
(:mod:`rlgo.bench`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rlgo.commands.options import group

app = group("Speed benchmarks, side by side with peer implementations.")


@app.command("env")
def bench_env(
    board_size: Annotated[list[int] | None, typer.Option("--board-size", "-n",
                                                  help="Board sizes to measure.")] = None,
    seconds: Annotated[float, typer.Option(help="Time spent measuring each row.")] = 3.0,
    batch: Annotated[int, typer.Option(help="Games stepped together by the batched engine.")] = 512,
    contended: Annotated[bool, typer.Option(
        "--contended", help="Measure every row twice: idle, then while a busy process "
        "occupies one core; prints the contended/idle ratios.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Random-play steps/s of rlgo's batched engine and AEC env against PettingZoo's
    go_v5 and OpenSpiel, measured in the same run."""
    from rlgo.bench.env import format_env_table, run_env_bench

    if board_size is None:
        board_size = [9, 19]
    rows = run_env_bench(board_sizes=board_size or [9, 19], seconds=seconds, batch=batch)
    if contended:
        from rlgo.bench.contention import busy_core, format_contended_rows

        with busy_core():
            busy = run_env_bench(board_sizes=board_size, seconds=seconds, batch=batch)
        rows = [{**r, "contended_steps_per_s": b["steps_per_s"],
                 "ratio": round(float(b["steps_per_s"]) / float(r["steps_per_s"]), 3)}
                for r, b in zip(rows, busy, strict=True)]
        typer.echo(json.dumps(rows) if as_json else format_contended_rows(rows))
        return
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        typer.echo(format_env_table(rows))


@app.command("contention")
def bench_contention(
    board_size: Annotated[int, typer.Option("--board-size", "-n", help="Board size.")] = 9,
    seconds: Annotated[float, typer.Option(help="Time measured per row and condition.")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """The batched engine under each thread-pool setting (OpenMP wait policy and spin
    count, numba's threading layer, one thread), each in a fresh process, idle and with
    one core busy: how rlgo's default was chosen (rlgo.envs.threads)."""
    from rlgo.bench.contention import format_contention_table, run_contention_bench

    rows = run_contention_bench(board_size, seconds)
    typer.echo(json.dumps(rows) if as_json else format_contention_table(rows))


@app.command("mcts")
def bench_mcts(
    board_size: Annotated[list[int] | None, typer.Option("--board-size", "-n",
                                                         help="Board sizes to measure.")] = None,
    simulations: Annotated[int, typer.Option(help="Simulations per move.")] = 64,
    batch: Annotated[int, typer.Option(help="Games searched at once (the network's batch).")] = 64,
    seconds: Annotated[float, typer.Option(help="Time spent measuring each board size.")] = 6.0,
    gumbel: Annotated[bool, typer.Option(help="Gumbel root instead of PUCT.")] = False,
    precision: Annotated[str, typer.Option(
        help="The network's arithmetic: float32, bfloat16 or auto (NetConfig.precision).")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Tree-search simulations/s against the bare network's evaluations/s at the same
    batch, default network, measured in the same run (target on 9x9: >= 0.75x), with each
    row's network FLOP/s as a share of this machine's bfloat16 peak."""
    from rlgo.bench.mcts import format_mcts_table, run_mcts_bench
    from rlgo.learning.network import PRECISION_CHOICES

    if precision not in PRECISION_CHOICES:
        raise ValueError(f"--precision must be one of {', '.join(PRECISION_CHOICES)}, got "
                         f"{precision!r}")
    rows = run_mcts_bench(board_sizes=board_size or [9], simulations=simulations, batch=batch,
                          seconds=seconds, gumbel=gumbel, precision=precision)
    typer.echo(json.dumps(rows) if as_json else format_mcts_table(rows))


@app.command("net")
def bench_net(
    board_size: Annotated[list[int] | None, typer.Option("--board-size", "-n",
                                                         help="Board sizes to measure.")] = None,
    batch: Annotated[int, typer.Option(help="Positions per call.")] = 256,
    seconds: Annotated[float, typer.Option(help="Time spent measuring each board size.")
                       ] = 12.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """The default network alone: positions/s and FLOP/s of acting (float32, bfloat16
    autocast, the bfloat16 acting copy) and of a learning step (float32, bfloat16
    autocast), as shares of this machine's bfloat16 peak, measured first."""
    from rlgo.bench.net import format_net_table, run_net_bench

    rows = run_net_bench(board_sizes=board_size or [9], batch=batch, seconds=seconds)
    typer.echo(json.dumps(rows) if as_json else format_net_table(rows))


@app.command("train")
def bench_train(
    learner: Annotated[list[str] | None, typer.Option(
        "--learner", "--agent", help="Learners to measure (default: every registered one).")
                       ] = None,
    board_size: Annotated[int, typer.Option("--board-size", "-n", help="Board side N.")] = 7,
    seconds: Annotated[float, typer.Option(help="Time measured per row, after a warm-up.")
                       ] = 30.0,
    peer: Annotated[bool, typer.Option(help="Also measure sb3-contrib's MaskablePPO.")] = True,
    net: Annotated[str, typer.Option(
        help="Network of every row, <blocks>x<channels> (default: rlgo's, 4x32).")] = "",
    precision: Annotated[str, typer.Option(
        help="Arithmetic of every row's network: float32, bfloat16 or auto "
        "(NetConfig.precision)."
    )] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Env steps/s and network evaluations/s of self-play plus learning for each learner
    (default configs), beside sb3-contrib's MaskablePPO on rlgo/Go-v0 in the same run, and
    each learner's network FLOP/s in acting and in learning as shares of this machine's
    bfloat16 peak, measured first."""
    import dataclasses

    from rlgo.bench.train import format_train_table, parse_net, run_train_bench
    from rlgo.learning.network import NetConfig
    from rlgo.registry import registered

    config = dataclasses.replace(parse_net(net) if net else NetConfig(), precision=precision)
    rows = run_train_bench(learner or registered(), board_size, seconds, peer, config)
    typer.echo(json.dumps(rows) if as_json else format_train_table(rows))
