"""The final league of a study: every run's last snapshot against every other and the
anchors.

The members are the final snapshots, under the names the evaluation ladder gave them
(``<run>@<env_steps>``, so their training games and league games are one player's), and
the anchors (random, rollout, GNU Go levels). Every unordered pair plays ``league.games``
games, colours alternating, each pair of games from the same random opening. A pairing's
games are stored with ``run = "league/<a> vs <b>"``: a pairing with all its games is done;
one with fewer (a killed study) has them deleted and is played again from the start, with
the same seeds, so a rerun neither loses nor double-counts a game.

``python -m rlgo.study.league STUDY_FILE K N [--allow-commands]`` plays the pairings
``K, K + N, K + 2N...`` of :func:`pairings` (the study runner starts N such processes, one
per worker; ``--allow-commands`` when the study's command line said it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from rlgo.envs import Rules
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.ladder import snapshot_name
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import ALLOW_COMMANDS, make_player, snapshot_player
from rlgo.learning.files import load_file
from rlgo.protocols import Player, close_players, describe
from rlgo.study.config import StudyConfig, load_study, run_configs
from rlgo.training.runs import RunDir


@dataclass(frozen=True)
class Member:
    """A league player: a run's final snapshot, or an anchor (``path`` None)."""

    name: str
    """Its name in the match database."""
    agent: str = ""
    """The study's label of its agent; "" for an anchor."""
    seed: int = -1
    """Its run's seed; -1 for an anchor."""
    path: Path | None = None
    """Snapshot file, or None for an anchor (``name`` is then its player spec)."""
    greedy: bool = False
    """Whether the snapshot plays its best move (as in the run's evaluations)."""


@dataclass(frozen=True)
class Pairing:
    a: Member
    b: Member

    @property
    def tag(self) -> str:
        """The ``run`` value of its games."""
        return f"league/{self.a.name} vs {self.b.name}"


def members(study: StudyConfig) -> list[Member]:
    """The final snapshot of every run (runs without one are left out), then the anchors."""
    out = []
    for agent, seed, run in study.run_names():
        snapshots = RunDir(study.out_dir / "runs" / run).snapshot_files()
        if not snapshots:
            continue
        steps = int(load_file(snapshots[-1])["counters"]["env_steps"])
        greedy = run_configs(study, agent, seed).eval.greedy
        out.append(Member(snapshot_name(run, steps), agent.label, seed, snapshots[-1],
                          greedy))
    return out + [Member(spec) for spec in study.anchors]


def pairings(study: StudyConfig) -> list[Pairing]:
    """Every unordered pair of :func:`members`, in a fixed order."""
    players = members(study)
    return [Pairing(a, b) for i, a in enumerate(players) for b in players[i + 1:]]


def _player(member: Member, rules: Rules, seed: int, study: StudyConfig) -> Player:
    """A member as a player; the study's learners are the modules the user named (a
    snapshot of a ``package.module:make`` learner loads through its agent's entry)."""
    if member.path is None:
        return make_player(member.name, rules, seed=seed)
    player, _ = snapshot_player(member.path, name=member.name, greedy=member.greedy,
                                seed=seed, agents=[a.learner for a in study.agents])
    run, _, steps = member.name.rpartition("@")
    describe(player, {"run": run, "env_steps": int(steps), "greedy": member.greedy})
    return player


def play_pairing(study: StudyConfig, index: int,
                 listed: list[Pairing] | None = None) -> int:
    """Play pairing ``index`` of ``listed`` (default :func:`pairings`) unless its games are
    all stored; returns games played."""
    pairing = (listed if listed is not None else pairings(study))[index]
    if study.league_games == 0:
        return 0
    db = MatchDB(study.db_url)
    if len(db.games(run=pairing.tag, with_sgf=False)) == study.league_games:
        return 0
    db.delete_games(run=pairing.tag)  # a partial pairing is replayed whole
    rules = Rules(board_size=study.board_size, komi=study.komi)
    players = [_player(e, rules, seed=1_000 * index + k, study=study)
               for k, e in enumerate((pairing.a, pairing.b))]
    try:
        play_match(players[0], players[1], study.league_games, rules, db, run=pairing.tag,
                   tags={"league": study.name}, opening_moves=study.league_opening_moves,
                   seed=index)
    finally:
        close_players(*players)
    return study.league_games


def play_share(study: StudyConfig, k: int, n: int) -> int:
    """Play pairings ``k, k + n, ...``; returns games played."""
    listed = pairings(study)
    return sum(play_pairing(study, i, listed) for i in range(k, len(listed), n))


if __name__ == "__main__":
    allowed = ALLOW_COMMANDS in sys.argv[4:]  # the study's command line said so
    played = play_share(load_study(sys.argv[1], allow_commands=allowed), int(sys.argv[2]),
                        int(sys.argv[3]))
    print(f"played {played} league games")
