"""Matches between two players: M games at once in one engine, stored in the match database.

Colours alternate exactly: in game ``i`` player ``a`` has Black when ``i`` is even, so an
even M gives each side M/2 Black games and an odd M gives ``a`` the extra one (swap the
arguments to give it to ``b``). :class:`MatchSummary` reports both counts, and every
stored game carries its index in the match (tags ``match_game``, ``match_games``).

Batching: all M games live in one :class:`GoEngine`. At each step the unfinished games are
split by the player to move, and each player is asked once for all of its games, so a
network player evaluates one batch per step and a search or GTP player sees every game it
plays at once. Games end by two passes or the move cap and are scored Tromp-Taylor
(``engine.scores()``: Black minus White, komi included); resignations do not happen here.

Openings (``opening_moves`` = K > 0): deterministic players (greedy search, GNU Go)
replay the same few games over and over. With K > 0 every pair of games (2j, 2j+1) starts
from the same K uniformly random moves (legal points, no passes; drawn from ``seed`` and
j), after which the players take over, so the pair plays one opening once from each side
and pairs differ from each other. The opening moves are part of the stored game.

Storage: both players are registered first, and every game is written in its own
transaction as soon as it ends, so a match interrupted midway (Ctrl-C, SIGTERM, a player
that fails) keeps the games it finished: players, colours, board size, komi, score,
winner, moves, end reason, SGF and tags.
"""

from __future__ import annotations

import dataclasses
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rlgo.envs import END_REASONS, GoEngine, Rules
from rlgo.envs.kernels import BLACK
from rlgo.evaluation.matchdb import GameRecord, MatchDB
from rlgo.protocols import Player, Positions

__all__ = ["ColourRecord", "MatchSummary", "play_match", "player_kind"]


@dataclass(frozen=True)
class ColourRecord:
    """Results of one player in the games it played with one colour."""

    games: int = 0
    wins: int = 0
    losses: int = 0
    draws: int = 0


@dataclass(frozen=True)
class MatchSummary:
    """What :func:`play_match` returns; results are from ``a``'s point of view."""

    a: str
    """Name of the first player (Black in the even-numbered games)."""
    b: str
    """Name of the second player."""
    board_size: int
    komi: float
    a_black: ColourRecord
    """``a``'s results in the games where it had Black (``games`` = ceil(M / 2))."""
    a_white: ColourRecord
    """``a``'s results in the games where it had White (``games`` = floor(M / 2))."""
    mean_moves: float
    """Moves per game, passes included."""
    end_reasons: dict[str, int]
    """Games per end reason (``two_passes``, ``move_cap``: ``rlgo.envs.END_REASONS``)."""
    nn_evals: dict[str, int]
    """Network positions evaluated by each player (its ``Decision.nn_evals`` summed)."""
    seconds: dict[str, float]
    """Wall-clock seconds each player spent choosing moves."""
    game_ids: tuple[int, ...] = field(default=())
    """Database ids of the stored games, in match order; empty without a database."""
    opening_moves: int = 0
    """Random moves each game started with (module docstring, "Openings")."""
    distinct_games: int = 0
    """Games whose move sequences differ from every other game of the match."""
    restarts: dict[str, int] = field(default_factory=dict)
    """Engine processes each player restarted during the match (a GTP engine that died or
    hung; players without a ``restarts`` counter report 0)."""

    @property
    def games(self) -> int:
        return self.a_black.games + self.a_white.games

    @property
    def wins(self) -> int:
        return self.a_black.wins + self.a_white.wins

    @property
    def losses(self) -> int:
        return self.a_black.losses + self.a_white.losses

    @property
    def draws(self) -> int:
        return self.a_black.draws + self.a_white.draws

    @property
    def score(self) -> float:
        """``a``'s mean points per game: 1 a win, 1/2 a draw."""
        return (self.wins + 0.5 * self.draws) / self.games

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, derived totals included."""
        out = asdict(self)
        out.update(games=self.games, wins=self.wins, losses=self.losses, draws=self.draws,
                   score=self.score)
        out["game_ids"] = list(self.game_ids)
        return out

    def format(self) -> str:
        """A few lines for people."""
        width = len(self.a) + 5

        def line(label: str, r: ColourRecord) -> str:
            return f"  {label:<{width}}{r.games:>5} games: +{r.wins} -{r.losses} ={r.draws}"

        n = self.board_size
        return "\n".join([
            f"{self.a} vs {self.b} on {n}x{n}, komi {self.komi:g}: {self.a} scored "
            f"{self.score:.3f} (+{self.wins} -{self.losses} ={self.draws} of {self.games})",
            line(f"{self.a} as B", self.a_black),
            line(f"{self.a} as W", self.a_white),
            f"  {self.distinct_games} distinct games"
            + (f" (each pair from its own {self.opening_moves} random opening moves)"
               if self.opening_moves else "")
            + f"; {self.mean_moves:.1f} moves per game; ends: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.end_reasons.items())),
            "  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
            + "; nn evals: " + ", ".join(f"{k} {v}" for k, v in self.nn_evals.items()),
            *(["  engine restarts: " + ", ".join(
                f"{k} {v}" for k, v in self.restarts.items() if v)]
              if any(self.restarts.values()) else []),
        ])


class StopOnSignals:
    """SIGINT and SIGTERM handlers that only set a flag, asked between moves.

    A handler that raises can have its exception swallowed when the signal lands inside a
    C callback (numba compiling, for one); a flag cannot be lost. A second signal raises
    KeyboardInterrupt at once, for a user who will not wait for the current move.
    """

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.raised

    def _handle(self, signum: int, frame: object) -> None:
        if self.raised:
            raise KeyboardInterrupt(f"signal {signum}")
        self.raised = True

    def __enter__(self) -> StopOnSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def player_kind(player: Player) -> str:
    """Kind stored with the player in the database: its ``kind`` attribute, else the prefix
    of its name before ``:`` (``rollout:200`` -> ``rollout``), else its class name."""
    kind = getattr(player, "kind", None)
    if kind:
        return str(kind)
    prefix, colon, _ = player.name.partition(":")
    return prefix if colon else type(player).__name__


def play_match(
    a: Player,
    b: Player,
    games: int,
    rules: Rules,
    db: MatchDB | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    run: str | None = None,
    env_steps: int | None = None,
    opening_moves: int = 0,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> MatchSummary:
    """Play ``games`` games between ``a`` and ``b`` under ``rules`` and store them in ``db``.

    Colours alternate exactly, ``a`` Black in the even-numbered games (module docstring).
    ``a`` and ``b`` may be the same object (self-play: one ``act`` call per step).
    ``tags``, ``run`` and ``env_steps`` are stored with every game. ``opening_moves``
    random moves from ``seed`` start each pair of games (module docstring, "Openings").

    Every game is stored as it ends. Raises ValueError if a player returns a malformed or
    illegal decision (naming the player and the game); games finished before are kept.
    ``should_stop`` is asked before every move; when it answers True the match raises
    KeyboardInterrupt there, between moves, with every finished game stored (a signal
    handler that only sets a flag cannot be swallowed mid-call the way a raised one can).
    """
    if games < 1:
        raise ValueError(f"a match needs at least one game, got {games}")
    if not 0 <= opening_moves < rules.num_points:
        raise ValueError(f"opening_moves must lie in 0..{rules.num_points - 1}, "
                         f"got {opening_moves}")
    for p in (a, b):
        if not isinstance(p, Player):
            raise TypeError(f"{p!r} is not a Player (needs .name and .act(positions))")
    if db is not None:  # fail on a name clash before playing
        for p in (a, b):
            db.add_player(p.name, kind=player_kind(p), spec=getattr(p, "spec", None))

    engine = GoEngine(games, rules)
    _play_openings(engine, opening_moves, seed)
    a_black = np.arange(games) % 2 == 0
    nn_evals = {a.name: 0, b.name: 0}
    seconds = {a.name: 0.0, b.name: 0.0}
    restarts_before = {p.name: int(getattr(p, "restarts", 0)) for p in (a, b)}
    tags = {**(tags or {}), **({"opening_moves": opening_moves} if opening_moves else {})}
    label = {"match": uuid.uuid4().hex[:12], "match_games": games}
    finished: dict[int, GameRecord] = {}  # game -> its record, made once as it ends
    stored: dict[int, int] = {}  # game -> id in the database

    def record_ended(games_ended: np.ndarray) -> None:
        """Record games that just ended; one transaction each, so an interruption keeps
        them."""
        scores = engine.scores()
        for i in games_ended.tolist():
            finished[i] = _record(engine, i, float(scores[i]), a, b, a_black,
                                  {**tags, **label}, run, env_steps)
            if db is not None:
                stored[i] = db.add_games([finished[i]])[0]

    while not engine.done.all():
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt("stop requested")
        obs, legal, live = engine.observations(), engine.legal.copy(), ~engine.done
        a_moves = (engine.to_play == BLACK) == a_black
        turns = [(a, live)] if a is b else [(a, live & a_moves), (b, live & ~a_moves)]
        actions = np.full(games, -1, np.int64)
        for player, mine in turns:
            idx = np.flatnonzero(mine)
            if idx.size == 0:
                continue
            start = time.perf_counter()
            decision = player.act(Positions(obs[idx], legal[idx], engine, idx))
            seconds[player.name] += time.perf_counter() - start
            nn_evals[player.name] += int(decision.nn_evals)
            actions[idx] = _checked_actions(player, decision.actions, legal[idx], idx)
        engine.step(actions)
        if (live & engine.done).any():
            record_ended(np.flatnonzero(live & engine.done))
    record_ended(np.array([i for i in range(games) if i not in finished], np.int64))

    records = [finished[i] for i in range(games)]
    ids = tuple(stored[i] for i in range(games)) if db is not None else ()
    summary = _summary(engine, a, b, a_black, records, nn_evals, seconds, ids)
    distinct = len({tuple(engine.actions(i)) for i in range(games)})
    restarts = {p.name: int(getattr(p, "restarts", 0)) - restarts_before[p.name]
                for p in (a, b)}
    return dataclasses.replace(summary, opening_moves=opening_moves, distinct_games=distinct,
                               restarts=restarts)


def _play_openings(engine: GoEngine, moves: int, seed: int) -> None:
    """Play ``moves`` random moves in every game, the same in games 2j and 2j+1."""
    if moves == 0:
        return
    pairs = (engine.num_games + 1) // 2
    rngs = [np.random.default_rng([seed, j]) for j in range(pairs)]
    first = np.arange(pairs) * 2
    for _ in range(moves):
        legal = engine.legal[first, :-1]  # no passes
        pick = np.array([rng.choice(np.flatnonzero(row)) if row.any() else
                         engine.rules.pass_action for rng, row in zip(rngs, legal, strict=True)],
                        np.int64)
        engine.step(np.repeat(pick, 2)[: engine.num_games])


def _checked_actions(player: Player, actions: np.ndarray, legal: np.ndarray,
                     games: np.ndarray) -> np.ndarray:
    """The player's actions [B] int64, or ValueError naming the player and the game."""
    actions = np.asarray(actions)
    if actions.shape != (len(games),) or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"{player.name} returned actions of shape {actions.shape} and dtype "
                         f"{actions.dtype}; expected ({len(games)},) integers")
    in_range = (actions >= 0) & (actions < legal.shape[1])
    ok = in_range & legal[np.arange(len(games)), np.where(in_range, actions, 0)]
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"{player.name} chose illegal action {int(actions[row])} in game "
                         f"{int(games[row])}")
    return actions.astype(np.int64)


def _record(engine: GoEngine, i: int, score: float, a: Player, b: Player,
            a_black: np.ndarray, tags: Mapping[str, Any], run: str | None,
            env_steps: int | None) -> GameRecord:
    """Game ``i`` of the engine, finished with Black's ``score``, as stored."""
    black, white = (a, b) if a_black[i] else (b, a)
    return GameRecord(
        black=black.name, white=white.name, board_size=engine.rules.board_size,
        komi=float(engine.rules.komi), score=score,
        moves=int(engine.moves[i]), end_reason=END_REASONS[int(engine.end_reason[i])],
        sgf=engine.to_sgf(i, black.name, white.name), run=run, env_steps=env_steps,
        tags={**tags, "match_game": i})


def _summary(engine: GoEngine, a: Player, b: Player, a_black: np.ndarray,
             records: list[GameRecord], nn_evals: dict[str, int], seconds: dict[str, float],
             ids: tuple[int, ...]) -> MatchSummary:
    black_won = np.array([r.winner == "B" for r in records])
    drawn = np.array([r.winner == "draw" for r in records])
    a_won = np.where(a_black, black_won, ~black_won) & ~drawn

    def tally(rows: np.ndarray) -> ColourRecord:
        return ColourRecord(games=int(rows.sum()), wins=int((a_won & rows).sum()),
                            losses=int((~a_won & ~drawn & rows).sum()),
                            draws=int((drawn & rows).sum()))

    reasons: dict[str, int] = {}
    for r in records:
        reasons[r.end_reason] = reasons.get(r.end_reason, 0) + 1
    return MatchSummary(
        a=a.name, b=b.name, board_size=engine.rules.board_size, komi=float(engine.rules.komi),
        a_black=tally(a_black), a_white=tally(~a_black),
        mean_moves=float(engine.moves.mean()), end_reasons=reasons,
        nn_evals=nn_evals, seconds=seconds, game_ids=ids,
    )
