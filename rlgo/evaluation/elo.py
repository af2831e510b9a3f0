"""Elo ratings from game results: maximum-likelihood Bradley-Terry with a prior in games.

Model. Player i has a strength theta_i in nats; a game between i and j is scored s = 1 (i won),
0.5 (draw) or 0 (i lost), and the likelihood of a game is
``sigmoid(d)**s * sigmoid(-d)**(1 - s)`` with ``d = theta_i - theta_j``. On the Elo scale
(``elo = theta * 400 / ln 10``, :data:`ELO_PER_NAT`) a difference of ``D`` Elo means an expected
score of ``1 / (1 + 10**(-D / 400))`` (:func:`expected_score`): +100 Elo ~ 64 %, +400 ~ 91 %.

Draws count as half a win and half a loss for each side (s = 0.5 above); this is the usual Elo
convention and KataGo's. Colours are not modelled: komi is meant to make Black and White even,
and evaluation should alternate colours exactly so that any residual edge cancels.

Prior, in games (KataGo's ``make_single_player_prior``): every player is credited with
``prior_games`` virtual games against one virtual reference player, half of them won and half
lost. This keeps every rating finite - a player who won every game it played sits a finite,
data-dependent distance above its opponents rather than at +inf - and pulls ratings towards
the middle by about as much as ``prior_games`` drawn games would. With the default of 2 and a
few dozen real games per player the pull is a few Elo, well inside the standard error. The
reference's own rating is fitted too; that gives the same estimate as holding it fixed, since
the likelihood depends only on differences.

Fitting. :func:`choix.ilsr_pairwise_dense` (iterative Luce spectral ranking) on the matrix of
fractional win counts, with the virtual player appended, converges to the exact maximum of
the likelihood above, prior included.

Standard errors (Laplace approximation, as KataGo). The negative Hessian of the log posterior
at the estimate is a weighted graph Laplacian ``L`` with edge weights
``w_ij = n_ij * p_ij * (1 - p_ij)``, where ``n_ij`` counts the games (real or virtual) between
i and j and ``p_ij = sigmoid(theta_i - theta_j)``; a draw contributes the same curvature as a
decisive game. The variance of a rating relative to the anchor is ``c^T L^+ c`` with
``c = e_i - e_anchor``: only differences are identified, and for such contrasts the
pseudo-inverse gives what inverting with the anchor held fixed would.

Anchoring. The player named ``anchor`` (default ``"random"``) is pinned at ``anchor_elo``
(default 0) with standard error 0; every other rating, error and interval is relative to it.
If ``anchor`` is None, or absent from the games (then with a warning), the mean rating of the
largest connected group of players is pinned at ``anchor_elo`` instead; ``attrs["anchor"]`` of
the result says which rule applied.

Saturated records. A player that won every game it played (or lost every one) has no
maximum-likelihood rating: only the prior places it, somewhere above the strongest player
it beat. Its row keeps the prior's estimate in ``elo`` but says so: ``bound`` is ``">"``
(all wins) or ``"<"`` (all losses) and ``bound_elo`` the rating of the strongest opponent
it beat (or the weakest it lost to); read such a rating as "more than bound_elo", never as
a point estimate. (The anchor is pinned and never flagged; records with a draw are not
saturated.)

Disconnected players. A player with no chain of real games to the anchor has no rating on the
anchor's scale (the prior alone would place it, arbitrarily). Such players are reported with
``elo = NaN``, ``stderr = inf`` and ``connected = False``, or :func:`fit_elo` raises if asked.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import choix
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from scipy.special import expit
from scipy.stats import norm

__all__ = ["ELO_PER_NAT", "RATING_COLUMNS", "expected_score", "fit_elo", "format_elo_table"]

ELO_PER_NAT: float = 400.0 / math.log(10.0)
"""Elo per nat of Bradley-Terry strength (~173.7): Elo gap = ELO_PER_NAT * (theta_i - theta_j)."""

RATING_COLUMNS: tuple[str, ...] = (
    "player", "elo", "stderr", "lo", "hi", "games", "wins", "losses", "draws", "connected",
    "bound", "bound_elo",
)
"""Columns of the table :func:`fit_elo` returns, in order."""

_SCORE_OF_WINNER: dict[str, float] = {"b": 1.0, "black": 1.0, "w": 0.0, "white": 0.0, "draw": 0.5}
"""Black's score for each accepted (lower-cased) value of a ``winner`` column."""

# ILSR stops when log-strengths move less than this per player and step (mean |change|, nats).
_ILSR_TOL = 1e-9
_ILSR_MAX_ITER = 10_000


@dataclass(frozen=True)
class _Results:
    """Games reduced to integer player ids; G games, P players."""

    names: tuple[str, ...]
    """Player names, sorted; a player's id is its index here. [P]"""
    first: np.ndarray
    """Id of Black in each game. [G] int"""
    second: np.ndarray
    """Id of White in each game. [G] int"""
    score: np.ndarray
    """Black's score in each game: 1 win, 0.5 draw, 0 loss. [G] float"""


def expected_score(elo_a: float | np.ndarray, elo_b: float | np.ndarray) -> float | np.ndarray:
    """Expected score of A against B (win 1, draw 1/2): ``1 / (1 + 10**((elo_b - elo_a) / 400))``.

    Broadcasts over arrays; returns a float for scalar inputs.
    """
    out = 1.0 / (1.0 + 10.0 ** ((np.asarray(elo_b, float) - np.asarray(elo_a, float)) / 400.0))
    return float(out) if out.ndim == 0 else out


def fit_elo(
    games: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    anchor: str | None = "random",
    anchor_elo: float = 0.0,
    prior_games: float = 2.0,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    disconnected: Literal["nan", "raise"] = "nan",
) -> pd.DataFrame:
    """Fit Bradley-Terry Elo ratings, with standard errors and intervals, to all games.

    Args:
        games: one row per game with columns ``black``, ``white`` (player names) and
            ``winner`` (``"B"``/``"black"``, ``"W"``/``"white"`` or ``"draw"``, any case) and/or
            ``score`` (Black minus White, komi included; its sign decides games whose winner is
            missing), as returned by ``MatchDB.games()``; or an iterable of such mappings.
            Games of a player against itself carry no information and are ignored.
        anchor: player pinned at ``anchor_elo``; None or absent pins the mean instead (module
            docstring, "Anchoring").
        anchor_elo: Elo given to the anchor (or to the mean).
        prior_games: virtual games, half won and half lost, that every player has against a
            common reference player; must be > 0 (module docstring, "Prior").
        bootstrap: number of bootstrap refits, resampling games with replacement; 0 gives
            normal intervals ``elo -/+ z * stderr`` instead of percentile ones.
        seed: seed of the bootstrap resampling.
        level: coverage of the ``lo``/``hi`` interval, e.g. 0.95.
        disconnected: ``"nan"`` reports players with no chain of games to the anchor with
            NaN Elo and infinite error; ``"raise"`` raises ValueError instead.

    Returns:
        One row per player, sorted by Elo descending (disconnected players last), with columns
        :data:`RATING_COLUMNS`: ``elo`` and its ``stderr`` (Elo, relative to the anchor),
        ``lo``/``hi`` (interval at ``level``), ``games``, ``wins``, ``losses``, ``draws``
        (real games only) and ``connected``. ``attrs`` records the anchor rule, prior, interval
        method and, with a bootstrap, how many refits were usable.
    """
    if not prior_games > 0:
        raise ValueError(f"prior_games must be > 0 to keep ratings finite, got {prior_games}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if disconnected not in ("nan", "raise"):
        raise ValueError(f"disconnected must be 'nan' or 'raise', got {disconnected!r}")
    res = _parse_games(games)
    n = len(res.names)
    comp = _win_matrix(res, np.arange(len(res.score)), n)
    labels = _components(comp)
    ref, note = _reference(res.names, labels, anchor, anchor_elo)
    connected = labels == labels[np.flatnonzero(ref)[0]]
    if disconnected == "raise" and not connected.all():
        lost = [name for name, ok in zip(res.names, connected, strict=True) if not ok]
        raise ValueError(f"no chain of games links these players to the reference: {lost}")

    theta = _fit_theta(comp, prior_games)
    rel = theta[:n] - ref @ theta[:n]
    elo = np.where(connected, anchor_elo + ELO_PER_NAT * rel, np.nan)
    stderr = np.where(connected, _stderr(theta, comp, prior_games, ref), np.inf)
    attrs: dict[str, Any] = {"anchor": note, "prior_games": prior_games, "level": level,
                             "games": len(res.score)}
    if bootstrap > 0:
        samples = _bootstrap(res, prior_games, ref, theta, bootstrap, seed)
        lo, hi = _percentile_interval(samples, level)
        lo, hi = anchor_elo + lo, anchor_elo + hi
        attrs.update(interval="bootstrap percentile", bootstrap=bootstrap,
                     bootstrap_valid=int(np.isfinite(samples).any(axis=1).sum()))
    else:
        z = float(norm.ppf(0.5 + level / 2.0))
        lo, hi = elo - z * stderr, elo + z * stderr
        attrs.update(interval="normal")
    lo, hi = np.where(connected, lo, np.nan), np.where(connected, hi, np.nan)

    tallies = _tallies(res, n)
    bound, bound_elo = _bounds(comp, elo, tallies, ref)
    table = pd.DataFrame({"player": list(res.names), "elo": elo, "stderr": stderr,
                          "lo": lo, "hi": hi, **tallies, "connected": connected,
                          "bound": bound, "bound_elo": bound_elo})
    table = table.sort_values(["elo", "player"], ascending=[False, True], na_position="last")
    table = table.reset_index(drop=True)[list(RATING_COLUMNS)]
    table.attrs.update(attrs)
    return table


def format_elo_table(table: pd.DataFrame) -> str:
    """A :func:`fit_elo` table as text, every number in it a rating the games support: a
    saturated record shows its bound (``> x``) with no error or interval (the prior alone
    placed its point estimate, which ``rlgo elo --json`` keeps in ``elo``), a player with no
    chain of games to the anchor shows ``-``; a note under the table says why, row by row."""
    shown = table.drop(columns=["bound_elo"]).astype({"elo": object, "stderr": object,
                                                      "lo": object, "hi": object})
    notes = []
    for i, r in enumerate(table.itertuples(index=False)):
        if not r.connected:
            shown.loc[i, ["elo", "stderr", "lo", "hi"]] = "-"
            notes.append(f"{r.player}: no chain of games links it to the anchor "
                         f"({table.attrs.get('anchor', '?')}): unrated (null in --json)")
        elif r.bound:
            word = "won" if r.bound == ">" else "lost"
            shown.loc[i, ["elo", "stderr", "lo", "hi"]] = [f"{r.bound} {r.bound_elo:.1f}", "-",
                                                           "-", "-"]
            notes.append(f"{r.player}: {word} every game, so its rating is only {r.bound} "
                         f"{r.bound_elo:.1f}, the {'strongest' if word == 'won' else 'weakest'} "
                         f"opponent it met; the prior places it at {r.elo:.1f} (elo in --json)")
        else:
            shown.loc[i, ["elo", "stderr", "lo", "hi"]] = [f"{r.elo:.1f}", f"{r.stderr:.1f}",
                                                           f"{r.lo:.1f}", f"{r.hi:.1f}"]
    with pd.option_context("display.width", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        text = shown.drop(columns="bound").to_string(index=False)
    return "\n".join([text, *notes])


def _parse_games(games: pd.DataFrame | Iterable[Mapping[str, Any]]) -> _Results:
    """Validate the games and map player names to ids; drops games of a player with itself."""
    frame = games if isinstance(games, pd.DataFrame) else pd.DataFrame.from_records(list(games))
    missing = {"black", "white"} - set(frame.columns)
    if missing:
        raise ValueError(f"games need columns 'black' and 'white'; missing {sorted(missing)}")
    score = black_scores(frame)
    black = frame["black"].astype(str).to_numpy()
    white = frame["white"].astype(str).to_numpy()
    keep = black != white
    black, white, score = black[keep], white[keep], score[keep]
    if len(score) == 0:
        raise ValueError("no games between two different players to rate")
    names = tuple(sorted(set(black) | set(white)))
    index = {name: i for i, name in enumerate(names)}
    return _Results(
        names=names,
        first=np.fromiter((index[p] for p in black), int, len(black)),
        second=np.fromiter((index[p] for p in white), int, len(white)),
        score=score,
    )


def black_scores(frame: pd.DataFrame) -> np.ndarray:
    """Black's score per game, 1 / 0.5 / 0, from ``winner`` or else the sign of ``score``. [G]"""
    if "winner" not in frame.columns and "score" not in frame.columns:
        raise ValueError("games need a 'winner' column ('B', 'W', 'draw') or a 'score' column")
    out = pd.Series(np.nan, index=frame.index)
    if "winner" in frame.columns:
        given = frame["winner"].notna()
        out = frame["winner"].astype("string").str.lower().map(_SCORE_OF_WINNER).astype(float)
        bad = given & out.isna()
        if bad.any():
            raise ValueError(f"unknown winner values {sorted(set(frame['winner'][bad]))}; "
                             "expected 'B', 'W' or 'draw'")
    if "score" in frame.columns:
        by_score = (np.sign(pd.to_numeric(frame["score"], errors="coerce")) + 1.0) / 2.0
        out = out.fillna(by_score)
    if out.isna().any():
        raise ValueError(f"{int(out.isna().sum())} games have neither a winner nor a score")
    return out.to_numpy(float)


def _win_matrix(res: _Results, rows: np.ndarray, n: int) -> np.ndarray:
    """Fractional wins ``W[i, j]`` of i over j in games ``rows``; W + W^T counts games. [n, n]"""
    wins = np.zeros((n, n))
    first, second, score = res.first[rows], res.second[rows], res.score[rows]
    np.add.at(wins, (first, second), score)
    np.add.at(wins, (second, first), 1.0 - score)
    return wins


def _components(wins: np.ndarray) -> np.ndarray:
    """Connected-component label of each player in the graph of games played. [n] int"""
    _, labels = connected_components((wins + wins.T) > 0, directed=False)
    return labels


def _reference(
    names: tuple[str, ...], labels: np.ndarray, anchor: str | None, anchor_elo: float
) -> tuple[np.ndarray, str]:
    """Weights r whose combination ``r @ theta`` is pinned at ``anchor_elo``, and the rule in words.

    ``r`` is one-hot on the anchor, or uniform over the largest connected group (ties: the
    group holding the alphabetically first player). [n]
    """
    ref = np.zeros(len(names))
    if anchor is not None and anchor in names:
        ref[names.index(anchor)] = 1.0
        return ref, f"player {anchor!r} = {anchor_elo:g}"
    sizes = np.bincount(labels)
    group = labels == int(np.argmax(sizes))
    ref[group] = 1.0 / group.sum()
    note = f"mean of the {int(group.sum())} players in the largest connected group = {anchor_elo:g}"
    if anchor is not None:
        note = f"anchor {anchor!r} has no games; {note}"
        warnings.warn(f"fit_elo: {note}", UserWarning, stacklevel=3)
    return ref, note


def _augment(wins: np.ndarray, prior_games: float) -> np.ndarray:
    """Append the virtual reference: ``prior_games / 2`` wins each way with everyone. [n+1, n+1]"""
    n = wins.shape[0]
    out = np.zeros((n + 1, n + 1))
    out[:n, :n] = wins
    out[:n, n] = out[n, :n] = prior_games / 2.0
    return out


def _fit_theta(
    wins: np.ndarray, prior_games: float, initial: np.ndarray | None = None
) -> np.ndarray:
    """Posterior-mode strengths in nats, virtual reference last (mean-centred). [n+1]"""
    try:
        return choix.ilsr_pairwise_dense(_augment(wins, prior_games), initial_params=initial,
                                         max_iter=_ILSR_MAX_ITER, tol=_ILSR_TOL)
    except RuntimeError as err:
        raise RuntimeError(f"Elo fit did not converge ({err}); try a larger prior_games") from err


def _stderr(theta: np.ndarray, wins: np.ndarray, prior_games: float, ref: np.ndarray) -> np.ndarray:
    """Laplace standard error of ``elo_i - r @ elo`` for every player, in Elo. [n]"""
    games = _augment(wins + wins.T, 2.0 * prior_games)  # games between each pair, virtual included
    p = expit(theta[:, None] - theta[None, :])
    weight = games * p * (1.0 - p)
    cov = np.linalg.pinv(np.diag(weight.sum(axis=1)) - weight, hermitian=True)
    n = len(ref)
    cov = cov[:n, :n]
    var = np.diag(cov) - 2.0 * cov @ ref + ref @ cov @ ref
    return ELO_PER_NAT * np.sqrt(np.maximum(var, 0.0))


def _bootstrap(
    res: _Results, prior_games: float, ref: np.ndarray, theta: np.ndarray, replicates: int,
    seed: int,
) -> np.ndarray:
    """Elo relative to the reference in refits on games resampled with replacement. [B, n]

    Entries are NaN where a player has no chain of resampled games to the reference; a refit
    whose reference players fall apart is NaN throughout.
    """
    n, n_games = len(res.names), len(res.score)
    rng = np.random.default_rng(seed)
    ref_players = np.flatnonzero(ref)
    out = np.full((replicates, n), np.nan)
    for k in range(replicates):
        wins = _win_matrix(res, rng.integers(0, n_games, n_games), n)
        labels = _components(wins)
        if len(set(labels[ref_players])) > 1:
            continue
        # Warm start from the full fit: a few ILSR steps instead of a cold solve.
        fit = _fit_theta(wins, prior_games, initial=theta)[:n]
        ok = labels == labels[ref_players[0]]
        out[k, ok] = ELO_PER_NAT * (fit - ref @ fit)[ok]
    return out


def _percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-column percentile interval of the finite samples; NaN with fewer than 2. [n], [n]"""
    tail = 50.0 * (1.0 - level)
    lo, hi = np.full(samples.shape[1], np.nan), np.full(samples.shape[1], np.nan)
    for j in range(samples.shape[1]):
        column = samples[:, j][np.isfinite(samples[:, j])]
        if len(column) >= 2:
            lo[j], hi[j] = np.percentile(column, [tail, 100.0 - tail])
    return lo, hi


def _bounds(wins: np.ndarray, elo: np.ndarray, tallies: dict[str, np.ndarray],
            ref: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Per player: ``">"``/``"<"`` for a record of all wins/all losses (module docstring,
    "Saturated records"), else ``""``; and the Elo that bounds it (NaN if none)."""
    met = (wins + wins.T) > 0
    bound, bound_elo = [""] * len(elo), np.full(len(elo), np.nan)
    for i in range(len(elo)):
        opponents = np.flatnonzero(met[i])
        if ref[i] == 1.0 or len(opponents) == 0 or tallies["draws"][i] or np.isnan(elo[i]):
            continue
        if tallies["losses"][i] == 0:
            bound[i], bound_elo[i] = ">", float(np.nanmax(elo[opponents]))
        elif tallies["wins"][i] == 0:
            bound[i], bound_elo[i] = "<", float(np.nanmin(elo[opponents]))
    return bound, bound_elo


def _tallies(res: _Results, n: int) -> dict[str, np.ndarray]:
    """Real games, wins, losses and draws per player. Each [n] int."""
    black_won, white_won, drawn = res.score == 1.0, res.score == 0.0, res.score == 0.5

    def count(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(ids[mask], minlength=n)

    wins = count(res.first, black_won) + count(res.second, white_won)
    losses = count(res.first, white_won) + count(res.second, black_won)
    draws = count(res.first, drawn) + count(res.second, drawn)
    return {"games": wins + losses + draws, "wins": wins, "losses": losses, "draws": draws}
