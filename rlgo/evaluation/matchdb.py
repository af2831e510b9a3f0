"""The match database: every rated game, who played it, and its SGF.

Two tables. ``players``: one row per distinct player (name, kind, JSON spec). ``games``: one
row per game, Black and White pointing at ``players``. Any SQLAlchemy URL works; the default is
a SQLite file, ``sqlite:///runs/matches.sqlite`` (relative to the working directory), whose
parent folders are created. PostgreSQL works too (``postgresql+psycopg://user@host/db``, with
the psycopg driver installed).

Result convention: ``winner`` is ``"B"``, ``"W"`` or ``"draw"`` and decides the game. ``score``
is Black's points minus White's on the board at the end, komi included (``B+3.5`` is +3.5), or
None when nothing was counted (resignation). Without a ``winner`` the sign of ``score`` gives
it; with both, ``winner`` decides (they disagree when a game is forfeited by an illegal move).

Concurrency: several processes may write to one SQLite file. Connections use WAL journalling
(readers never block the writer) and a busy timeout (a writer waits for another's transaction
instead of failing), and every write transaction starts with ``BEGIN IMMEDIATE`` so that it
takes the write lock up front rather than failing on an upgrade from read to write. On
PostgreSQL, clients creating the tables at once take turns (an advisory lock); tested with
two processes writing games into one server (``tests/test_postgres.py``).

Usage::

    db = MatchDB()  # or MatchDB("postgresql+psycopg://me@host/rlgo")
    db.add_player("random", kind="random")
    db.add_player("ppo/step=100000", kind="checkpoint", spec={"path": "runs/ppo/100000.pt"})
    db.add_game(black="random", white="ppo/step=100000", board_size=9, komi=7.5,
                score=-12.5, moves=61, end_reason="two_passes", sgf=sgf_text,
                run="ppo", env_steps=100000)
    frame = db.games(board_size=9)  # pandas DataFrame, one row per game
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    Row,
    Select,
    String,
    Text,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

from rlgo.errors import RlgoError

__all__ = [
    "DEFAULT_URL",
    "GAME_COLUMNS",
    "PLAYER_COLUMNS",
    "WINNERS",
    "GameRecord",
    "MatchDB",
    "MatchDBError",
]

DEFAULT_URL = "sqlite:///runs/matches.sqlite"
"""Where games go unless told otherwise: a SQLite file under ``runs/`` of the working directory."""

WINNERS: tuple[str, ...] = ("B", "W", "draw")
"""Stored values of ``winner``."""

_WINNER_ALIASES: dict[str, str] = {"b": "B", "black": "B", "w": "W", "white": "W", "draw": "draw"}
"""Accepted spellings of ``winner`` (lower-cased) and what is stored."""

GAME_COLUMNS: tuple[str, ...] = (
    "id", "black", "white", "board_size", "komi", "winner", "score", "moves", "end_reason",
    "run", "env_steps", "tags", "sgf", "created_at",
)
"""Columns of :meth:`MatchDB.games`, in order (``sgf`` only when asked for)."""

PLAYER_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "spec", "created_at")
"""Columns of :meth:`MatchDB.players`, in order."""

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA_LOCK_KEY = 0x726C676F  # "rlgo": the PostgreSQL advisory lock around table creation


class MatchDBError(RlgoError, RuntimeError):
    """The database URL is malformed, its driver is missing, or the database cannot be reached."""


@dataclass(frozen=True)
class GameRecord:
    """One finished game, as stored. ``winner`` may be left out when ``score`` is given."""

    black: str
    """Name of the player with Black (must already be in ``players``)."""
    white: str
    """Name of the player with White."""
    board_size: int
    """Board side, e.g. 9 for 9x9."""
    komi: float
    """Points given to White."""
    winner: str | None = None
    """``"B"``, ``"W"`` or ``"draw"`` (also ``"black"``, ``"white"``, any case); decides the game.
    None: derived from the sign of ``score``."""
    score: float | None = None
    """Black minus White on the board at the end, komi included; None if nothing was counted."""
    moves: int = 0
    """Moves played, passes included."""
    end_reason: str = ""
    """Why it ended, e.g. ``"two_passes"``, ``"move_cap"``, ``"illegal_move"``, ``"resign"``."""
    sgf: str = ""
    """The game record as SGF text, stored verbatim."""
    run: str | None = None
    """Name of the training run this game belongs to, if any."""
    env_steps: int | None = None
    """Environment steps of the training run at which the snapshot playing here was taken."""
    tags: Mapping[str, Any] | None = field(default=None, hash=False)
    """Anything else worth keeping with the game (JSON-able)."""

    def __post_init__(self) -> None:
        if self.board_size < 1 or self.moves < 0:
            raise ValueError(f"need board_size >= 1 and moves >= 0, got {self.board_size}, "
                             f"{self.moves}")
        if not math.isfinite(self.komi):
            raise ValueError(f"komi must be finite, got {self.komi}")
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError(f"score must be finite or None, got {self.score}")
        if self.winner is not None:
            winner = _WINNER_ALIASES.get(str(self.winner).lower())
        else:
            winner = None if self.score is None else _winner_of_score(self.score)
        if winner is None:
            raise ValueError(f"winner must be one of {WINNERS} (or give a score), "
                             f"got {self.winner!r}")
        object.__setattr__(self, "winner", winner)  # frozen: store the normalised winner once


def _winner_of_score(score: float) -> str:
    """``"B"``, ``"W"`` or ``"draw"`` from Black's margin (komi included)."""
    return "B" if score > 0 else "W" if score < 0 else "draw"


class _Base(DeclarativeBase):
    """Declarative base of the two tables."""


class _PlayerRow(_Base):
    __tablename__ = "players"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    spec: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _GameRow(_Base):
    __tablename__ = "games"
    __table_args__ = (CheckConstraint("winner IN ('B', 'W', 'draw')", name="winner_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    black_id: Mapped[int] = mapped_column(ForeignKey("players.id"), index=True)
    white_id: Mapped[int] = mapped_column(ForeignKey("players.id"), index=True)
    board_size: Mapped[int] = mapped_column(Integer, index=True)
    komi: Mapped[float] = mapped_column(Float)
    winner: Mapped[str] = mapped_column(String(4))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    moves: Mapped[int] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(String(50))
    sgf: Mapped[str] = mapped_column(Text)
    run: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    env_steps: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tags: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatchDB:
    """Players and games in one SQL database; its tables are created in an empty one. A
    database that holds other tables but not rlgo's (another program's) is refused
    before anything is written to it: a SQLite file is first inspected read-only.

    ``read_only`` (for commands that only read, such as ``rlgo elo``): nothing is created
    or altered. A SQLite file must exist and is opened read-only, with its journal mode
    left as it is, and a database without rlgo's tables and columns is refused.

    Raises :class:`MatchDBError` at construction if the URL is malformed, names a dialect or
    driver that is not installed, the database cannot be opened or (read-only) is missing
    or not rlgo's.
    """

    def __init__(self, url: str | URL = DEFAULT_URL, *, echo: bool = False,
                 read_only: bool = False) -> None:
        self._url = _parse_url(url)
        if not read_only and _existing_sqlite_file(self._url):
            MatchDB(self._url, echo=echo, read_only=True).close()  # another program's
            # database is refused before a write engine touches it (WAL mode, tables)
        self._engine = (_read_only_engine(self._url, echo=echo) if read_only
                        else _make_engine(self._url, echo=echo))
        try:
            if read_only:
                _check_schema(inspect(self._engine), self.url)
            else:
                with self._write() as conn:
                    if conn.dialect.name == "postgresql":  # two clients creating the tables
                        # at once collide on PostgreSQL's catalog: take turns (lock held
                        # until this transaction ends)
                        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")
                    found = inspect(conn)
                    if found.get_table_names():  # not empty: it must be rlgo's already
                        _check_schema(found, self.url)
                    _Base.metadata.create_all(conn)
        except DBAPIError as err:
            self._engine.dispose()
            raise MatchDBError(f"cannot open database {self.url}: {err.orig}") from err
        except MatchDBError:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"MatchDB({self.url!r})"

    def __enter__(self) -> MatchDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections (the object reconnects if used again)."""
        self._engine.dispose()

    def add_player(self, name: str, kind: str, spec: Mapping[str, Any] | None = None) -> int:
        """Register a player, or confirm an existing one; returns its id.

        Args:
            name: unique name, e.g. ``"random"``, ``"gnugo-l10"``, ``"ppo-9x9/step=100000"``.
            kind: what it is: ``"random"``, ``"rollout"``, ``"gnugo"``, ``"checkpoint"``, ...
            spec: JSON-able description enough to rebuild it (path, level, search budget).

        Raises:
            ValueError: ``name`` exists with a different kind or spec.
            TypeError: ``spec`` is not JSON-able.
        """
        if not name or not kind:
            raise ValueError("a player needs a non-empty name and kind")
        spec_json = None if spec is None else json.loads(json.dumps(dict(spec)))
        try:
            row = self._find_or_insert_player(name, kind, spec_json)
        except IntegrityError:  # another client inserted the name between our read and write
            row = self._find_or_insert_player(name, kind, spec_json)
        if (row.kind, row.spec) != (kind, spec_json):
            raise ValueError(f"player {name!r} exists as kind={row.kind!r} spec={row.spec!r}, "
                             f"not kind={kind!r} spec={spec_json!r}; choose another name")
        return row.id

    def _find_or_insert_player(self, name: str, kind: str, spec: Any) -> Row[Any]:
        """The player's (id, kind, spec), inserting it first if the name is new."""
        find = (select(_PlayerRow.id, _PlayerRow.kind, _PlayerRow.spec)
                .where(_PlayerRow.name == name))
        with self._write() as conn:
            row = conn.execute(find).first()
            if row is None:
                conn.execute(insert(_PlayerRow), {
                    "name": name, "kind": kind, "spec": spec, "created_at": _now()})
                row = conn.execute(find).one()
        return row

    def add_game(
        self,
        *,
        black: str,
        white: str,
        board_size: int,
        komi: float,
        winner: str | None = None,
        score: float | None = None,
        moves: int = 0,
        end_reason: str = "",
        sgf: str = "",
        run: str | None = None,
        env_steps: int | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> int:
        """Store one game and return its id; the arguments are the fields of :class:`GameRecord`.

        Raises:
            KeyError: a player is not registered (see :meth:`add_player`).
            ValueError: no winner and no score, an unknown winner, or a value out of range.
        """
        record = GameRecord(
            black=black, white=white, board_size=board_size, komi=komi, winner=winner,
            score=score, moves=moves, end_reason=end_reason, sgf=sgf, run=run,
            env_steps=env_steps, tags=tags,
        )
        return self.add_games([record])[0]

    def add_games(self, games: Iterable[GameRecord | Mapping[str, Any]]) -> list[int]:
        """Store many games in one transaction (all or none); returns their ids in order.

        Raises:
            KeyError: a player is not registered (see :meth:`add_player`).
            ValueError: a game is invalid (see :class:`GameRecord`); nothing is stored.
        """
        records = [g if isinstance(g, GameRecord) else GameRecord(**g) for g in games]
        if not records:
            return []
        names = {r.black for r in records} | {r.white for r in records}
        now = _now()
        with self._write() as conn:
            found = conn.execute(select(_PlayerRow.name, _PlayerRow.id)
                                 .where(_PlayerRow.name.in_(names)))
            ids = {name: player_id for name, player_id in found}
            unknown = sorted(names - ids.keys())
            if unknown:
                raise KeyError(f"unregistered players {unknown}; call MatchDB.add_player first")
            rows = [_game_row(r, ids, now) for r in records]
            result = conn.execute(
                insert(_GameRow).returning(_GameRow.id, sort_by_parameter_order=True), rows)
            return list(result.scalars())

    def delete_games(self, *, run: str, after_env_steps: int | None = None,
                     ids: Sequence[int] | None = None) -> int:
        """Delete the games of ``run`` played after ``after_env_steps`` (all if None), only
        those among ``ids`` if given.

        A run resumed from the checkpoint at ``env_steps = X`` replays its evaluations after X;
        this removes the earlier copies (games at exactly X are kept). A resumed calibration
        removes the games of a pairing cut short (by id). Returns how many went.
        """
        stmt = delete(_GameRow).where(_GameRow.run == run)
        if after_env_steps is not None:
            stmt = stmt.where(_GameRow.env_steps > after_env_steps)
        if ids is not None:
            stmt = stmt.where(_GameRow.id.in_([int(i) for i in ids]))
        with self._write() as conn:
            return conn.execute(stmt).rowcount

    def games(
        self,
        board_size: int | None = None,
        *,
        player: str | None = None,
        run: str | None = None,
        with_sgf: bool = True,
    ) -> pd.DataFrame:
        """All games, oldest first, optionally only those on one board size / of one player / run.

        Returns:
            One row per game with columns :data:`GAME_COLUMNS` (``sgf`` dropped unless
            ``with_sgf``); ``black``/``white`` are player names, ``created_at`` is UTC.
        """
        black, white = aliased(_PlayerRow), aliased(_PlayerRow)
        columns = [c for c in GAME_COLUMNS if with_sgf or c != "sgf"]
        pick = {"black": black.name.label("black"), "white": white.name.label("white")}
        stmt: Select[Any] = (
            select(*(pick[c] if c in pick else getattr(_GameRow, c) for c in columns))
            .join(black, _GameRow.black_id == black.id)
            .join(white, _GameRow.white_id == white.id)
            .order_by(_GameRow.id)
        )
        if board_size is not None:
            stmt = stmt.where(_GameRow.board_size == board_size)
        if player is not None:
            stmt = stmt.where((black.name == player) | (white.name == player))
        if run is not None:
            stmt = stmt.where(_GameRow.run == run)
        frame = self._frame(stmt, columns)
        # rlgo 0.1 stored the move cap as "move_limit"; one spelling now (rlgo.envs).
        frame["end_reason"] = frame["end_reason"].replace({"move_limit": "move_cap"})
        return frame

    def players(self) -> pd.DataFrame:
        """All registered players, by id, with columns :data:`PLAYER_COLUMNS`."""
        stmt = select(*(getattr(_PlayerRow, c) for c in PLAYER_COLUMNS)).order_by(_PlayerRow.id)
        return self._frame(stmt, list(PLAYER_COLUMNS))

    def _frame(self, stmt: Select[Any], columns: list[str]) -> pd.DataFrame:
        """Run a SELECT into a DataFrame with fixed columns (also when empty)."""
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        if "env_steps" in frame:
            frame["env_steps"] = frame["env_steps"].astype("Int64")
        return frame

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection inside a write transaction, committed on success (IMMEDIATE on SQLite)."""
        with self._engine.connect() as conn:
            conn.execution_options(rlgo_write=True)
            with conn.begin():
                yield conn


def _game_row(record: GameRecord, ids: Mapping[str, int], now: datetime) -> dict[str, Any]:
    """Column values of ``games`` for one record."""
    return {
        "black_id": ids[record.black], "white_id": ids[record.white],
        "board_size": int(record.board_size), "komi": float(record.komi),
        "winner": record.winner, "score": None if record.score is None else float(record.score),
        "moves": int(record.moves), "end_reason": record.end_reason, "sgf": record.sgf,
        "run": record.run, "env_steps": None if record.env_steps is None else int(record.env_steps),
        "tags": None if record.tags is None else json.loads(json.dumps(dict(record.tags))),
        "created_at": now,
    }


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_url(url: str | URL) -> URL:
    """Parse ``url``, raising MatchDBError with an example when malformed."""
    try:
        return make_url(url)
    except ArgumentError as err:
        raise MatchDBError(f"malformed database URL {str(url)!r}: expected e.g. {DEFAULT_URL!r} "
                           "or 'postgresql+psycopg://user@host/dbname'") from err


def _make_engine(url: URL, *, echo: bool) -> Engine:
    """An engine for ``url``; for a SQLite file, creates its folder and sets up WAL locking."""
    shown = url.render_as_string(hide_password=True)
    is_sqlite = url.get_backend_name() == "sqlite"
    database = url.database or ""
    if is_sqlite and database and database != ":memory:" and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MatchDBError(f"cannot create the folder of {shown}: {err}") from err
    try:
        engine = create_engine(url, echo=echo, pool_pre_ping=not is_sqlite)
    except (NoSuchModuleError, ImportError) as err:
        raise MatchDBError(f"cannot use {shown}: {err} (is its database driver installed?)") \
            from err
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _check_schema(found: Any, shown: str) -> None:
    """MatchDBError unless every rlgo table is there with its columns (``found``: an
    SQLAlchemy inspector). A database holding other tables only is another program's:
    rlgo neither reads it as its own nor writes its tables into it."""
    tables = set(found.get_table_names())
    for table in _Base.metadata.sorted_tables:
        columns = ({c["name"] for c in found.get_columns(table.name)}
                   if table.name in tables else set())
        missing = {c.name for c in table.columns} - columns
        if missing:
            raise MatchDBError(f"{shown} is not an rlgo match database (table "
                               f"{table.name!r} lacks {sorted(missing)}); give another "
                               "database")


def _existing_sqlite_file(url: URL) -> bool:
    """``url`` names a SQLite file that exists and is not empty."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or \
            database.startswith("file:"):
        return False
    path = Path(database)
    return path.is_file() and path.stat().st_size > 0


def _read_only_engine(url: URL, *, echo: bool) -> Engine:
    """An engine that cannot write: SQLite files opened with ``mode=ro`` (no folder made,
    no journal-mode change); other databases as they are (their tables are checked, never
    created)."""
    if url.get_backend_name() != "sqlite":
        return _make_engine(url, echo=echo)
    database = url.database or ""
    path = Path(database)
    if not database or database == ":memory:" or not path.is_file():
        raise MatchDBError(f"no match database at {database or url!s}")
    uri = f"file:{path.resolve()}?mode=ro"
    engine = create_engine("sqlite://", echo=echo, creator=lambda: sqlite3.connect(
        uri, uri=True, check_same_thread=False))
    event.listen(engine, "connect", _sqlite_read_only_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_read_only_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite's own BEGIN is deferred
    # and emitted lazily); the SQLAlchemy docs' recipe for pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # in-memory databases stay "memory"
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock now, waiting up to the busy timeout; a deferred transaction
    # that reads and then writes can fail at once with SQLITE_BUSY when another process wrote.
    write = conn.get_execution_options().get("rlgo_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
