"""Rules oracle: rlgo's engine against GNU Go, move by move.

Two kinds of games are played in rlgo and in GNU Go at the same time (GNU Go started with
``--chinese-rules --positional-superko``, see :func:`rlgo.gtp.client.gnugo_args`):

* **Random games** check the rules of play. Each move is drawn uniformly from rlgo's legal
  non-pass moves (a pass only when there is none) and played in both engines, until two
  passes or rlgo's move cap (2 N^2). Before every move the legal moves of the side to move
  (rlgo's mask against GNU Go's ``all_legal``) and the stones (``list_stones``) must agree.
* **Scoring games** check the score. GNU Go plays itself (``--capture-all-dead``, low
  level) from a few random opening moves until two passes; each of its moves must be legal
  in rlgo and the same comparisons are made; at the end rlgo's Tromp-Taylor score must equal
  GNU Go's ``final_score`` (area scoring, komi included).

How GNU Go reports legality. In GNU Go 3.8 ``all_legal``, ``is_legal`` and ``play`` all go
through ``is_allowed_move()``, which applies the suicide rule and, under
``--positional-superko``, refuses a move whose position (stones only) is in the game's
history (``tests/test_rules_vs_gnugo.py`` shows a superko ban that ``--simple-ko`` allows).
Two limits of that history, both found by this oracle:

* It is finite: GNU Go keeps the positions before its last 500 moves and, when full,
  forgets the oldest 51 (``MAX_MOVE_HISTORY`` in ``engine/board.c``); rlgo remembers the
  whole game. After move 500 GNU Go allows a move that repeats an older position. The
  oracle computes which moves those are (:func:`gnugo_memory`) and counts them as
  ``beyond_gnugo_history``, not as disagreements.
* Forgetting corrupts it (a GNU Go 3.8 bug): ``play_move()`` collapses the history by
  replaying the first moves, which updates the position hash incrementally from the wrong
  board, and restores the board without recomputing the hash. Until a command that resets
  the engine (``genmove``, ``undo``), every position is stored and compared with a wrong
  hash: GNU Go misses repetitions and refuses moves that repeat nothing (27 of 40 5x5
  games of up to 2000 moves disagreed: ``python -m rlgo.gtp.verify --board-size 5 --games 40
  --max-moves 2000 --raw-gnugo``). The oracle repairs it with ``undo`` and a replay of the
  move each time the history collapses; with that, those games agree.

To show what the legality comparisons exercise, an rlgo engine without any ko rule runs in
lockstep; each move it allows and the real engine refuses is classified by the position it
would repeat: the one before the opponent's last move is a simple-ko recapture
(``ko_bans``), an older one a superko ban that simple ko would allow (``superko_bans``).
Occupied points are not counted; other points refused by both engines are suicides
(``suicide_bans``).

``python -m rlgo.gtp.verify --board-size 9 --games 2000`` runs a big check and prints the
counts; ``tests/test_rules_vs_gnugo.py`` runs a small one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context

import numba
import numpy as np

from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import action_to_gtp, gtp_to_action
from rlgo.gtp import client as gtp

GNUGO_HISTORY = 500
"""GNU Go 3.8's ``MAX_MOVE_HISTORY``: moves whose prior positions it remembers."""
GNUGO_COLLAPSE = 1 + GNUGO_HISTORY // 10
"""Moves GNU Go forgets at once when its history is full."""

SCORING_MAX_MOVES = 4
"""Move cap of self-play games, in units of N^2."""

_COLOUR = {1: "black", 2: "white"}


def gnugo_memory(moves: int) -> int:
    """How many past positions GNU Go checks for superko after ``moves`` moves: those
    before each of its last ``gnugo_memory(moves)`` moves (passes count as moves)."""
    if moves <= GNUGO_HISTORY:
        return moves
    first = GNUGO_HISTORY - GNUGO_COLLAPSE + 1  # size right after the first collapse
    return first + (moves - GNUGO_HISTORY - 1) % GNUGO_COLLAPSE


@dataclass
class Tally:
    """Counts of one verification run; each field is summed over games and workers."""

    games: int = 0
    """Random games played."""
    scoring_games: int = 0
    """GNU Go self-play games played and scored."""
    moves: int = 0
    """Moves (passes included) played in both engines, all games."""
    positions: int = 0
    """Positions where the legal-move sets were compared."""
    boards: int = 0
    """Positions where the stones were compared."""
    suicide_bans: int = 0
    """(position, empty point) pairs refused as suicide by both engines."""
    ko_bans: int = 0
    """(position, point) pairs refused as a simple-ko recapture by both engines."""
    superko_bans: int = 0
    """(position, point) pairs refused by positional superko that simple ko allows."""
    beyond_gnugo_history: int = 0
    """Superko bans on positions older than GNU Go's history (GNU Go allows them)."""
    disagreements: int = 0
    """Games stopped because the engines disagreed on legality, stones or a move."""
    scores_agreed: int = 0
    """Scoring games where rlgo's Tromp-Taylor score equals GNU Go's final_score."""
    scores_dead_stones: int = 0
    """Score differences explained: GNU Go's final_score removed stones it judged dead
    (``final_status_list dead``); without them Tromp-Taylor gives GNU Go's score."""
    scores_gnugo_dame: int = 0
    """Score differences explained: GNU Go counts as dame empty points that only one
    colour encloses (next to a seki); Tromp-Taylor and Chinese rules count them."""
    scores_unexplained: int = 0
    """Score differences not explained by dead stones."""
    engine_errors: int = 0
    """Games lost to a GNU Go crash or timeout (the engine is restarted)."""
    seconds: float = 0.0
    """Wall-clock time of the run."""
    reports: list[dict] = field(default_factory=list)
    """The first disagreements and score differences, each with the game's moves."""

    def add(self, other: Tally, max_reports: int) -> None:
        for f in fields(self):
            if f.name == "reports":
                self.reports.extend(other.reports[: max(0, max_reports - len(self.reports))])
            elif f.name != "seconds":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class _Disagreement(Exception):
    """The engines disagree; the game cannot go on."""


def tromp_taylor_owner(board: np.ndarray) -> np.ndarray:
    """[N, N] int8: the colour each point counts for under Tromp-Taylor: its stone, or the
    only colour its empty region reaches; 0 for empty regions that reach both or none."""
    n = board.shape[0]
    flat = np.asarray(board).reshape(-1)
    owner = flat.astype(np.int8)
    done = flat != 0
    for start in np.flatnonzero(~done):
        if done[start]:
            continue
        region, touches, stack = [], set(), [int(start)]
        done[start] = True
        while stack:
            p = stack.pop()
            region.append(p)
            r, c = divmod(p, n)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < n and 0 <= cc < n:
                    q = rr * n + cc
                    if flat[q]:
                        touches.add(int(flat[q]))
                    elif not done[q]:
                        done[q] = True
                        stack.append(q)
        owner[region] = touches.pop() if len(touches) == 1 else 0
    return owner.reshape(n, n)


def explain_score_difference(engine: gtp.GTPEngine, board: np.ndarray,
                             komi: float) -> tuple[str, str]:
    """Why GNU Go's ``final_score`` differs from the Tromp-Taylor score of ``board`` (the
    position on GNU Go's board, [N, N]): ``("dead stones", ...)`` if it comes out once
    the stones of ``final_status_list dead`` are removed, ``("dame", ...)`` if it comes out
    once the points GNU Go lists as ``dame`` count for nobody (GNU Go does so with empty
    points that only one colour encloses next to a seki), else ``("unexplained", ...)``.
    The second string gives the numbers."""
    n = board.shape[0]

    def points(status: str) -> list[int]:
        return [gtp_to_action(v, n)
                for v in engine.send(f"final_status_list {status}").upper().split()]

    theirs = gtp.parse_score(engine.final_score())
    dead, dame, seki = points("dead"), points("dame"), points("seki")
    flat = np.asarray(board).reshape(-1).copy()
    flat[dead] = 0
    owner = tromp_taylor_owner(flat.reshape(n, n)).reshape(-1)
    without_dead = float(np.count_nonzero(owner == 1) - np.count_nonzero(owner == 2)) - komi
    owned_dame = [p for p in dame if owner[p] != 0]
    as_gnugo = without_dead - sum(1 if owner[p] == 1 else -1 for p in owned_dame)

    def names(actions: list[int]) -> str:
        return " ".join(action_to_gtp(p, n) for p in actions) or "-"

    detail = (f"GNU Go's dead stones {names(dead)}, seki stones {names(seki)}, dame that "
              f"Tromp-Taylor gives to a colour {names(owned_dame)}; Tromp-Taylor without "
              f"the dead stones {without_dead:+g}, and with those dame neutral {as_gnugo:+g}")
    if dead and without_dead == theirs:
        return "dead stones", detail
    if owned_dame and as_gnugo == theirs:
        return ("dead stones" if dead else "dame"), detail
    return "unexplained", detail


@contextmanager
def _one_numba_thread() -> Iterator[None]:
    """The engine steps a batch of one here; waking numba's thread pool for it costs
    ~100-800 us a call on 2 cores against ~15 us in the calling thread."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class Oracle:
    """One GNU Go process and two rlgo engines (positional superko, no ko rule) playing
    the same game, compared after every move."""

    def __init__(self, board_size: int, komi: float | None = None, max_moves: int | None = None,
                 level: int = 1, gnugo_path: str = gtp.GNUGO_PATH,
                 max_reports: int = 10, fix_gnugo_hash: bool = True) -> None:
        self.n = board_size
        self.fix_gnugo_hash = fix_gnugo_hash
        self.rules = Rules(board_size=board_size, komi=komi, max_moves=max_moves)
        self.gnugo = gtp.gnugo(level=level, board_size=board_size, komi=float(self.rules.komi),
                               path=gnugo_path, capture_all_dead=True, never_resign=True)
        self.eng = GoEngine(1, self.rules)
        self.noko = GoEngine(1, Rules(board_size=board_size, komi=komi, max_moves=max_moves,
                                      superko=False))
        self.tally = Tally()
        self.max_reports = max_reports
        self._label = ""
        self._moves: list[str] = []
        self._seen: dict[bytes, int] = {}

    def close(self) -> None:
        self.gnugo.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ game steps
    def new_game(self, label: str) -> None:
        self._label = label
        self._moves = []
        self.gnugo.clear_board()
        self.eng.reset()
        self.noko.reset()
        self._seen = {self.eng.boards[0].tobytes(): 0}

    @property
    def colour(self) -> str:
        return _COLOUR[int(self.eng.to_play[0])]

    def play(self, action: int, gnugo_played: bool = False) -> None:
        """Play ``action`` in both engines (GNU Go's own moves are already on its board)."""
        vertex = action_to_gtp(action, self.n)
        colour = self.colour
        self._moves.append(f"{colour[0].upper()} {vertex}")
        if not self.eng.legal[0, action]:
            self._fail("rlgo refuses GNU Go's move", f"{colour} {vertex}")
        if not gnugo_played:
            try:
                self.gnugo.play(colour, vertex)
            except gtp.GTPError as err:
                self._fail("GNU Go refuses rlgo's move", str(err))
        if self.fix_gnugo_hash and gnugo_memory(int(self.eng.moves[0])) == GNUGO_HISTORY:
            # HACK: this move made GNU Go collapse its history, which leaves its position
            # hash stale (see the module docstring); undo recomputes it, then replay.
            self.gnugo.undo()
            self.gnugo.play(colour, vertex)
        self.eng.step(np.array([action]))
        self.noko.step(np.array([action]))
        self._seen[self.eng.boards[0].tobytes()] = int(self.eng.moves[0])
        self.tally.moves += 1

    def compare(self) -> None:
        """Compare the stones and, unless the game is over, the legal moves."""
        board = self.eng.boards[0].reshape(-1)
        for value, colour in _COLOUR.items():
            theirs = sorted(gtp_to_action(v, self.n) for v in self.gnugo.list_stones(colour))
            if theirs != np.flatnonzero(board == value).tolist():
                self._fail("stones differ", f"{colour}: GNU Go {self._vertices(theirs)}, "
                           f"rlgo {self._vertices(np.flatnonzero(board == value))}")
        self.tally.boards += 1
        if self.eng.done[0]:
            return
        expected = self._expected_gnugo_legal(board)
        theirs = sorted(gtp_to_action(v, self.n) for v in self.gnugo.all_legal(self.colour))
        if theirs != np.flatnonzero(expected).tolist():
            mine = set(np.flatnonzero(expected).tolist())
            self._fail("legal moves differ",
                       f"{self.colour} to play; only rlgo allows "
                       f"{self._vertices(sorted(mine - set(theirs)))}, only GNU Go allows "
                       f"{self._vertices(sorted(set(theirs) - mine))}")
        self.tally.positions += 1

    def _expected_gnugo_legal(self, board: np.ndarray) -> np.ndarray:
        """rlgo's legal points, plus superko bans older than GNU Go's history; counts the
        bans by kind on the way."""
        nn = self.n * self.n
        legal = self.eng.legal[0, :nn].copy()
        noko = self.noko.legal[0, :nn]
        self.tally.suicide_bans += int(np.count_nonzero((board == 0) & ~noko))
        ply = int(self.eng.moves[0])
        for p in np.flatnonzero(noko & ~legal):
            trial = self.noko.clone()
            trial.step(np.array([p]))
            seen = self._seen.get(trial.boards[0].tobytes())
            if seen is None:
                self._fail("rlgo bans a move that repeats no earlier position",
                           f"{self.colour} {action_to_gtp(int(p), self.n)}")
            age = ply - seen
            if age == 1:
                self.tally.ko_bans += 1
            else:
                self.tally.superko_bans += 1
            if age > gnugo_memory(ply):
                self.tally.beyond_gnugo_history += 1
                legal[p] = True
        return legal

    def _vertices(self, actions) -> str:
        return " ".join(action_to_gtp(int(a), self.n) for a in actions) or "-"

    def _fail(self, kind: str, detail: str) -> None:
        self.tally.disagreements += 1
        self._report(kind, detail)
        raise _Disagreement(kind)

    def _report(self, kind: str, detail: str, **extra: object) -> None:
        if len(self.tally.reports) < self.max_reports:
            self.tally.reports.append({
                "board_size": self.n, "game": self._label, "kind": kind, "detail": detail,
                "move_number": len(self._moves), "moves": " ".join(self._moves), **extra,
            })

    # ------------------------------------------------------------------ games
    def random_game(self, rng: np.random.Generator, label: str = "") -> None:
        """One random game (see the module docstring); disagreements are tallied."""
        self.new_game(label)
        self.tally.games += 1
        with _one_numba_thread():
            self._guarded(self._random_moves, rng)

    def _random_moves(self, rng: np.random.Generator) -> None:
        while not self.eng.done[0]:
            self.compare()
            self.play(int(self.eng.random_actions(rng)[0]))
        self.compare()

    def scoring_game(self, rng: np.random.Generator, label: str = "",
                     opening_moves: int | None = None) -> None:
        """GNU Go against itself after ``opening_moves`` random moves (default: a random
        number below N), then the final scores compared."""
        self.new_game(label)
        self.tally.scoring_games += 1
        if opening_moves is None:
            opening_moves = int(rng.integers(0, self.n))
        with _one_numba_thread():
            self._guarded(self._selfplay_moves, rng, opening_moves)

    def _selfplay_moves(self, rng: np.random.Generator, opening_moves: int) -> None:
        self.gnugo.send(f"set_random_seed {int(rng.integers(0, 2**31))}")
        for _ in range(opening_moves):
            self.compare()
            self.play(int(self.eng.random_actions(rng)[0]))
        while not self.eng.done[0]:
            self.compare()
            move = self.gnugo.genmove(self.colour)
            if move == "resign":
                self._fail("GNU Go resigned", "despite --never-resign")
            self.play(gtp_to_action(move, self.n), gnugo_played=True)
        self.compare()
        if self.eng.end_reason[0] != 1:
            self._fail("move cap", f"self-play reached rlgo's move cap of {self.rules.max_moves}")
        self._compare_scores()

    def _compare_scores(self) -> None:
        mine = float(self.eng.scores()[0])
        result = self.gnugo.final_score()
        if mine == gtp.parse_score(result):
            self.tally.scores_agreed += 1
            return
        kind, detail = explain_score_difference(self.gnugo, self.eng.boards[0],
                                                float(self.rules.komi))
        counter = {"dead stones": "scores_dead_stones", "dame": "scores_gnugo_dame"}
        name = counter.get(kind, "scores_unexplained")
        setattr(self.tally, name, getattr(self.tally, name) + 1)
        self._report(f"score differs ({kind})",
                     f"rlgo Tromp-Taylor {mine:+g}, GNU Go final_score {result}; {detail}")

    def _guarded(self, play_game, *args) -> None:
        try:
            play_game(*args)
        except _Disagreement:
            pass
        except gtp.EngineDiedError as err:
            self.tally.engine_errors += 1
            self._report("engine error", str(err))
            self.gnugo.restart(replay_moves=False)


# ---------------------------------------------------------------------- runs


def _game_rng(seed: int, board_size: int, kind: int, index: int) -> np.random.Generator:
    """Each game's own stream, so results do not depend on how games are split."""
    return np.random.default_rng([seed, board_size, kind, index])


def _run_chunk(board_size: int, seed: int, random_games: range, scoring_games: range,
               options: dict) -> Tally:
    tally = Tally()
    max_reports = options["max_reports"]
    if len(random_games):
        with Oracle(board_size, **options) as oracle:
            for i in random_games:
                oracle.random_game(_game_rng(seed, board_size, 0, i), label=f"random {seed}/{i}")
            tally.add(oracle.tally, max_reports)
    if len(scoring_games):
        # Self-play runs to two passes; the cap only stops a runaway game.
        with Oracle(board_size, **{**options, "max_moves": SCORING_MAX_MOVES * board_size**2}
                    ) as oracle:
            for i in scoring_games:
                oracle.scoring_game(_game_rng(seed, board_size, 1, i), label=f"scoring {seed}/{i}")
            tally.add(oracle.tally, max_reports)
    return tally


def _chunks(total: int, parts: int) -> list[range]:
    edges = np.linspace(0, total, parts + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def verify_against_gnugo(board_size: int, games: int, seed: int = 0, *,
                         scoring_games: int = 0, max_moves: int | None = None,
                         komi: float | None = None, level: int = 1,
                         gnugo_path: str = gtp.GNUGO_PATH, workers: int = 1,
                         max_reports: int = 10, fix_gnugo_hash: bool = True) -> dict:
    """Play ``games`` random games and ``scoring_games`` GNU Go self-play games of size
    ``board_size`` in rlgo and GNU Go, comparing as described in the module docstring.

    ``max_moves`` caps random games (default rlgo's 2 N^2); scoring games always run to two
    passes. ``workers`` processes each drive their own GNU Go. Game i of a seed is the same
    whatever ``workers`` is. ``fix_gnugo_hash`` works around GNU Go's stale hash after move
    500 (module docstring). Returns the :class:`Tally` as a dict plus the settings.
    """
    start = time.perf_counter()
    options = {"max_moves": max_moves, "komi": komi, "level": level, "gnugo_path": gnugo_path,
               "max_reports": max_reports, "fix_gnugo_hash": fix_gnugo_hash}
    total = Tally()
    if workers <= 1:
        total = _run_chunk(board_size, seed, range(games), range(scoring_games), options)
    else:
        parts = 4 * workers
        jobs = list(zip(_chunks(games, parts), _chunks(scoring_games, parts), strict=True))
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_run_chunk, board_size, seed, r, s, options) for r, s in jobs]
            for fut in futures:
                total.add(fut.result(), max_reports)
    total.seconds = round(time.perf_counter() - start, 2)
    settings = {"board_size": board_size, "seed": seed, "level": level,
                "max_moves": Rules(board_size=board_size, max_moves=max_moves).max_moves,
                "komi": Rules(board_size=board_size, komi=komi).komi, "workers": workers}
    return {**settings, **asdict(total)}


def format_summary(result: dict) -> str:
    """A few readable lines from :func:`verify_against_gnugo`'s dict."""
    r = result
    lines = [
        f"{r['board_size']}x{r['board_size']}, seed {r['seed']}: {r['games']} random games, "
        f"{r['scoring_games']} GNU Go self-play games (level {r['level']}), {r['moves']} moves, "
        f"{r['seconds']:.1f} s",
        f"  compared: {r['positions']} legal-move sets, {r['boards']} boards; bans seen: "
        f"{r['suicide_bans']} suicide, {r['ko_bans']} simple ko, {r['superko_bans']} superko "
        f"({r['beyond_gnugo_history']} older than GNU Go's history)",
        f"  disagreements: {r['disagreements']}; engine errors: {r['engine_errors']}",
    ]
    if r["scoring_games"]:
        lines.append(f"  scores: {r['scores_agreed']} equal, {r['scores_dead_stones']} differ "
                     f"by stones GNU Go calls dead, {r['scores_gnugo_dame']} by points GNU Go "
                     f"calls dame next to a seki, {r['scores_unexplained']} unexplained")
    for rep in r["reports"]:
        lines.append(f"  - [{rep['game']}] {rep['kind']} after {rep['move_number']} moves: "
                     f"{rep['detail']}\n    moves: {rep['moves']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlgo.gtp.verify", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--board-size", type=int, default=9)
    parser.add_argument("--games", type=int, default=100, help="random games")
    parser.add_argument("--scoring-games", type=int, default=0,
                        help="GNU Go self-play games whose scores are compared")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-moves", type=int, default=None,
                        help="move cap of the random games (default 2 N^2)")
    parser.add_argument("--komi", type=float, default=None)
    parser.add_argument("--level", type=int, default=1, help="GNU Go level of self-play")
    parser.add_argument("--workers", type=int, default=1, help="processes, one GNU Go each")
    parser.add_argument("--gnugo", default=gtp.GNUGO_PATH, help="path of the gnugo binary")
    parser.add_argument("--raw-gnugo", action="store_true",
                        help="do not repair GNU Go's position hash after move 500")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    result = verify_against_gnugo(
        args.board_size, args.games, args.seed, scoring_games=args.scoring_games,
        max_moves=args.max_moves, komi=args.komi, level=args.level, gnugo_path=args.gnugo,
        workers=args.workers, fix_gnugo_hash=not args.raw_gnugo)
    print(json.dumps(result) if args.json else format_summary(result))
    failures = result["disagreements"] + result["engine_errors"] + result["scores_unexplained"]
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
