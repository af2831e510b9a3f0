"""A fixed Elo scale per board: calibrated anchors, and adaptive match-making against them.

**Reference table.** Fixed players (random, rollout MCTS at growing playout budgets, GNU Go
levels) are calibrated once per board size and komi by :func:`calibrate`: each anchor plays
the next one and the one after it in the list (paired random openings, colours
alternating), and one Bradley-Terry fit anchored at random = 0 gives every anchor an Elo
and a standard error. The table is a small TOML file (:class:`ReferenceTable`), committed
under ``studies/anchors/``, with the command that rebuilds it.

**Rating against the table.** A snapshot is then rated with the anchors' ratings held
fixed (:func:`rate_against`): one-dimensional maximum likelihood with the same prior as
:func:`rlgo.evaluation.elo.fit_elo` (``prior_games`` virtual games, half won, against a
player at the mean Elo of the anchors met), a Laplace standard error, and a saturated
record (every game won, or lost) reported as a bound, never as a point.

**Adaptive match-making** (:func:`adaptive_rating`): rounds of games against the anchor
whose rating is nearest the snapshot's current estimate, so that expected scores sit where
a game says most, until the standard error is at most ``target_stderr`` or ``max_games``
have been played. A record that stays saturated against the strongest (weakest) anchor
ends as a bound.

**Anchors this machine cannot play** (an engine not installed, say Pachi):
:func:`playable_here` leaves them out of the match-making; the others keep their
calibrated ratings, so the scale is the same and only its top may be shorter.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from rlgo.envs import Rules
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.elo import ELO_PER_NAT, black_scores, fit_elo
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import (
    make_player,
    missing_program,
    refuse_programs,
    runs_program,
)
from rlgo.protocols import Player, close_players

VERSION = 1
"""Version of the reference-table file format."""


@dataclass(frozen=True)
class ReferenceTable:
    """Calibrated anchors of one board size and komi."""

    board_size: int
    komi: float
    anchors: dict[str, tuple[float, float]]
    """Player spec -> (Elo, standard error), random = 0."""
    command: str = ""
    """The command that rebuilds the table."""
    games: int = 0
    """Games the calibration played."""

    def __post_init__(self) -> None:
        if len(self.anchors) < 2:
            raise ValueError(f"[anchors] holds {len(self.anchors)} anchor(s); a scale needs "
                             "at least two")
        for spec, (elo, err) in self.anchors.items():
            if not math.isfinite(elo):
                raise ValueError(f"anchor {spec!r}: elo = {elo} is not a finite number")
            if not (math.isfinite(err) and err >= 0):
                raise ValueError(f"anchor {spec!r}: stderr = {err} must be a finite number "
                                 ">= 0")

    @classmethod
    def load(cls, path: str | Path, rules: Rules | None = None, *,
             allow_commands: bool = False) -> ReferenceTable:
        """Read a table; ValueError if it is malformed, of another version, holds fewer
        than two anchors, a rating that is not finite or a negative error, (with
        ``rules``) is of another board size or komi, or (unless ``allow_commands``: the
        user's ``--allow-commands``) names an anchor that runs a program: a table is
        data (:func:`rlgo.evaluation.players.refuse_programs`)."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text())
            head = doc["reference"]
            fields = dict(board_size=int(head["board_size"]), komi=float(head["komi"]),
                          anchors={str(k): (float(v["elo"]), float(v["stderr"]))
                                   for k, v in doc["anchors"].items()},
                          command=str(head.get("command", "")),
                          games=int(head.get("games", 0)))
            version = int(head["version"])
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, KeyError, TypeError,
                ValueError, AttributeError) as exc:
            raise ValueError(f"{path} is not an rlgo reference table: {exc}") from exc
        if version != VERSION:
            raise ValueError(f"{path} is a version {version} reference table; this rlgo "
                             f"reads version {VERSION}")
        try:
            table = cls(**fields)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        refuse_programs(table.anchors, f"reference table {path}", allow_commands)
        if rules is not None and (rules.board_size, rules.komi) != (table.board_size,
                                                                    table.komi):
            raise ValueError(f"{path} calibrates {table.board_size}x{table.board_size} with "
                             f"komi {table.komi}, not {rules.board_size}x{rules.board_size} "
                             f"with komi {rules.komi}")
        return table

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["[reference]", f"version = {VERSION}", f"board_size = {self.board_size}",
                 f"komi = {self.komi!r}", f"games = {self.games}",
                 f"command = {_toml_string(self.command)}", "", "[anchors]"]
        lines += [f"{_toml_string(spec)} = {{ elo = {elo:.1f}, stderr = {err:.1f} }}"
                  for spec, (elo, err) in sorted(self.anchors.items(), key=lambda kv: kv[1])]
        path.write_text("\n".join(lines) + "\n")
        return path

    def runs_programs(self) -> list[str]:
        """Its anchors that run a program (``gtp:``): using the table needs
        ``--allow-commands``."""
        return [a for a in self.anchors if runs_program(a)]


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's): a spec or command
    holding quotes stays one string."""
    return json.dumps(text)


def playable_here(table: ReferenceTable) -> tuple[ReferenceTable, dict[str, str]]:
    """``table`` without the anchors whose engine is not installed on this machine
    (:func:`rlgo.evaluation.players.missing_program`), and why each was left out."""
    missing = {a: why for a in table.anchors if (why := missing_program(a)) is not None}
    if not missing:
        return table, {}
    if len(table.anchors) - len(missing) < 2:
        raise ValueError("fewer than two anchors of the table can be played on this "
                         "machine: " + "; ".join(f"{a} ({why})" for a, why in missing.items()))
    return replace(table, anchors={a: v for a, v in table.anchors.items()
                                   if a not in missing}), missing


def leaving_out(missing: dict[str, str]) -> str:
    """One line saying which anchors :func:`playable_here` left out, and why."""
    reasons: dict[str, list[str]] = {}
    for anchor, why in missing.items():
        reasons.setdefault(why, []).append(anchor)
    return ("leaving out anchors this machine cannot play: "
            + "; ".join(f"{', '.join(a)} ({why})" for why, a in reasons.items())
            + ". The scale is unchanged; a player above the strongest anchor left is "
              "rated as a bound.")


def compare_tables(first: ReferenceTable, second: ReferenceTable) -> pd.DataFrame:
    """How far a recalibration (``second``, e.g. the same command with another seed) moved
    each anchor of ``first`` that both tables hold (random, the zero, left out).

    Columns: anchor, elo and stderr (``first``'s), elo_again and stderr_again
    (``second``'s), moved (``second`` - ``first``), within (``|moved| <= 1.96`` first's
    s.e.: "no anchor moves by more than its interval") and within_difference
    (``|moved| <= 1.96 sqrt(s1^2 + s2^2)``, the 95% interval of the difference of two
    independent estimates: the fair test that two calibrations agree, since even two
    correct ones fall outside one table's interval about one time in six per anchor).
    Raises ValueError for tables of different boards or komi, or with no shared anchor.
    """
    if (first.board_size, first.komi) != (second.board_size, second.komi):
        raise ValueError(f"the tables calibrate different games: {first.board_size}x"
                         f"{first.board_size} komi {first.komi:g} and {second.board_size}x"
                         f"{second.board_size} komi {second.komi:g}")
    shared = [a for a in first.anchors if a in second.anchors and a != "random"]
    if not shared:
        raise ValueError("the tables share no anchor besides random")
    rows = []
    for a in shared:
        (elo, err), (again, err_again) = first.anchors[a], second.anchors[a]
        moved = again - elo
        rows.append({"anchor": a, "elo": elo, "stderr": err, "elo_again": again,
                     "stderr_again": err_again, "moved": moved,
                     "within": abs(moved) <= 1.96 * err,
                     "within_difference": abs(moved) <= 1.96 * math.hypot(err, err_again)})
    return pd.DataFrame(rows)


def format_comparison(moved: pd.DataFrame) -> str:
    """:func:`compare_tables`'s result as ``rlgo ladder compare`` prints it: a line per
    anchor, then how many stayed within the intervals."""
    lines = [f"{r.anchor:<16}{r.elo:>7.0f} ± {r.stderr:<4.0f}{r.elo_again:>7.0f} ± "
             f"{r.stderr_again:<4.0f}{r.moved:>+6.0f}  "
             f"{'within' if r.within else 'OUTSIDE'} its interval, "
             f"{'within' if r.within_difference else 'OUTSIDE'} the difference's"
             for r in moved.itertuples()]
    n = len(moved)
    lines.append(f"{int(moved.within.sum())} of {n} anchors within the first table's 95% "
                 f"interval; {int(moved.within_difference.sum())} of {n} within the 95% "
                 "interval of the difference")
    return "\n".join(lines)


def calibrate(specs: Sequence[str], rules: Rules, db: MatchDB, games: int = 100,
              seed: int = 0, opening_moves: int = 2, command: str = "",
              progress: Callable[[str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> ReferenceTable:
    """Play each anchor of ``specs`` (weakest first, ``random`` among them) against the
    next two in the list, ``games`` games per pairing, and fit their ratings (module
    docstring). The games go to ``db``, tagged ``run = "calibration"`` and with their
    pairing (:func:`calibration_pairings`).

    Resumable: a pairing whose games are all in ``db`` already is not played again, and
    one cut short (a killed calibration) is replayed whole, so rerunning the same command
    after a kill finishes the table with the games of the same design. Anchors appended at
    the end of ``specs`` keep every earlier pairing, so a table extends upwards by playing
    only the new pairings. Raises ValueError when ``db`` holds calibration games of this
    board and komi that this design would not play (other anchors in that place, another
    seed, games per pairing or opening length): the fit would mix them. Every anchor is
    built once before any game, so a bad spec or an engine that does not start fails
    first. ``progress``, if given, is told of the pairings kept and of each pairing as
    it ends. ``should_stop`` is asked between moves (:func:`play_match`): True stops the
    calibration with KeyboardInterrupt, every finished pairing kept
    (:func:`calibration_kept` counts them)."""
    say = progress or (lambda line: None)
    if games < 1:
        raise ValueError(f"games per pairing must be >= 1, got {games}")
    if "random" not in specs:
        raise ValueError("the anchors must include random, the zero of the scale")
    if len(set(specs)) != len(specs):
        raise ValueError(f"an anchor is listed twice: {list(specs)}")
    pairings = calibration_pairings(specs, games, seed, opening_moves)
    for i, spec in enumerate(specs):  # a bad anchor fails now, not hours into the games
        close_players(make_player(spec, rules, seed=seed + i))
    for a, b in _pairings_to_play(pairings, games, rules, db, say):
        i, j = specs.index(a), specs.index(b)
        _play_pairing(a, b, (seed + i, seed + j), games, rules, db, say,
                      tags={"calibration": pairings[(a, b)]}, opening_moves=opening_moves,
                      seed=seed + 1_000 * i + j, should_stop=should_stop)
    played = _calibration_games(db, rules)
    return ReferenceTable(rules.board_size, float(rules.komi), _fit_anchors(played, specs),
                          command=command, games=len(played))


def calibration_kept(specs: Sequence[str], rules: Rules, db: MatchDB, games: int = 100,
                     seed: int = 0, opening_moves: int = 2) -> tuple[int, int, int]:
    """(finished pairings, their games, all pairings) of the calibration :func:`calibrate`
    would run with these arguments, as ``db`` holds it: what a rerun keeps (a pairing
    cut short is replayed whole)."""
    pairings = calibration_pairings(specs, games, seed, opening_moves)
    counts = _calibration_games(db, rules).tags.map(
        lambda t: (t or {}).get("calibration")).value_counts()
    done = sum(counts.get(key, 0) == games for key in pairings.values())
    return done, done * games, len(pairings)


def _pairings_to_play(pairings: dict[tuple[str, str], str], games: int, rules: Rules,
                      db: MatchDB, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """The pairings of ``pairings`` whose games are not all in ``db``; the games of one cut
    short are deleted (it is replayed whole). Raises ValueError for calibration games in
    ``db`` that none of ``pairings`` would play."""
    earlier = _calibration_games(db, rules)
    keys = earlier.tags.map(lambda t: (t or {}).get("calibration"))
    foreign = earlier[~keys.isin(list(pairings.values()))]
    if len(foreign):
        raise ValueError(
            f"the database already holds {len(foreign)} calibration games of "
            f"{rules.board_size}x{rules.board_size} komi {rules.komi:g} that this "
            "calibration would not play (other anchors, seed, games per pairing or "
            "openings), which the fit would mix with these: use a new --db, or the "
            "command that played them")
    counts = keys.value_counts()
    todo = [pair for pair, key in pairings.items() if counts.get(key, 0) != games]
    partial = earlier.id[keys.isin([pairings[p] for p in todo])].tolist()
    if partial:
        db.delete_games(run="calibration", ids=partial)
    if len(todo) < len(pairings) or partial:
        say(f"{len(pairings) - len(todo)} of {len(pairings)} pairings already played, kept; "
            f"{len(partial)} games of a pairing cut short removed")
    return todo


def _play_pairing(a: str, b: str, player_seeds: tuple[int, int], games: int, rules: Rules,
                  db: MatchDB, say: Callable[[str], None], **match: Any) -> None:
    """One pairing with fresh players, so that a resumed calibration plays the same games
    as one never stopped (a player's random stream would otherwise carry over)."""
    players: list[Player] = []
    try:
        for spec, s in zip((a, b), player_seeds, strict=True):
            players.append(make_player(spec, rules, seed=s))
        start = time.perf_counter()
        summary = play_match(*players, games, rules, db, run="calibration", **match)
        say(f"{a} vs {b}: +{summary.wins} -{summary.losses} ={summary.draws} "
            f"({games} games, {time.perf_counter() - start:.0f} s)")
    finally:
        close_players(*players)


def _fit_anchors(played: pd.DataFrame, specs: Sequence[str]) -> dict[str, tuple[float, float]]:
    """(Elo, s.e.) of every anchor from the calibration games; ValueError when a rating
    would rest on the prior (a saturated record, or groups linked only by sweeps)."""
    fit = fit_elo(played).set_index("player")
    saturated = [s for s in specs if fit.loc[s, "bound"]]
    if saturated:
        raise ValueError(f"anchors {saturated} won or lost every calibration game: the "
                         "scale has a gap there; add anchors between them")
    groups = linked_groups(played, specs)
    if len(groups) > 1:
        raise ValueError(
            "the calibration games link the anchors " + " to ".join(map(str, groups))
            + " only by sweeps (one side won every game), so the distance between those "
            "groups would be set by the prior, not by games: add anchors between them")
    return {s: (float(fit.loc[s, "elo"]), float(fit.loc[s, "stderr"])) for s in specs}


def calibration_pairings(specs: Sequence[str], games: int, seed: int,
                         opening_moves: int) -> dict[tuple[str, str], str]:
    """The calibration's pairings, each anchor against the next two in ``specs``, in
    playing order: (first, second) -> the key tagged on their games, which names
    everything that decides them (the two anchors and their places in the list, whose
    seeds follow from them, the seed, the games and the opening length)."""
    return {(a, b): (f"{a}#{i} vs {b}#{j}, seed {seed}, {games} games, "
                     f"{opening_moves} opening moves")
            for i, a in enumerate(specs)
            for j, b in enumerate(specs[i + 1: i + 3], start=i + 1)}


def _calibration_games(db: MatchDB, rules: Rules) -> pd.DataFrame:
    games = db.games(board_size=rules.board_size, run="calibration", with_sgf=False)
    return games[games.komi == rules.komi]


def linked_groups(games: pd.DataFrame, specs: Sequence[str]) -> list[list[str]]:
    """The anchors grouped by informative links: two anchors are linked when their games
    against each other have at least one win (or a draw) for each side; a sweep says only
    "far apart", not how far. One group means every rating rests on games."""
    parent = {s: s for s in specs}

    def root(a: str) -> str:
        while parent[a] != a:
            a = parent[a]
        return a

    points: dict[tuple[str, str], float] = {}
    for black, white, b in zip(games.black, games.white, black_scores(games), strict=True):
        if black not in parent or white not in parent:
            continue
        points[(black, white)] = points.get((black, white), 0.0) + b
        points[(white, black)] = points.get((white, black), 0.0) + 1.0 - b
    for a, b in points:
        if points[(a, b)] > 0 and points[(b, a)] > 0:
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for s in specs:
        groups.setdefault(root(s), []).append(s)
    return list(groups.values())


@dataclass(frozen=True)
class Rating:
    """A player's rating against fixed opponents."""

    elo: float
    stderr: float
    bound: str = ""
    """">" (won every game: elo is only above ``bound_elo``), "<" (lost every one), ""."""
    bound_elo: float = float("nan")
    games: int = 0


def rate_against(results: Sequence[tuple[float, float]], prior_games: float = 2.0) -> Rating:
    """Rating from ``(opponent Elo, score)`` pairs, opponents' ratings fixed (module
    docstring). Newton's method on the log posterior in nats, safeguarded by bisection:
    the posterior's slope falls monotonically from positive to negative, so the root is
    kept in a bracket and a Newton step that leaves it (far from every opponent the
    curvature vanishes and a pure Newton step overshoots) is replaced by the midpoint."""
    if not results:
        raise ValueError("no games to rate")
    opp_elo = np.array([r[0] for r in results], float)
    opp = opp_elo / ELO_PER_NAT
    score = np.array([r[1] for r in results], float)
    centre = float(opp.mean())

    def slope_and_info(theta: float) -> tuple[float, float]:
        p, p0 = expit(theta - opp), float(expit(theta - centre))
        return (float((score - p).sum()) + prior_games * (0.5 - p0),
                float((p * (1 - p)).sum()) + prior_games * p0 * (1 - p0))

    # the slope is > 0 far below every opponent and < 0 far above (prior included)
    lo, hi = float(opp.min()) - 50.0, float(opp.max()) + 50.0
    theta = centre
    for _ in range(200):
        grad, info = slope_and_info(theta)
        if grad == 0:
            break
        if grad > 0:
            lo = theta
        else:
            hi = theta
        newton = theta + grad / info if info > 0 else math.nan
        step_to = newton if lo < newton < hi else 0.5 * (lo + hi)
        done = abs(step_to - theta) < 1e-10 or hi - lo < 1e-10
        theta = step_to
        if done:
            break
    _, info = slope_and_info(theta)
    rating = Rating(elo=theta * ELO_PER_NAT, stderr=ELO_PER_NAT / math.sqrt(info),
                    games=len(results))
    if (score == 1.0).all():
        return Rating(rating.elo, rating.stderr, ">", float(opp_elo.max()),
                      len(results))
    if (score == 0.0).all():
        return Rating(rating.elo, rating.stderr, "<", float(opp_elo.min()),
                      len(results))
    return rating


@dataclass
class AdaptiveResult:
    rating: Rating
    played: dict[str, list[float]] = field(default_factory=dict)
    """Anchor -> the player's scores against it, in order."""


def adaptive_rating(table: ReferenceTable, play: Callable[[str, int], list[float]],
                    *, start_elo: float | None = None, target_stderr: float = 50.0,
                    max_games: int = 200, round_games: int = 10) -> AdaptiveResult:
    """Rate a player against ``table``'s anchors (module docstring). ``play(anchor,
    games)`` plays that many games of the player against the anchor (an even number:
    colours alternate) and returns its score in each; :func:`ladder_play` makes one that
    stores the games."""
    if round_games < 2 or round_games % 2:
        raise ValueError("round_games must be even and >= 2 (colours alternate)")
    if not (math.isfinite(target_stderr) and target_stderr > 0):
        raise ValueError(f"target_stderr must be a positive number of Elo, got {target_stderr}")
    if max_games < round_games:
        raise ValueError(f"max_games must allow one round of {round_games} games, got "
                         f"{max_games}")
    elos = dict(sorted(table.anchors.items(), key=lambda kv: kv[1][0]))
    estimate = start_elo if start_elo is not None else float(np.median(
        [e for e, _ in elos.values()]))
    result = AdaptiveResult(Rating(estimate, math.inf))
    results: list[tuple[float, float]] = []
    while len(results) + round_games <= max_games:
        anchor = _nearest(elos, estimate, result.rating)
        scores = play(anchor, round_games)
        result.played.setdefault(anchor, []).extend(scores)
        results += [(elos[anchor][0], s) for s in scores]
        result.rating = rate_against(results)
        estimate = result.rating.elo
        if result.rating.stderr <= target_stderr and not result.rating.bound:
            break
        if _saturated_at_the_end(elos, result):
            break
    return result


def _nearest(elos: dict[str, tuple[float, float]], estimate: float, rating: Rating) -> str:
    """The anchor to play next: past the one that bounds a saturated record, else the one
    nearest the estimate."""
    names = list(elos)
    if rating.bound == ">":
        above = [a for a in names if elos[a][0] > rating.bound_elo]
        return above[0] if above else names[-1]
    if rating.bound == "<":
        below = [a for a in names if elos[a][0] < rating.bound_elo]
        return below[-1] if below else names[0]
    return min(names, key=lambda a: (abs(elos[a][0] - estimate), -elos[a][0]))


def _saturated_at_the_end(elos: dict[str, tuple[float, float]], result: AdaptiveResult) -> bool:
    """A record of all wins against the strongest anchor (or all losses against the
    weakest): no anchor can resolve it further."""
    names = list(elos)
    r = result.rating
    return ((r.bound == ">" and r.bound_elo >= elos[names[-1]][0])
            or (r.bound == "<" and r.bound_elo <= elos[names[0]][0]))


def ladder_play(player: Player, rules: Rules, db: MatchDB | None, *, run: str | None = None,
                env_steps: int | None = None, seed: int = 0, opening_moves: int = 2,
                tags: dict[str, str] | None = None) -> Callable[[str, int], list[float]]:
    """A ``play`` for :func:`adaptive_rating`: games of ``player`` against an anchor spec
    (players built once and reused), stored in ``db``; returns the player's scores."""
    anchors: dict[str, Player] = {}
    rounds = [0]

    def play(anchor: str, games: int) -> list[float]:
        if anchor not in anchors:
            anchors[anchor] = make_player(anchor, rules, seed=seed + len(anchors))
        rounds[0] += 1
        summary = play_match(player, anchors[anchor], games, rules, db, run=run,
                             env_steps=env_steps, tags=tags, opening_moves=opening_moves,
                             seed=seed + rounds[0])
        return [1.0] * summary.wins + [0.5] * summary.draws + [0.0] * summary.losses

    play.anchors = anchors  # type: ignore[attr-defined]  (closed by the caller)
    return play
