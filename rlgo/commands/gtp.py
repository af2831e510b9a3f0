"""``rlgo gtp``: a snapshot as a GTP engine on stdin/stdout (:mod:`rlgo.gtp`)."""

from __future__ import annotations

from typing import Annotated

import typer

from rlgo.commands.options import AGENT_MODULES


def gtp(
    player: Annotated[str, typer.Argument(
        metavar="CHECKPOINT", help="A snapshot or checkpoint, optionally followed by "
        ":greedy (the default), :sample or :search=<n> (n simulations of tree search per "
        "move, scaled down when the clock runs short); any other player spec of "
        "`rlgo arena` works too.")],
    resign_below: Annotated[float | None, typer.Option(
        help="Resign when the player's value estimate gives a win probability below this "
        "(e.g. 0.05); default: never resign.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the player's random choices.")] = 0,
    name: Annotated[str, typer.Option(help="What `name` answers.")] = "rlgo",
    agent_module: AGENT_MODULES = None,
) -> None:
    """Play as a GTP (Go Text Protocol, version 2) engine on stdin/stdout, for GoGui,
    Sabaki or a referee: e.g. `rlgo gtp runs/mcts/snapshots/100000.pt:search=64`.
    Diagnostics go to stderr. See rlgo.gtp.engine for the choices made where GTP leaves
    room (moves out of turn, play after two passes, clean-up, the clock)."""
    import importlib.metadata
    import sys

    from rlgo.envs import Rules
    from rlgo.envs.engine import MAX_SIZE, MIN_SIZE
    from rlgo.evaluation.players import checkpoint_rules, make_player
    from rlgo.gtp.engine import GTPServer, serve

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    trained = checkpoint_rules(player)
    sizes = [trained.board_size] if trained else range(MIN_SIZE, MAX_SIZE + 1)
    rules = trained or Rules(board_size=9)
    server = GTPServer(lambda r: make_player(player, r, seed=seed, agents=agent_module or ()),
                       rules, board_sizes=sizes, name=name,
                       version=f"{importlib.metadata.version('rlgo')} ({player})",
                       resign_below=resign_below, log=log)
    server.player  # noqa: B018 - a bad spec fails here, before any command
    try:
        serve(server)
    finally:
        server.close()
