"""The measurements of credit assignment and information, as functions over arrays
(no learner, no judge, no files): each is checked on hand-computed examples in the tests.

Conventions. Rows are self-play moves; A*(s, a) is the judge's oracle advantage
(:func:`rlgo.analysis.judge.oracle_advantage`); NaN marks "no value" and is dropped by
every measure. Information is in bits.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

LN2 = math.log(2.0)

PHASES = ("early", "middle", "late")
"""Thirds of a game by move number (:func:`phase`)."""

STAKES = ("quiet", "moderate", "decisive")
"""How much the move played mattered by |A*| (:func:`stakes`): below 0.05, below 0.25
(an eighth of the [-1, 1] value range), and above."""

STAKE_EDGES = (0.05, 0.25)


def phase(move: np.ndarray, game_length: np.ndarray) -> np.ndarray:
    """'early' / 'middle' / 'late': the third of its game a move falls in."""
    frac = np.asarray(move, float) / np.maximum(np.asarray(game_length, float), 1.0)
    return np.asarray(PHASES, object)[np.clip((frac * 3).astype(int), 0, 2)]


def stakes(a_star: np.ndarray) -> np.ndarray:
    """'quiet' / 'moderate' / 'decisive' by |A*| of the move played (:data:`STAKE_EDGES`)."""
    idx = np.searchsorted(STAKE_EDGES, np.abs(np.asarray(a_star, float)), side="right")
    return np.asarray(STAKES, object)[idx]


def sign_agreement(credit: np.ndarray, a_star: np.ndarray) -> float:
    """Fraction of moves where the learner's credit and A* have the same strict sign,
    among moves where both are non-zero (NaN if none)."""
    c, a = np.asarray(credit, float), np.asarray(a_star, float)
    ok = np.isfinite(c) & np.isfinite(a) & (c != 0) & (a != 0)
    return float(np.mean(np.sign(c[ok]) == np.sign(a[ok]))) if ok.any() else math.nan


def sign_kappa(credit: np.ndarray, a_star: np.ndarray) -> float:
    """Cohen's kappa of the two signs (same rows as :func:`sign_agreement`): agreement
    beyond what the two sides' own sign frequencies give by chance, (p_o - p_e) /
    (1 - p_e); 0 is chance, 1 perfect, negative worse than chance. Raw agreement can sit
    far from 1/2 by chance alone when most credits (or most A*) share one sign."""
    c, a = np.asarray(credit, float), np.asarray(a_star, float)
    ok = np.isfinite(c) & np.isfinite(a) & (c != 0) & (a != 0)
    if not ok.any():
        return math.nan
    pc, pa = float(np.mean(c[ok] > 0)), float(np.mean(a[ok] > 0))
    observed = float(np.mean(np.sign(c[ok]) == np.sign(a[ok])))
    chance = pc * pa + (1 - pc) * (1 - pa)
    return (observed - chance) / (1 - chance) if chance < 1 else math.nan


def rank_correlation(vector: np.ndarray, a_star: np.ndarray) -> np.ndarray:
    """[T] Spearman correlation, per row, between the learner's credit vector and A* over
    the actions where both are finite (NaN for rows with fewer than 3 such actions or
    a constant side)."""
    out = np.full(len(vector), np.nan)
    for t in range(len(vector)):
        ok = np.isfinite(vector[t]) & np.isfinite(a_star[t])
        if ok.sum() < 3:
            continue
        x, y = vector[t, ok], a_star[t, ok]
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        out[t] = stats.spearmanr(x, y).statistic
    return out


def kl_bits(target: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """[T] KL(target || policy) in bits per row, over the actions where target > 0
    (the information a distillation target carries beyond what the policy knew; NaN for
    rows without a target)."""
    t = np.asarray(target, float)
    p = np.maximum(np.asarray(policy, float), 1e-30)
    on = np.nan_to_num(t) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(on, t * (np.log(np.where(on, t, 1.0)) - np.log(p)), 0.0)
    return np.where(np.isfinite(t).all(1), terms.sum(1), np.nan) / LN2


def binary_entropy_bits(p: float | np.ndarray) -> np.ndarray:
    """H(p) in bits (0 at p = 0 or 1)."""
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h)


def outcome_bits_per_sample(game: np.ndarray, winner_is_black: dict[int, float]) -> float:
    """The most an outcome-only target can carry per trained-on position: one game's
    result has at most H(p) bits, p the batch's Black win rate (draws count half), shared
    by all of the game's rows; returns the mean over rows of H(p) / rows in its game.
    p is the Jeffreys estimate (wins + 1/2) / (games + 1), so that a small batch whose
    games all went one way does not claim the outcome carried nothing."""
    game = np.asarray(game)
    if len(game) == 0:
        return math.nan
    results = list(winner_is_black.values())
    p = (float(np.sum(results)) + 0.5) / (len(results) + 1.0)
    ids, counts = np.unique(game, return_counts=True)
    per_row = binary_entropy_bits(p) / counts[np.searchsorted(ids, game)]
    return float(np.mean(per_row))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else math.nan


def noise_scale(per_unit: np.ndarray) -> tuple[float, float]:
    """The simple gradient noise scale B = tr(Sigma) / |G|^2 (McCandlish et al. 2018) from
    ``per_unit`` [n, P] gradients of n independent units (games): |G|^2 is estimated
    without bias as |mean|^2 - tr(Sigma) / n. Returns (B in units, the cosine that a
    one-unit gradient has with the mean on average). B is how many units an update must
    average before its noise is no larger than its signal; +inf when the estimated
    signal is not positive (the noise swamps it at this sample size)."""
    g = np.asarray(per_unit, float)
    n = len(g)
    if n < 2:
        return math.nan, math.nan
    mean = g.mean(0)
    trace = float(((g - mean) ** 2).sum() / (n - 1))
    signal = float(mean @ mean) - trace / n
    scale = trace / signal if signal > 0 else math.inf
    cos_each = float(np.nanmean([cosine(row, mean) for row in g]))
    return scale, cos_each


def policy_quality(policy: np.ndarray, q: np.ndarray) -> np.ndarray:
    """[T] the judge's value of the policy at each position minus that of the judge's best
    action: sum_a pi(a|s) Q*(s, a) - max_a Q*(s, a) (<= 0; 0 is judge-perfect)."""
    q0 = np.nan_to_num(q, nan=0.0)
    best = np.nanmax(np.where(np.isfinite(q), q, -np.inf), axis=1)
    return (policy * q0).sum(1) - best
