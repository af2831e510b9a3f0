"""``rlgo tune``: tune one learner with Optuna, or retrain a trial on new seeds
(:mod:`rlgo.tuning`)."""

from __future__ import annotations

from typing import Annotated

import typer

from rlgo.commands.options import ALLOW_COMMANDS
from rlgo.errors import Interrupted, RlgoError


def tune(
    tuning: Annotated[str, typer.Argument(
        metavar="FILE", help="Tuning file (TOML), e.g. studies/tune_ppo_5x5.toml.")],
    workers: Annotated[int, typer.Option(
        help="Processes running trials at once, each with cores // workers threads; 1 runs "
        "them in this process.")] = 1,
    report_only: Annotated[bool, typer.Option(
        "--report-only", help="Run no trial: rewrite trials.csv, figures/ and best.toml "
        "from the stored study.")] = False,
    retrain: Annotated[int | None, typer.Option(
        metavar="N", help="Run no tuning: train stored trial N's config again on --seeds "
        "(in <out>/retrain/, table <out>/retrain/trialN.csv).")] = None,
    seeds: Annotated[str, typer.Option(
        help="With --retrain: comma-separated seeds, none of the tuning's own.")] = "",
    allow_commands: ALLOW_COMMANDS = False,
) -> None:
    """Tune one learner's hyper-parameters with Optuna: each trial trains one run per seed
    of the file's seeds_per_trial, all rated on one Elo scale. A rerun resumes up to the
    file's `trials`. Writes trials.csv, figures/ and best.toml (for rlgo train --config,
    or a study's agent config). With --retrain N: trial N's config on new seeds."""
    from rlgo.tuning import retrain as retrain_trial
    from rlgo.tuning import tune_main

    if retrain is not None:
        try:
            seed_list = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError as exc:
            raise RlgoError(f"--seeds must be comma-separated integers, got {seeds!r}"
                            ) from exc
        try:
            _, line = retrain_trial(tuning, retrain, seed_list, allow_commands=allow_commands,
                                    echo=typer.echo)
        except KeyboardInterrupt as exc:
            raise Interrupted("rerun the same command to go on") from exc
        typer.echo(line)
        return
    if seeds:
        raise RlgoError("--seeds goes with --retrain N")
    try:  # a failed worker (TuneError) is reported after the report is written
        summary = tune_main(tuning, workers, report_only, echo=typer.echo,
                            allow_commands=allow_commands,
                            say=lambda line: typer.echo(f"note: {line}", err=True))
    except KeyboardInterrupt as exc:  # running trials end FAIL ("interrupted")
        raise Interrupted("rerun the same command to go on") from exc
    typer.echo(summary)
