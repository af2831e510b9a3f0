"""The ``rlgo`` command line. Entry points stay thin: each command parses its flags and
calls an importable function. Heavy imports (numba, torch) happen inside the commands so
that ``rlgo --help`` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer
import typer.core

from rlgo.commands.options import ALLOW_COMMANDS, PLAIN
from rlgo.errors import Interrupted, RlgoError, WorkFailed


class _Commands(typer.core.TyperGroup):
    """The root command group: the one place where a user-facing error ends a command.
    An :class:`~rlgo.errors.RlgoError` or a ``ValueError`` (bad input) is printed as
    ``error: <message>`` with its exit status (:mod:`rlgo.errors`), Ctrl-C as
    ``interrupted`` with 130. An error raised inside a third-party learner's code goes on
    to :func:`main`, which names that code."""

    def invoke(self, ctx: typer.Context):
        from rlgo.registry import third_party_frame

        try:
            return super().invoke(ctx)
        except (RlgoError, ValueError) as exc:
            if third_party_frame(exc) is not None:
                raise
            code = exc.exit_code if isinstance(exc, RlgoError) else 2
            label = exc.label if isinstance(exc, RlgoError) else "error"
            typer.echo(f"{label}: {exc}", err=True)
            raise typer.Exit(code) from exc
        except KeyboardInterrupt as exc:
            typer.echo("interrupted", err=True)
            raise typer.Exit(Interrupted.exit_code) from exc


app = typer.Typer(
    cls=_Commands,
    help="rlgo: measure how reinforcement-learning algorithms learn Go.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=PLAIN,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the Python traceback of an unexpected error (a study's "
        "workers too).")] = False,
) -> None:
    """Options of every command (read by :func:`main`; ``rlgo study run`` passes
    ``--debug`` on to its workers)."""
    ctx.obj = {"debug": debug}


def _register() -> None:
    """The command groups and commands of :mod:`rlgo.commands`."""
    from rlgo.commands import analyze as analysis_cli
    from rlgo.commands import bench as bench_cli
    from rlgo.commands import evaluation as evaluation_cli
    from rlgo.commands import gtp as gtp_cli
    from rlgo.commands import study as study_cli
    from rlgo.commands import tune as tuning_cli

    app.add_typer(bench_cli.app, name="bench")
    app.add_typer(evaluation_cli.ladder_app, name="ladder")
    app.add_typer(study_cli.app, name="study")
    app.add_typer(analysis_cli.app, name="analyze")
    for command in (evaluation_cli.arena, evaluation_cli.elo, gtp_cli.gtp, tuning_cli.tune):
        app.command()(command)


def _agents_help() -> str:
    from rlgo.registry import registered

    return (f"Learner: one of {', '.join(registered())} (`rlgo agents` describes them), or "
            "a third-party package.module:make.")


@app.command()
def agents() -> None:
    """List the registered agents (built-in learners and the rlgo.agents entry points)
    with their config fields, as `--set` takes them."""
    import dataclasses

    from rlgo.registry import get_learner, registered

    for name in registered():
        entry = get_learner(name)
        doc = (entry.config_class.__doc__ or "").strip().splitlines()[0]
        typer.echo(f"{name}: {doc}")
        for f in dataclasses.fields(entry.config_class):
            typer.echo(f"    {f.name} = {getattr(entry.default_config(), f.name)!r}")


@app.command()
def train(
    learner: Annotated[str | None, typer.Option("--learner", "--agent", help=_agents_help())
                       ] = None,
    board_size: Annotated[int | None, typer.Option(help="Board side N (5..19); default 7.")
                          ] = None,
    env_steps: Annotated[int | None, typer.Option(
        help="Budget in moves played, both colours; default 200000. Learners learn from "
        "finished games, so a run stops at the end of the iteration that reaches it "
        "(train.games_per_iteration games, default 64): it passes the budget by less than "
        "one iteration, and says where it stopped.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of everything; default 0.")] = None,
    out: Annotated[str, typer.Option(help="Run directory; an existing run resumes.")] = "",
    config: Annotated[str | None, typer.Option(
        help="Config file with [train], [eval], [learner] and [net] tables (a run's "
        "config.toml, or the best trial `rlgo tune` exports); the flags and --set override "
        "it.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override key=value; 'net.', 'train.' and 'eval.' prefixes for "
        "the network, harness and evaluation, no prefix for the learner. A list is a TOML "
        "array or comma-separated: eval.ladder='[\"random\", \"rollout:8\"]' or "
        "eval.ladder=random,rollout:8.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    allow_commands: ALLOW_COMMANDS = False,
) -> None:
    """Train a learner by self-play, rating it on the run's Elo ladder as it learns."""
    from rlgo.registry import third_party_frame
    from rlgo.training import build_trainer
    from rlgo.training.loop import stopped_at

    trainer = None
    try:
        trainer = build_trainer(learner, board_size, env_steps, seed, out, set_ or [],
                                progress, config=config, allow_commands=allow_commands,
                                say=typer.echo)
        counters = trainer.fit()
    except ValueError as exc:
        if trainer is None:  # bad input, even where a third-party learner's config said so
            raise RlgoError(str(exc)) from exc
        raise
    except OSError as exc:  # a full disk: what was written whole is kept
        if trainer is not None and third_party_frame(exc) is not None:
            raise  # a third-party learner failed while training: main() names it
        raise WorkFailed(f"{exc}; the run stopped at its last checkpoint: rerun the same "
                         "command to resume once there is room") from exc
    typer.echo(f"done: {stopped_at(counters, trainer.cfg)}; {counters.games:,} games, "
               f"{counters.wall_s:.0f} s; metrics in {trainer.run.path}/metrics.csv")


@app.command()
def plot(
    runs: Annotated[list[str], typer.Argument(metavar="RUN", help="Run directories.")],
    x: Annotated[str, typer.Option(help="Counter on the x-axis: env_steps, games, nn_evals, "
                                        "train_samples or wall_s.")] = "env_steps",
    out: Annotated[str, typer.Option(
        help="Image file to write; default elo_<x>.png in the run's folder (several runs: "
        "in the folder that holds them all).")] = "",
    db: Annotated[str | None, typer.Option(
        help="Match database the runs shared: draw every snapshot on its final Elo scale "
        "(refitted over all its games) instead of the Elo logged during training.")] = None,
) -> None:
    """Plot the Elo curves of runs against a counter (seaborn)."""
    from rlgo.study.plots import plot_elo

    try:
        path = plot_elo(runs, x=x, out=out or None, db=db)
    except FileNotFoundError as exc:
        raise RlgoError(str(exc)) from exc
    typer.echo(f"wrote {path}")


_register()


def main() -> None:
    """The console entry point. Bad input ends with ``error: ...`` and exit status 2, and
    the other errors a user can act on as :mod:`rlgo.errors` says, all in one place (the
    root group, ``_Commands``). An exception raised inside a third-party learner's code is that
    learner's: its module is named, with the traceback, and exit status 1. Anything else
    that escapes is a bug in rlgo: reported in one line with exit status 70, the
    traceback only with ``--debug``."""
    import sys
    import traceback

    from rlgo.registry import third_party_frame

    try:
        app()
    except Exception as exc:
        if "--debug" in sys.argv[1:]:
            raise
        source = third_party_frame(exc)
        if source is not None:
            typer.echo(f"error: the learner's code at {source} raised {type(exc).__name__}: "
                       f"{exc}\n(not rlgo's code: report it to that learner's authors; its "
                       "traceback follows)", err=True)
            traceback.print_exception(exc, file=sys.stderr)
            raise SystemExit(1) from None
        typer.echo(f"internal error: {type(exc).__name__}: {exc}\n(a bug in rlgo; rerun with "
                   "--debug before the command for the traceback, and report it)", err=True)
        raise SystemExit(70) from None


if __name__ == "__main__":  # pragma: no cover
    main()
