"""The evaluation ladder a training run plays on a schedule of env steps.

The current snapshot, named ``<run>@<env_steps>``, plays ``games`` games (colours
alternating) against every fixed opponent of the ladder and against a few earlier
snapshots of the same run; all games go to the run's match database and the snapshot's
Elo is fitted over every game of that board size in the database (Bradley-Terry, anchored
at ``random`` = 0: see ``rlgo.elo``). With ``search > 0`` the same network also plays the
fixed ladder with tree search (``<run>@<env_steps>:search=<n>``), so the raw policy and
the policy with search are both on the scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rlgo.checkpoint import load_checkpoint
from rlgo.envs import Rules
from rlgo.matchdb import MatchDB
from rlgo.network import PolicyValueNet
from rlgo.protocols import Player


def snapshot_name(run: str, env_steps: int) -> str:
    return f"{run}@{env_steps}"


def _snapshot_spec(run: str, env_steps: int, greedy: bool) -> dict:
    return {"run": run, "env_steps": int(env_steps), "greedy": greedy}


def run_ladder(*, net: PolicyValueNet, name: str, rules: Rules, db: MatchDB, run: str,
               env_steps: int, ladder: Sequence[str], games: int,
               snapshots: Sequence[Path] = (), greedy: bool = False, seed: int = 0,
               search: int = 0) -> dict[str, float]:
    """Play the ladder; returns ``eval/elo``, ``eval/elo_stderr``, per-opponent
    ``eval/vs_<opponent>/score`` (mean points: 1 a win, 1/2 a draw), the opponents' Elo
    ``eval/elo_of/<opponent>`` and, with search, the same under ``eval/search/``."""
    from rlgo.agents.network_player import NetworkPlayer
    from rlgo.elo import fit_elo
    from rlgo.players import make_player

    me = NetworkPlayer(net, name=name, greedy=greedy, seed=seed,
                       spec=_snapshot_spec(run, env_steps, greedy))
    fixed = [(spec, make_player(spec, rules, seed=seed + i)) for i, spec in enumerate(ladder)]
    earlier = []
    for path in snapshots:
        steps = int(load_checkpoint(path)["counters"]["env_steps"])
        if steps != env_steps:
            old = NetworkPlayer.from_checkpoint(path, greedy=greedy, seed=seed,
                                                name=snapshot_name(run, steps))
            old.spec = _snapshot_spec(run, steps, greedy)
            earlier.append(("snapshot", old))
    entrants: list[tuple[str, Player, list]] = [("eval", me, fixed + earlier)]
    if search > 0:
        from rlgo.agents.mcts import MCTSPlayer

        searcher = MCTSPlayer(net, search, name=f"{name}:search={search}", seed=seed,
                              spec={**_snapshot_spec(run, env_steps, True), "search": search})
        entrants.append(("eval/search", searcher, fixed))
    try:
        metrics = _play(entrants, rules, db, run, env_steps, games)
    finally:
        for _, opp in fixed + earlier:
            close = getattr(opp, "close", None)
            if close is not None:
                close()
    table = fit_elo(db.games(board_size=rules.board_size, with_sgf=False))
    elo = dict(zip(table.player, table.elo, strict=True))
    err = dict(zip(table.player, table.stderr, strict=True))
    for prefix, player, _ in entrants:
        metrics[f"{prefix}/elo"] = float(elo[player.name])
        metrics[f"{prefix}/elo_stderr"] = float(err[player.name])
    for spec, _ in fixed:
        if spec in elo:
            metrics[f"eval/elo_of/{spec}"] = float(elo[spec])
    return metrics


def _play(entrants, rules: Rules, db: MatchDB, run: str, env_steps: int, games: int
          ) -> dict[str, float]:
    from rlgo.arena import play_match

    metrics: dict[str, float] = {}
    for prefix, player, opponents in entrants:
        for label, opp in opponents:
            summary = play_match(player, opp, games, rules, db, run=run, env_steps=env_steps)
            metrics[f"{prefix}/vs_{label}/score"] = summary.score
    return metrics
