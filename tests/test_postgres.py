"""The match database on a real PostgreSQL server: two processes writing at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlgo.evaluation.matchdb import MatchDB

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_two_processes_write_one_postgres_database_without_losing_a_game(postgres_url):
    def arena(seed: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "rlgo.cli", "arena", "random",
                                 "rollout:2", "--games", "30", "-n", "5", "--seed", str(seed),
                                 "--opening-moves", "2", "--db", postgres_url, "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    procs = [arena(1), arena(2)]  # both register the same players at once, then write games
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    games = MatchDB(postgres_url, read_only=True).games()
    assert len(games) == 60 and games.id.is_unique
    assert sorted(MatchDB(postgres_url).players().name) == ["random", "rollout:2"]
    assert games.sgf.notna().all()
    # each process stored exactly its own 30 games, as it reported
    import json

    ids = [set(json.loads(out)["game_ids"]) for out, _ in outs]
    assert len(ids[0]) == len(ids[1]) == 30 and not ids[0] & ids[1]
    assert ids[0] | ids[1] == set(games.id)
