"""``rlgo analyze``: measurements of how learners learn (:mod:`rlgo.analysis`)."""

from __future__ import annotations

from typing import Annotated

import typer

from rlgo.commands.options import group
from rlgo.errors import RlgoError

app = group("Measurements of how learners learn.")


@app.command("credit")
def analyze_credit(
    analysis: Annotated[str | None, typer.Argument(
        metavar="[ANALYSIS]", help="Analysis file (TOML, a [credit] table), e.g. "
        "studies/credit_7x7.toml; flags override it.")] = None,
    runs: Annotated[list[str] | None, typer.Option(
        "--run", help="Run directory (glob allowed); repeat for several.")] = None,
    judge: Annotated[str | None, typer.Option(
        help="Snapshot file of the judge's network (not one of the runs').")] = None,
    judge_simulations: Annotated[int | None, typer.Option(
        help="Judge's search simulations per child position.")] = None,
    points: Annotated[int | None, typer.Option(help="Snapshots per run.")] = None,
    games: Annotated[int | None, typer.Option(help="Self-play games per snapshot.")] = None,
    gnugo_positions: Annotated[int | None, typer.Option(
        help="Positions GNU Go cross-checks the judge on (0: none).")] = None,
    out: Annotated[str | None, typer.Option(help="Output folder.")] = None,
) -> None:
    """Credit assignment and information per sample, measured against a judge: per run
    and snapshot, the learner's per-move credit on its own self-play against the judge's
    advantage, gradient cosine and noise scale, bits per sample and per FLOP. Resumable
    (finished snapshots and judge values are kept)."""
    from rlgo.analysis.credit import CreditConfig, load_credit_config, run_analysis

    given = {"runs": tuple(runs) if runs else None, "judge": judge,
             "judge_simulations": judge_simulations, "points": points, "games": games,
             "gnugo_positions": gnugo_positions, "out": out}
    try:
        if analysis is not None:
            config = load_credit_config(analysis, **given)
        else:
            if not runs or judge is None:
                raise RlgoError("give an analysis file, or --run and --judge")
            config = CreditConfig(**{k: v for k, v in given.items() if v is not None})
        written = run_analysis(config, echo=typer.echo)
    except FileNotFoundError as exc:
        raise RlgoError(str(exc)) from exc
    import pandas as pd

    learners = pd.read_csv(written["learners"]).set_index("learner")
    typer.echo("\nper learner, mean over its runs and snapshots:")
    typer.echo(learners.T.to_string(float_format="%.4g"))
    if config.judge_note:
        typer.echo(f"\njudge: {config.judge} ({config.judge_note})")
    typer.echo("\n" + "\n".join(f"{k}: {v}" for k, v in written.items()))
