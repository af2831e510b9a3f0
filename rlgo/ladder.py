"""The evaluation ladder a training run plays on a schedule of env steps.

The current snapshot, named ``<run>@<env_steps>``, plays ``games`` games (colours
alternating) against every fixed opponent of the ladder and against a few earlier
snapshots of the same run; all games go to the run's match database and the snapshot's
Elo is fitted over every game of that board size in the database (Bradley-Terry, anchored
at ``random`` = 0: see ``rlgo.elo``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rlgo.checkpoint import load_checkpoint
from rlgo.envs import Rules
from rlgo.matchdb import MatchDB
from rlgo.network import PolicyValueNet


def snapshot_name(run: str, env_steps: int) -> str:
    return f"{run}@{env_steps}"


def _snapshot_spec(run: str, env_steps: int, greedy: bool) -> dict:
    return {"run": run, "env_steps": int(env_steps), "greedy": greedy}


def run_ladder(*, net: PolicyValueNet, name: str, rules: Rules, db: MatchDB, run: str,
               env_steps: int, ladder: Sequence[str], games: int,
               snapshots: Sequence[Path] = (), greedy: bool = False, seed: int = 0
               ) -> dict[str, float]:
    """Play the ladder; returns ``eval/elo``, ``eval/elo_stderr`` and per-opponent
    ``eval/vs_<opponent>/score`` (mean points: 1 a win, 1/2 a draw)."""
    from rlgo.agents.network_player import NetworkPlayer
    from rlgo.arena import play_match
    from rlgo.elo import fit_elo
    from rlgo.players import make_player

    me = NetworkPlayer(net, name=name, greedy=greedy, seed=seed,
                       spec=_snapshot_spec(run, env_steps, greedy))
    opponents = [(spec, make_player(spec, rules, seed=seed + i))
                 for i, spec in enumerate(ladder)]
    for path in snapshots:
        steps = int(load_checkpoint(path)["counters"]["env_steps"])
        if steps == env_steps:
            continue
        old = NetworkPlayer.from_checkpoint(path, greedy=greedy, seed=seed,
                                            name=snapshot_name(run, steps))
        old.spec = _snapshot_spec(run, steps, greedy)
        opponents.append(("snapshot", old))
    metrics: dict[str, float] = {}
    try:
        for label, opp in opponents:
            summary = play_match(me, opp, games, rules, db, run=run, env_steps=env_steps)
            key = "snapshot" if label == "snapshot" else label
            metrics[f"eval/vs_{key}/score"] = summary.score
    finally:
        for _, opp in opponents:
            close = getattr(opp, "close", None)
            if close is not None:
                close()
    table = fit_elo(db.games(board_size=rules.board_size, with_sgf=False))
    mine = table[table.player == name]
    metrics["eval/elo"] = float(mine.elo.iloc[0])
    metrics["eval/elo_stderr"] = float(mine.stderr.iloc[0])
    for spec, _ in opponents[: len(ladder)]:
        row = table[table.player == spec]
        if len(row):
            metrics[f"eval/elo_of/{spec}"] = float(row.elo.iloc[0])
    return metrics
