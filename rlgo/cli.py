"""The ``rlgo`` command line. Entry points stay thin: each command parses its flags and
calls an importable function. Heavy imports (numba, torch) happen inside the commands so
that ``rlgo --help`` stays fast."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(
    help="rlgo: measure how reinforcement-learning algorithms learn Go.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(help="Speed benchmarks, side by side with peer implementations.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("env")
def bench_env(
    board_size: Annotated[list[int] | None, typer.Option("--board-size", "-n",
                                                  help="Board sizes to measure.")] = None,
    seconds: Annotated[float, typer.Option(help="Time spent measuring each row.")] = 3.0,
    batch: Annotated[int, typer.Option(help="Games stepped together by the batched engine.")] = 512,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Random-play steps/s of rlgo's batched engine and AEC env against PettingZoo's
    go_v5 and OpenSpiel, measured in the same run."""
    from rlgo.bench import format_env_table, run_env_bench

    if board_size is None:
        board_size = [9, 19]
    rows = run_env_bench(board_sizes=board_size or [9, 19], seconds=seconds, batch=batch)
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        typer.echo(format_env_table(rows))


@app.command()
def train(
    agent: Annotated[str, typer.Option(help="Learner: reinforce (mcts, ppo, replay to come).")],
    board_size: Annotated[int, typer.Option(help="Board side N (5..19).")] = 7,
    env_steps: Annotated[int, typer.Option(help="Budget in moves played, both colours.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of everything.")] = 0,
    out: Annotated[str, typer.Option(help="Run directory; an existing run resumes.")] = "",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override key=value; 'net.' and 'train.' prefixes for the "
        "network and harness, no prefix for the agent.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train an agent by self-play, rating it on the run's Elo ladder as it learns."""
    from rlgo.checkpoint import CheckpointError
    from rlgo.train import build_trainer

    out = out or f"runs/{agent}{board_size}-s{seed}"
    try:
        trainer = build_trainer(agent, board_size, env_steps, seed, out, set_ or [], progress)
        counters = trainer.fit()
    except (ValueError, CheckpointError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"done: {counters.env_steps} env steps, {counters.games} games, "
               f"{counters.wall_s:.0f} s; metrics in {out}/metrics.csv")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
