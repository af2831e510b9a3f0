"""``rlgo arena``, ``rlgo elo`` and ``rlgo ladder``: games between players, the Elo of a
match database, and a fixed scale per board (:mod:`rlgo.evaluation`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from rlgo.commands.options import AGENT_MODULES, ALLOW_COMMANDS, DB_HELP, group
from rlgo.errors import Interrupted, RlgoError

ladder_app = group("A fixed Elo scale per board: calibrate anchors, rate players adaptively "
                   "against them.")


def arena(
    player_a: Annotated[str, typer.Argument(
        metavar="PLAYER", help="First player: Black in the even-numbered games, so it gets "
        "the extra Black game when --games is odd.")],
    player_b: Annotated[str, typer.Argument(metavar="PLAYER", help="Second player.")],
    games: Annotated[int, typer.Option(help="Games to play, colours alternating exactly.")] = 100,
    board_size: Annotated[int, typer.Option("--board-size", "-n",
                                            help="Board side N (5..19).")] = 9,
    komi: Annotated[float | None, typer.Option(
        help="Komi; default rlgo's for the size (24.5 on 5x5, 8.5 on 7x7, else 7.5).")] = None,
    db: Annotated[str, typer.Option(help=DB_HELP)] = "sqlite:///runs/matches.sqlite",
    seed: Annotated[int, typer.Option(help="Seed of the players' random choices and of "
                                           "the openings.")] = 0,
    opening_moves: Annotated[int, typer.Option(
        help="Start each pair of games (one per colour) from this many random moves, so "
        "that deterministic players do not replay the same games.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    agent_module: AGENT_MODULES = None,
) -> None:
    """Play PLAYER against PLAYER, all games at once, and store every game in the match
    database.

    PLAYER is one of: random; rollout:<playouts>; gnugo:<level 0..10>; gnugo-mc:<playouts>
    (GNU Go's Monte Carlo move generator, boards up to 9x9); pachi:<playouts>
    (Pachi, built from source: set RLGO_PACHI); gtp:<command line> (any GTP engine, run
    as an argument list, never through a shell); a checkpoint path, optionally followed
    by :greedy (the default), :sample, or :search=<n> (the network with n simulations of
    tree search per move).
    """
    from rlgo.envs import Rules
    from rlgo.evaluation.arena import StopOnSignals, play_match
    from rlgo.evaluation.matchdb import MatchDB
    from rlgo.evaluation.players import make_player
    from rlgo.protocols import close_players

    players, database, stored_before = [], None, 0
    with StopOnSignals() as stop:  # SIGTERM ends it as Ctrl-C does, between moves
        try:
            rules = Rules(board_size=board_size, komi=komi)
            database = MatchDB(db)
            stored_before = len(database.games(with_sgf=False))
            for i, spec in enumerate((player_a, player_b)):
                players.append(make_player(spec, rules, seed=seed + i,
                                           agents=agent_module or ()))
            summary = play_match(players[0], players[1], games, rules, database,
                                 opening_moves=opening_moves, seed=seed, should_stop=stop)
        except KeyboardInterrupt as exc:
            kept = len(database.games(with_sgf=False)) - stored_before if database else 0
            raise Interrupted(f"the {kept} games that had finished are stored in {db}"
                              ) from exc
        finally:
            close_players(*players)
    typer.echo(json.dumps(summary.to_dict()) if as_json else summary.format())


def elo(
    db: Annotated[str, typer.Option(help=DB_HELP)] = "sqlite:///runs/matches.sqlite",
    board_size: Annotated[int | None, typer.Option(
        "--board-size", "-n", help="Only this board size (default: every size, rated "
        "separately: strengths do not carry across sizes).")] = None,
    anchor: Annotated[str, typer.Option(help="Player pinned at 0 Elo.")] = "random",
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
) -> None:
    """Bradley-Terry Elo of every player in the match database, with standard errors and
    95% intervals, anchored at ANCHOR = 0 (see rlgo.evaluation.elo)."""
    import math

    import pandas as pd

    from rlgo.evaluation.elo import fit_elo, format_elo_table
    from rlgo.evaluation.matchdb import MatchDB

    games = MatchDB(db, read_only=True).games(board_size=board_size, with_sgf=False)
    if games.empty:
        raise RlgoError(f"no games in {db}"
                        + (f" on {board_size}x{board_size}" if board_size else ""))
    tables = []
    for size, of_size in games.groupby("board_size", sort=True):
        table = fit_elo(of_size, anchor=anchor)
        tables.append(table.assign(board_size=int(size))[["board_size", *table.columns]])
    rows = pd.concat(tables, ignore_index=True)
    if as_json:
        records = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in row.items()} for row in rows.to_dict(orient="records")]
        typer.echo(json.dumps(records))
    else:
        for table in tables:
            n = int(table.board_size.iloc[0])
            typer.echo(f"{n}x{n} ({table.attrs['games']} games; {table.attrs['anchor']}):")
            typer.echo(format_elo_table(table.drop(columns="board_size")))


@ladder_app.command("calibrate")
def ladder_calibrate(
    anchors: Annotated[list[str], typer.Argument(
        metavar="ANCHOR", help="Anchor specs, weakest first, random among them.")],
    board_size: Annotated[int, typer.Option("--board-size", "-n", help="Board side N.")] = 7,
    komi: Annotated[float | None, typer.Option(help="Komi; default rlgo's for the size.")
                    ] = None,
    games: Annotated[int, typer.Option(help="Games per pairing (each anchor against the "
                                            "next two).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the players and openings.")] = 0,
    db: Annotated[str, typer.Option(help=DB_HELP)] = "sqlite:///runs/calibration.sqlite",
    out: Annotated[str, typer.Option(
        help="Reference table to write; default runs/anchors/<N>x<N>.toml (the committed "
        "tables in studies/anchors/ are never written unless named here).")] = "",
    replace: Annotated[bool, typer.Option(
        "--replace", help="Overwrite --out if it exists (refused otherwise, before any "
        "game).")] = False,
) -> None:
    """Calibrate anchors into a reference table (rlgo.evaluation.reference): each plays
    the next two in the list; one fit anchored at random = 0. Resumable: the same command
    on the same --db plays only the pairings not finished yet, and anchors appended to the
    list add only their own pairings."""
    import shlex
    import sys
    from pathlib import Path

    from rlgo.envs import Rules
    from rlgo.evaluation.arena import StopOnSignals
    from rlgo.evaluation.matchdb import MatchDB
    from rlgo.evaluation.reference import calibrate, calibration_kept

    target = Path(out or f"runs/anchors/{board_size}x{board_size}.toml")
    database = None
    with StopOnSignals() as stop:  # SIGINT and SIGTERM stop it between moves
        try:
            if target.exists() and not replace:
                raise RlgoError(f"{target} exists; pass --replace to overwrite it, or "
                                "another --out")
            rules = Rules(board_size=board_size, komi=komi)
            command = "rlgo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            database = MatchDB(db)
            table = calibrate(anchors, rules, database, games=games, seed=seed,
                              command=command, should_stop=stop,
                              progress=lambda line: typer.echo(line, err=True))
        except KeyboardInterrupt as exc:
            if database is None:
                raise
            done, kept, total = calibration_kept(anchors, rules, database, games, seed)
            raise Interrupted(f"{done} of {total} pairings finished, their {kept} games kept "
                              f"in {db}; rerun the same command to resume (a pairing cut "
                              "short is replayed)") from exc
    path = table.save(target)
    for spec, (elo, err) in sorted(table.anchors.items(), key=lambda kv: kv[1]):
        typer.echo(f"{spec:<14}{elo:>8.1f} ± {err:.1f}")
    typer.echo(f"wrote {path} ({table.games} games)")
    if table.runs_programs():
        typer.echo(f"note: its anchors {table.runs_programs()} run programs: rating against "
                   "the table, and studies and runs on it, need --allow-commands", err=True)


@ladder_app.command("compare")
def ladder_compare(
    first: Annotated[str, typer.Argument(help="Reference table, e.g. the committed one.")],
    second: Annotated[str, typer.Argument(help="The same calibration with another seed.")],
) -> None:
    """How far a recalibration moved each anchor: within the first table's 95% interval,
    and within the 95% interval of the difference (rlgo.evaluation.reference.compare_tables)."""
    from rlgo.evaluation.reference import ReferenceTable, compare_tables, format_comparison

    moved = compare_tables(*(ReferenceTable.load(t, allow_commands=True)  # no game
                             for t in (first, second)))
    typer.echo(format_comparison(moved))


@ladder_app.command("rate")
def ladder_rate(
    player: Annotated[str, typer.Argument(metavar="PLAYER", help="Any player spec of rlgo "
                                          "arena, e.g. a snapshot path with :search=64.")],
    reference: Annotated[str, typer.Option(help="Reference table (rlgo ladder calibrate).")],
    target_stderr: Annotated[float, typer.Option(help="Stop at this standard error (Elo).")
                             ] = 50.0,
    max_games: Annotated[int, typer.Option(help="At most this many games.")] = 200,
    round_games: Annotated[int, typer.Option(help="Games per round (even).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the players and openings.")] = 0,
    db: Annotated[str, typer.Option(help=DB_HELP)] = "sqlite:///runs/matches.sqlite",
    allow_commands: ALLOW_COMMANDS = False,
    agent_module: AGENT_MODULES = None,
) -> None:
    """Rate a player on a reference table's fixed scale by adaptive match-making: rounds
    against the anchor nearest its estimate until the error target is met."""
    from rlgo.envs import Rules
    from rlgo.evaluation.matchdb import MatchDB
    from rlgo.evaluation.players import checkpoint_rules, make_player
    from rlgo.evaluation.reference import (
        ReferenceTable,
        adaptive_rating,
        ladder_play,
        leaving_out,
        playable_here,
    )
    from rlgo.protocols import close_players

    players, play = [], None
    try:
        table, missing = playable_here(ReferenceTable.load(reference,
                                                           allow_commands=allow_commands))
        if missing:
            typer.echo(f"note: {leaving_out(missing)}", err=True)
        rules = Rules(board_size=table.board_size, komi=table.komi)
        trained = checkpoint_rules(player)
        if trained is not None and trained.komi != table.komi:  # as rlgo train refuses it
            raise RlgoError(f"{player} was trained with komi {trained.komi:g} and "
                            f"{reference} is calibrated at komi {table.komi:g}: rate it on "
                            f"a table calibrated at komi {trained.komi:g} (rlgo ladder "
                            f"calibrate ... --komi {trained.komi:g})")
        players.append(make_player(player, rules, seed=seed, agents=agent_module or ()))
        play = ladder_play(players[0], rules, MatchDB(db), seed=seed)
        result = adaptive_rating(table, play, target_stderr=target_stderr,
                                 max_games=max_games, round_games=round_games)
    finally:  # an anchor that is not a GTP engine, or whose engine dies: a GTPEngineError
        close_players(*players, *getattr(play, "anchors", {}).values())
    r = result.rating
    shown = f"{r.bound} {r.bound_elo:.0f}" if r.bound else f"{r.elo:.1f} ± {r.stderr:.1f}"
    typer.echo(f"{player}: {shown} Elo after {r.games} games "
               + ", ".join(f"{a} {sum(s)}/{len(s)}" for a, s in result.played.items()))
