"""Command-line pieces every command module shares (:mod:`rlgo.cli` joins the modules):
plain help texts, and the options several commands take alike."""

from __future__ import annotations

from typing import Annotated

import typer

PLAIN = None
"""Help texts are shown as written: no rich markup, which would swallow a TOML table name
such as ``[train]`` as a style tag."""


def group(help: str) -> typer.Typer:
    """A group of subcommands (``rlgo bench``, ``rlgo ladder``...)."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=PLAIN)


ALLOW_COMMANDS = Annotated[bool, typer.Option(
    "--allow-commands", help="Let anchors read from a file (a reference table, a study's "
    "ladder, a config's eval.ladder) run the programs they name (gtp:<command "
    "line>). Without it such a file is refused: a shared file is data, not code.")]

DB_HELP = "Match database: an SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...)."
AGENT_MODULES = Annotated[list[str] | None, typer.Option(
    "--agent-module", metavar="MODULE", help="A third-party learner, package.module:make as "
    "given to rlgo train --agent, whose snapshots may be played here: rlgo imports a module "
    "only when it is named on the command line, never because a snapshot file names it. "
    "Repeat for several.")]
