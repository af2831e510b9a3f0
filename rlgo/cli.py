"""The ``rlgo`` command line. Entry points stay thin: each command parses its flags and
calls an importable function. Heavy imports (numba, torch) happen inside the commands so
that ``rlgo --help`` stays fast."""

from __future__ import annotations

import json
from typing import Annotated

import typer
import typer.core

from rlgo.errors import Interrupted, RlgoError, WorkFailed

PLAIN = None
"""Help texts are shown as written: no rich markup, which would swallow a TOML table name
such as ``[train]`` as a style tag."""



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
bench_app = typer.Typer(help="Speed benchmarks, side by side with peer implementations.",
                        no_args_is_help=True, rich_markup_mode=PLAIN)
app.add_typer(bench_app, name="bench")
ladder_app = typer.Typer(help="A fixed Elo scale per board: calibrate anchors, rate players "
                         "adaptively against them.", no_args_is_help=True,
                         rich_markup_mode=PLAIN)
app.add_typer(ladder_app, name="ladder")
study_app = typer.Typer(help="Comparative studies: several learners and seeds, one Elo "
                        "scale, a league, tables and figures.", no_args_is_help=True,
                        rich_markup_mode=PLAIN)
app.add_typer(study_app, name="study")
analyze_app = typer.Typer(help="Measurements of how learners learn.", no_args_is_help=True,
                          rich_markup_mode=PLAIN)
app.add_typer(analyze_app, name="analyze")


ALLOW_COMMANDS = Annotated[bool, typer.Option(
    "--allow-commands", help="Let anchors read from a file (a reference table, a study's "
    "ladder, a config's train.eval_ladder) run the programs they name (gtp:<command "
    "line>). Without it such a file is refused: a shared file is data, not code.")]


@bench_app.command("env")
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


@bench_app.command("contention")
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


@bench_app.command("mcts")
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


@bench_app.command("net")
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


def _agents_help() -> str:
    from rlgo.registry import registered

    return (f"Learner: one of {', '.join(registered())} (`rlgo agents` describes them), or "
            "a third-party package.module:make.")


@bench_app.command("train")
def bench_train(
    agent: Annotated[list[str] | None, typer.Option(
        "--agent", help="Learners to measure (default: every registered one).")] = None,
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
    rows = run_train_bench(agent or registered(), board_size, seconds, peer, config)
    typer.echo(json.dumps(rows) if as_json else format_train_table(rows))


@app.command()
def agents() -> None:
    """List the registered agents (built-in learners and the rlgo.agents entry points)
    with their config fields, as `--set` takes them."""
    import dataclasses

    from rlgo.registry import get_agent, registered

    for name in registered():
        entry = get_agent(name)
        doc = (entry.config_class.__doc__ or "").strip().splitlines()[0]
        typer.echo(f"{name}: {doc}")
        for f in dataclasses.fields(entry.config_class):
            typer.echo(f"    {f.name} = {getattr(entry.default_config(), f.name)!r}")


@app.command()
def train(
    agent: Annotated[str | None, typer.Option(help=_agents_help())] = None,
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
        help="Config file with [train], [agent] and [net] tables (a run's config.toml, or "
        "the best trial `rlgo tune` exports); the flags and --set override it.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override key=value; 'net.' and 'train.' prefixes for the "
        "network and harness, no prefix for the agent. A list is a TOML array or "
        "comma-separated: train.eval_ladder='[\"random\", \"rollout:8\"]' or "
        "train.eval_ladder=random,rollout:8.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    allow_commands: ALLOW_COMMANDS = False,
) -> None:
    """Train an agent by self-play, rating it on the run's Elo ladder as it learns."""
    from rlgo.registry import third_party_frame
    from rlgo.training import build_trainer
    from rlgo.training.loop import stopped_at

    trainer = None
    try:
        trainer = build_trainer(agent, board_size, env_steps, seed, out, set_ or [],
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


DB_HELP = "Match database: an SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...)."
AGENT_MODULES = Annotated[list[str] | None, typer.Option(
    "--agent-module", metavar="MODULE", help="A third-party learner, package.module:make as "
    "given to rlgo train --agent, whose snapshots may be played here: rlgo imports a module "
    "only when it is named on the command line, never because a snapshot file names it. "
    "Repeat for several.")]


@app.command()
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


@app.command()
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
    for size, group in games.groupby("board_size", sort=True):
        table = fit_elo(group, anchor=anchor)
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


@app.command()
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


STUDY_FILE = Annotated[str, typer.Argument(metavar="STUDY", help="Study file (TOML), "
                                           "e.g. studies/quickstart.toml.")]


@study_app.command("run")
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
    from rlgo.study.runner import run_study

    try:
        debug = bool((ctx.obj or {}).get("debug"))  # rlgo --debug: the workers get it too
        config = run_study(study, workers, show=progress, backend=backend, address=address,
                           allow_commands=allow_commands, debug=debug,
                           say=lambda line: typer.echo(f"note: {line}", err=True))
    except KeyboardInterrupt as exc:
        raise Interrupted("rerun the same command to resume") from exc
    _print_study_summary(config)


@study_app.command("report")
def study_report(study: STUDY_FILE) -> None:
    """Rewrite a study's tables and figures from its runs and match database."""
    from rlgo.study.config import load_study
    from rlgo.study.report import write_report

    config = load_study(study, allow_commands=True)  # a report plays no game
    write_report(config)
    _print_study_summary(config)


def _print_study_summary(config) -> None:
    import pandas as pd

    out = config.out_dir
    if (out / "agents.csv").exists():
        agents = pd.read_csv(out / "agents.csv")
        league = pd.read_csv(out / "league.csv")
        typer.echo(f"study {config.name}: final Elo on one scale (random = 0)")
        typer.echo(league[["player", "elo", "stderr", "games"]].round(1).to_string(index=False))
        typer.echo("\nper agent, across seeds (IQM, 95% bootstrap interval):")
        typer.echo(agents.round(1).to_string(index=False))
    typer.echo(f"\ntables and figures in {out}")


@app.command()
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
    from rlgo.evaluation.reference import ReferenceTable, compare_tables

    moved = compare_tables(*(ReferenceTable.load(t, allow_commands=True)  # no game
                             for t in (first, second)))
    for r in moved.itertuples():
        typer.echo(f"{r.anchor:<16}{r.elo:>7.0f} ± {r.stderr:<4.0f}{r.elo_again:>7.0f} ± "
                   f"{r.stderr_again:<4.0f}{r.moved:>+6.0f}  "
                   f"{'within' if r.within else 'OUTSIDE'} its interval, "
                   f"{'within' if r.within_difference else 'OUTSIDE'} the difference's")
    n = len(moved)
    typer.echo(f"{int(moved.within.sum())} of {n} anchors within the first table's 95% "
               f"interval; {int(moved.within_difference.sum())} of {n} within the 95% "
               "interval of the difference")


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


@analyze_app.command("credit")
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
