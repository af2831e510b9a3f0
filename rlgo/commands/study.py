"""``rlgo study``: run a study and write its report (:mod:`rlgo.study`)."""

from __future__ import annotations

from typing import Annotated

import typer

from rlgo.commands.options import ALLOW_COMMANDS, group
from rlgo.errors import Interrupted

app = group("Comparative studies: several learners and seeds, one Elo scale, a league, "
            "tables and figures.")

STUDY_FILE = Annotated[str, typer.Argument(metavar="STUDY", help="Study file (TOML), "
                                           "e.g. studies/quickstart.toml.")]


@app.command("run")
def study_run(
    ctx: typer.Context,
    study: STUDY_FILE,
    workers: Annotated[int | None, typer.Option(
        help="Runs trained at once, one process each (default: the study's workers, "
        "else one per core).")] = None,
    progress: Annotated[bool, typer.Option(help="Show each run's progress.")] = True,
    backend: Annotated[str, typer.Option(
        help="local: worker processes on this machine; ray: Ray tasks on a cluster (needs "
        "the ray extra, a shared filesystem and a database server: [study] db).")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (ray://host:10001, or 'auto'); default: a local Ray "
        "instance.")] = None,
    allow_commands: ALLOW_COMMANDS = False,
) -> None:
    """Train every agent and seed of a study, play its league, and write its report.
    A rerun resumes: finished runs are skipped, the others continue from checkpoints."""
    from rlgo.study.report import summary_text
    from rlgo.study.runner import run_study

    try:
        debug = bool((ctx.obj or {}).get("debug"))  # rlgo --debug: the workers get it too
        config = run_study(study, workers, show=progress, backend=backend, address=address,
                           allow_commands=allow_commands, debug=debug,
                           say=lambda line: typer.echo(f"note: {line}", err=True))
    except KeyboardInterrupt as exc:
        raise Interrupted("rerun the same command to resume") from exc
    typer.echo(summary_text(config))


@app.command("report")
def study_report(study: STUDY_FILE) -> None:
    """Rewrite a study's tables and figures from its runs and match database."""
    from rlgo.study.config import load_study
    from rlgo.study.report import summary_text, write_report

    config = load_study(study, allow_commands=True)  # a report plays no game
    write_report(config)
    typer.echo(summary_text(config))
