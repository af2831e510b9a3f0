"""The match database: round trips, batch inserts, several writers, clear errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect

from rlgo.evaluation.elo import fit_elo
from rlgo.evaluation.matchdb import GAME_COLUMNS, PLAYER_COLUMNS, GameRecord, MatchDB, MatchDBError

# Brackets, escapes, newlines and non-ASCII, all of which must come back verbatim.
SGF = "(;GM[1]FF[4]SZ[9]KM[7.5]PB[random]PW[ppo]RE[W+12.5]C[a \\] b\nété 囲碁]\n;B[ee];W[])"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db(tmp_path: Path) -> MatchDB:
    out = MatchDB(url(tmp_path / "m.sqlite"))
    out.add_player("random", kind="random")
    out.add_player("ppo/step=1000", kind="checkpoint", spec={"path": "runs/ppo/1000.pt"})
    return out


def game(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = dict(black="random", white="ppo/step=1000", board_size=9,
                                   komi=7.5, score=-12.5, moves=61, end_reason="two_passes")
    return {**base, **overrides}


def test_tables_and_folders_created_on_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "m.sqlite"
    db = MatchDB(url(path))
    assert path.exists()
    assert {"players", "games"} <= set(inspect(create_engine(url(path))).get_table_names())
    assert tuple(db.games().columns) == GAME_COLUMNS and db.games().empty
    assert tuple(db.players().columns) == PLAYER_COLUMNS and db.players().empty
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_game_round_trip_preserves_every_field(db: MatchDB) -> None:
    game_id = db.add_game(**game(sgf=SGF, run="ppo-9x9", env_steps=3 * 10**10,
                                 tags={"seed": 3, "note": "é"}))
    games = db.games()
    assert tuple(games.columns) == GAME_COLUMNS and len(games) == 1
    row = games.iloc[0]
    assert row["id"] == game_id
    assert (row["black"], row["white"], row["board_size"], row["komi"]) == \
        ("random", "ppo/step=1000", 9, 7.5)
    assert (row["winner"], row["score"], row["moves"], row["end_reason"]) == \
        ("W", -12.5, 61, "two_passes")
    assert (row["run"], row["env_steps"], row["tags"]) == \
        ("ppo-9x9", 3 * 10**10, {"seed": 3, "note": "é"})
    assert row["sgf"] == SGF
    assert row["created_at"].tzinfo is not None
    assert "sgf" not in db.games(with_sgf=False).columns


def test_players_round_trip_and_registration_is_idempotent(db: MatchDB) -> None:
    again = db.add_player("ppo/step=1000", kind="checkpoint", spec={"path": "runs/ppo/1000.pt"})
    players = db.players()
    assert tuple(players.columns) == PLAYER_COLUMNS
    assert players["name"].tolist() == ["random", "ppo/step=1000"]
    assert players["kind"].tolist() == ["random", "checkpoint"]
    assert players["spec"].tolist() == [None, {"path": "runs/ppo/1000.pt"}]
    assert again == players["id"].iloc[1]
    with pytest.raises(ValueError, match="exists as kind='checkpoint'"):
        db.add_player("ppo/step=1000", kind="checkpoint", spec={"path": "elsewhere.pt"})
    with pytest.raises(TypeError):
        db.add_player("bad", kind="random", spec={"f": object()})


def test_batch_insert_is_one_transaction(db: MatchDB) -> None:
    batch = [game(score=s, moves=i) for i, s in enumerate([3.5, -0.5, 0.0, 7.5])]
    ids = db.add_games(batch + [GameRecord(**game(winner="B", score=None, end_reason="resign"))])
    games = db.games()
    assert games["id"].tolist() == ids and ids == sorted(ids)
    assert games["winner"].tolist() == ["B", "W", "draw", "B", "B"]
    assert games["score"].isna().tolist() == [False] * 4 + [True]
    with pytest.raises(KeyError, match="nobody"):
        db.add_games(batch + [game(white="nobody")])
    assert len(db.games()) == 5  # nothing of the failed batch was stored
    assert db.add_games([]) == []


def test_winner_spellings_and_forfeits(db: MatchDB) -> None:
    db.add_game(**game(winner="black", score=None, end_reason="resign"))
    db.add_game(**game(winner="white", score=None))
    db.add_game(**game(winner=None, score=0.0))
    # Forfeit by an illegal move: the winner decides, the board count is kept as it was.
    db.add_game(**game(winner="B", score=-2.5, end_reason="illegal_move"))
    games = db.games()
    assert games["winner"].tolist() == ["B", "W", "draw", "B"]
    assert games["score"].iloc[3] == -2.5
    with pytest.raises(ValueError, match="winner must be one of"):
        db.add_game(**game(score=None))
    with pytest.raises(ValueError, match="winner must be one of"):
        db.add_game(**game(winner="Black+R", score=None))
    with pytest.raises(ValueError, match="score must be finite"):
        db.add_game(**game(score=float("nan")))
    assert len(db.games()) == 4


def test_delete_games_after_a_resume_point(db: MatchDB) -> None:
    db.add_games([game(run="r", env_steps=s) for s in (0, 100, 200, 300)]
                 + [game(run="other", env_steps=300), game()])
    assert db.delete_games(run="r", after_env_steps=100) == 2
    assert db.games(run="r")["env_steps"].tolist() == [0, 100]
    assert db.delete_games(run="r") == 2
    left = db.games()["run"]
    assert left.iloc[0] == "other" and pd.isna(left.iloc[1])


def test_filters(db: MatchDB) -> None:
    db.add_player("gnugo-l1", kind="gnugo", spec={"level": 1})
    db.add_games([game(), game(board_size=19, run="r"), game(black="gnugo-l1", run="r")])
    assert db.games(board_size=19)["board_size"].tolist() == [19]
    assert len(db.games(player="gnugo-l1")) == 1 and len(db.games(player="random")) == 2
    assert db.games(run="r")["id"].tolist() == [2, 3]


def test_two_objects_on_one_sqlite_file(tmp_path: Path) -> None:
    first, second = MatchDB(url(tmp_path / "m.sqlite")), MatchDB(url(tmp_path / "m.sqlite"))
    first.add_player("random", kind="random")
    second.add_player("ppo/step=1000", kind="checkpoint")
    first.add_game(**game())
    second.add_game(**game(score=1.5))
    assert first.games()["winner"].tolist() == second.games()["winner"].tolist() == ["W", "B"]
    assert len(first.players()) == len(second.players()) == 2
    first.close()
    second.close()


def _writer(path: str, worker: int, n_games: int) -> None:
    db = MatchDB(path)
    db.add_player("random", kind="random")
    db.add_player(f"w{worker}", kind="rollout")
    for i in range(n_games):
        db.add_game(black="random", white=f"w{worker}", board_size=9, komi=7.5, score=i - 9.5)
    db.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = url(tmp_path / "m.sqlite")
    MatchDB(path).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(path, k, 40)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    games = MatchDB(path).games()
    assert len(games) == 80 and games["id"].is_unique
    assert sorted(games["white"].unique()) == ["w0", "w1"]


def test_bad_urls_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MatchDBError, match="malformed database URL"):
        MatchDB("not a url")
    with pytest.raises(MatchDBError, match="cannot use"):
        MatchDB("nosuchdialect://host/db")
    (tmp_path / "adir").mkdir()
    with pytest.raises(MatchDBError, match="cannot open database"):
        MatchDB(url(tmp_path / "adir"))  # a folder, not a database file


def test_in_memory_database_and_elo_from_games() -> None:
    with MatchDB("sqlite://") as db:
        db.add_player("random", kind="random")
        db.add_player("x", kind="rollout")
        db.add_games([game(white="x", score=-1.5), game(black="x", white="random", score=2.5),
                      game(white="x", winner="B", score=None)])
        table = fit_elo(db.games()).set_index("player")
    assert table.loc["x", "wins"] == 2 and table.loc["x", "losses"] == 1
    assert table.loc["x", "elo"] > 0
    assert isinstance(table, pd.DataFrame)


def test_read_only_opening_creates_and_alters_nothing(tmp_path):
    missing = tmp_path / "typo" / "matches.sqlite"
    with pytest.raises(MatchDBError, match="no match database at"):
        MatchDB(f"sqlite:///{missing}", read_only=True)
    assert not (tmp_path / "typo").exists()  # no folder, no empty database
    other = tmp_path / "other.sqlite"  # another program's database
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE games (id INTEGER PRIMARY KEY, title TEXT)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(MatchDBError, match="not an rlgo match database"):
        MatchDB(f"sqlite:///{other}", read_only=True)
    assert other.read_bytes() == before  # no tables added, journal mode unchanged
    assert sqlite3.connect(other).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    MatchDB(url).add_player("random", "random")
    reader = MatchDB(url, read_only=True)
    assert list(reader.players().name) == ["random"]
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="readonly database"):  # SQLite refuses it
        reader.add_player("x", "y")
    from typer.testing import CliRunner

    from rlgo.cli import app

    res = CliRunner().invoke(app, ["elo", "--db", f"sqlite:///{missing}"])
    assert res.exit_code == 2 and "no match database" in res.output
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("schema, missing", [
    ("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)", "'players' lacks"),
    ("CREATE TABLE games (id INTEGER PRIMARY KEY, foo TEXT)", "'players' lacks"),
])
def test_writers_refuse_another_programs_database_and_leave_it_as_it_was(tmp_path, schema,
                                                                         missing):
    # the probe: a customers-only file gained players and games tables and the games; a
    # foreign games(id, foo) gained players, then an SQLAlchemy traceback
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute(schema)
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(MatchDBError, match=f"not an rlgo match database.*{missing}"):
        MatchDB(f"sqlite:///{other}")
    from typer.testing import CliRunner

    from rlgo.cli import app

    res = CliRunner().invoke(app, ["arena", "random", "random", "--games", "2", "-n", "5",
                                   "--db", f"sqlite:///{other}"])
    assert res.exit_code == 2 and res.output.startswith("error: ") and \
        "not an rlgo match database" in res.output, res.output
    assert other.read_bytes() == before  # no table added, journal mode unchanged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]  # no -wal, -shm
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(MatchDBError, match="garbage.sqlite"):
        MatchDB(f"sqlite:///{garbage}")


def test_an_empty_file_or_an_rlgo_database_opens_for_writing(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.touch()  # e.g. made by another tool: no tables yet
    MatchDB(f"sqlite:///{empty}").add_player("random", "random")
    again = MatchDB(f"sqlite:///{empty}")  # rlgo's own: opens, adds nothing twice
    assert list(again.players().name) == ["random"]
    extra = sqlite3.connect(empty)  # rlgo's tables beside a user's own: still rlgo's
    extra.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    extra.commit()
    extra.close()
    assert list(MatchDB(f"sqlite:///{empty}").players().name) == ["random"]
