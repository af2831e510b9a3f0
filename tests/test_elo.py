"""Bradley-Terry Elo fits on synthetic games whose true ratings are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit

from rlgo.evaluation.elo import ELO_PER_NAT, RATING_COLUMNS, expected_score, fit_elo

TRUE_ELO = {"random": 0.0, "a": 100.0, "b": 250.0, "c": 400.0, "d": 800.0}


def simulate(
    true_elo: dict[str, float], n_games: int, seed: int, draw_rate: float = 0.0
) -> pd.DataFrame:
    """Games between uniformly drawn pairs, colours at random, scored as Bradley-Terry predicts.

    A game is drawn with probability ``2 * draw_rate * min(E, 1 - E)`` and otherwise won or lost
    so that Black's expected score stays ``E = expected_score(black, white)``.
    """
    rng = np.random.default_rng(seed)
    names = list(true_elo)
    pairs = np.array([rng.choice(len(names), 2, replace=False) for _ in range(n_games)])
    elo = np.array([true_elo[n] for n in names])
    expected = expected_score(elo[pairs[:, 0]], elo[pairs[:, 1]])
    p_draw = 2.0 * draw_rate * np.minimum(expected, 1.0 - expected)
    p_win = expected - p_draw / 2.0
    u = rng.random(n_games)
    winner = np.where(u < p_win, "B", np.where(u < p_win + p_draw, "draw", "W"))
    return pd.DataFrame({"black": np.array(names)[pairs[:, 0]],
                         "white": np.array(names)[pairs[:, 1]], "winner": winner})


def test_expected_score() -> None:
    assert expected_score(0.0, 0.0) == 0.5
    assert expected_score(400.0, 0.0) == pytest.approx(1.0 / 1.1)
    assert expected_score(-250.0, 0.0) + expected_score(0.0, -250.0) == pytest.approx(1.0)
    assert expected_score(np.array([0.0, 100.0]), 0.0).shape == (2,)
    assert ELO_PER_NAT == pytest.approx(173.7178, abs=1e-4)


def test_recovers_true_gaps_within_three_standard_errors() -> None:
    table = fit_elo(simulate(TRUE_ELO, 3000, seed=1)).set_index("player")
    assert list(table.index) == ["d", "c", "b", "a", "random"]  # sorted by Elo, descending
    assert table.loc["random", "elo"] == 0.0 and table.loc["random", "stderr"] == 0.0
    for name, truth in TRUE_ELO.items():
        if name != "random":
            assert abs(table.loc[name, "elo"] - truth) < 3 * table.loc[name, "stderr"], name
    assert table["games"].sum() == 2 * 3000
    assert (table["wins"] + table["losses"] + table["draws"] == table["games"]).all()
    assert table.attrs["anchor"] == "player 'random' = 0"


def test_columns_and_record_input() -> None:
    records = simulate(TRUE_ELO, 200, seed=2).to_dict("records")
    table = fit_elo(records)
    assert tuple(table.columns) == RATING_COLUMNS
    assert table["connected"].all()
    assert table.attrs["interval"] == "normal"
    assert (table["lo"] <= table["elo"]).all() and (table["elo"] <= table["hi"]).all()


def test_standard_errors_shrink_with_more_games() -> None:
    few = fit_elo(simulate(TRUE_ELO, 500, seed=3)).set_index("player")
    many = fit_elo(simulate(TRUE_ELO, 4000, seed=3)).set_index("player")
    others = [n for n in TRUE_ELO if n != "random"]
    ratio = few.loc[others, "stderr"] / many.loc[others, "stderr"]
    assert (ratio > 2.0).all() and (ratio < 4.0).all()  # about sqrt(8)


def test_matches_direct_maximisation_of_the_stated_posterior() -> None:
    """Estimate and errors equal those from optimising the module docstring's formula directly."""
    games = simulate(TRUE_ELO, 400, seed=4, draw_rate=0.3)
    prior_games = 3.0
    table = fit_elo(games, prior_games=prior_games).set_index("player")
    names = sorted(TRUE_ELO)
    index = {n: i for i, n in enumerate(names)}
    black, white = games["black"].map(index).to_numpy(), games["white"].map(index).to_numpy()
    score = games["winner"].map({"B": 1.0, "draw": 0.5, "W": 0.0}).to_numpy()

    def neg_log_posterior(theta: np.ndarray) -> float:
        d = theta[black] - theta[white]
        data = np.sum(score * log_expit(d) + (1 - score) * log_expit(-d))
        prior = np.sum(prior_games / 2 * (log_expit(theta) + log_expit(-theta)))  # ref at 0
        return -(data + prior)

    theta = minimize(neg_log_posterior, np.zeros(len(names)), method="BFGS",
                     options={"gtol": 1e-10}).x
    anchor = index["random"]
    expected_elo = ELO_PER_NAT * (theta - theta[anchor])
    np.testing.assert_allclose(table.loc[names, "elo"], expected_elo, atol=1e-3)

    h, eye = 1e-4, np.eye(len(names))

    def second_difference(i: int, j: int) -> float:
        up, across = h * (eye[i] + eye[j]), h * (eye[i] - eye[j])
        f = neg_log_posterior
        return (f(theta + up) - f(theta + across) - f(theta - across) + f(theta - up)) / (4 * h * h)

    hessian = np.array([[second_difference(i, j) for j in range(len(names))]
                        for i in range(len(names))])
    cov = np.linalg.inv(hessian)
    var = np.diag(cov) - 2 * cov[:, anchor] + cov[anchor, anchor]
    np.testing.assert_allclose(table.loc[names, "stderr"], ELO_PER_NAT * np.sqrt(np.abs(var)),
                               rtol=1e-4, atol=1e-6)


def test_anchor_name_and_value_shift_the_scale_only() -> None:
    games = simulate(TRUE_ELO, 1000, seed=5)
    base = fit_elo(games).set_index("player")
    moved = fit_elo(games, anchor="b", anchor_elo=1000.0).set_index("player")
    assert moved.loc["b", "elo"] == 1000.0 and moved.loc["b", "stderr"] == 0.0
    np.testing.assert_allclose(moved["elo"] - 1000.0, base["elo"] - base.loc["b", "elo"],
                               atol=1e-6)
    # Errors are relative to the anchor, so the old anchor now carries one.
    assert moved.loc["random", "stderr"] == pytest.approx(base.loc["b", "stderr"])


def test_absent_anchor_pins_the_mean_and_warns() -> None:
    games = simulate({k: v for k, v in TRUE_ELO.items() if k != "random"}, 500, seed=6)
    with pytest.warns(UserWarning, match="'random' has no games"):
        table = fit_elo(games)
    assert table["elo"].mean() == pytest.approx(0.0, abs=1e-6)
    assert "mean of the 4 players" in table.attrs["anchor"]
    assert (table["stderr"] > 0).all()
    explicit = fit_elo(games, anchor=None, anchor_elo=1500.0)
    assert explicit["elo"].mean() == pytest.approx(1500.0)


def test_draws_count_half_a_win_each_way() -> None:
    drawn = [{"black": "random", "white": "x", "winner": "draw"}] * 2 + \
            [{"black": "random", "white": "y", "winner": "B"}] * 3
    split = [{"black": "random", "white": "x", "winner": "B"},
             {"black": "x", "white": "random", "winner": "B"}] + \
            [{"black": "random", "white": "y", "winner": "B"}] * 3
    a = fit_elo(drawn).set_index("player")
    b = fit_elo(split).set_index("player")
    even = fit_elo([{"black": "random", "white": "x", "winner": "draw"}] * 3)
    assert even["elo"].tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    np.testing.assert_allclose(a.loc[["x", "y"], "elo"], b.loc[["x", "y"], "elo"], atol=1e-6)
    assert a.loc["random", "draws"] == 2 and a.loc["x", "draws"] == 2 and a.loc["x", "wins"] == 0
    many = fit_elo(simulate(TRUE_ELO, 3000, seed=7, draw_rate=0.5)).set_index("player")
    assert many["draws"].sum() > 0
    for name, truth in TRUE_ELO.items():
        assert abs(many.loc[name, "elo"] - truth) <= 3 * many.loc[name, "stderr"] + 1e-9


def test_winner_from_score_and_self_play_ignored() -> None:
    games = pd.DataFrame({
        "black": ["random", "x", "x", "random"], "white": ["x", "random", "x", "x"],
        "winner": [None, "b", "B", "draw"], "score": [-3.5, 10.0, 1.0, None],
    })
    table = fit_elo(games).set_index("player")
    assert table.loc["x", "wins"] == 2 and table.loc["x", "draws"] == 1
    assert table.loc["x", "games"] == 3  # the game of x against itself is dropped
    with pytest.raises(ValueError, match="unknown winner"):
        fit_elo([{"black": "a", "white": "b", "winner": "Black+R"}])
    with pytest.raises(ValueError, match="neither a winner nor a score"):
        fit_elo([{"black": "a", "white": "b", "winner": None, "score": None}])
    with pytest.raises(ValueError, match="prior_games"):
        fit_elo(games, prior_games=0.0)


def test_undefeated_player_gets_a_finite_rating_set_by_the_prior() -> None:
    games = [{"black": "random", "white": "x", "winner": "W"}] * 10
    weak = fit_elo(games, prior_games=1.0).set_index("player")
    strong = fit_elo(games, prior_games=10.0).set_index("player")
    assert math.isfinite(weak.loc["x", "elo"]) and weak.loc["x", "elo"] > 300
    assert strong.loc["x", "elo"] < weak.loc["x", "elo"]
    assert math.isfinite(weak.loc["x", "stderr"])


def test_disconnected_players_are_reported_or_raise() -> None:
    games = simulate(TRUE_ELO, 300, seed=8)
    island = pd.DataFrame({"black": ["p", "q", "p"], "white": ["q", "p", "q"],
                           "winner": ["B", "B", "W"]})
    table = fit_elo(pd.concat([games, island])).set_index("player")
    assert not table.loc["p", "connected"] and np.isnan(table.loc["p", "elo"])
    assert np.isinf(table.loc["q", "stderr"]) and np.isnan(table.loc["q", "hi"])
    assert table["connected"].sum() == len(TRUE_ELO)
    assert list(table.index[-2:]) == ["p", "q"]  # unrated players last
    with pytest.raises(ValueError, match=r"\['p', 'q'\]"):
        fit_elo(pd.concat([games, island]), disconnected="raise")


def test_bootstrap_is_seeded() -> None:
    games = simulate(TRUE_ELO, 500, seed=9)
    one = fit_elo(games, bootstrap=50, seed=1)
    assert one.attrs["interval"] == "bootstrap percentile" and one.attrs["bootstrap_valid"] == 50
    pd.testing.assert_frame_equal(one, fit_elo(games, bootstrap=50, seed=1))
    assert not np.allclose(one["lo"], fit_elo(games, bootstrap=50, seed=2)["lo"])


def test_bootstrap_intervals_contain_the_truth_most_of_the_time() -> None:
    hits = normal_hits = total = 0
    for seed in range(12):
        table = fit_elo(simulate(TRUE_ELO, 600, seed=100 + seed), bootstrap=100, seed=seed,
                        level=0.9)
        others = table[table["player"] != "random"]
        truth = others["player"].map(TRUE_ELO)
        hits += int(((others["lo"] <= truth) & (truth <= others["hi"])).sum())
        z = 1.6449
        normal_hits += int((abs(others["elo"] - truth) <= z * others["stderr"]).sum())
        total += len(others)
    assert hits / total >= 0.75  # nominal 0.9 over 48 intervals
    assert normal_hits / total >= 0.75


def test_a_saturated_record_is_a_bound_not_a_point_estimate():
    games = ([{"black": "strong", "white": "random", "winner": "B"}] * 10
             + [{"black": "mid", "white": "random", "winner": "B"}] * 6
             + [{"black": "random", "white": "mid", "winner": "B"}] * 4
             + [{"black": "strong", "white": "mid", "winner": "B"}] * 10
             + [{"black": "weak", "white": "mid", "winner": "B"}] * 0
             + [{"black": "mid", "white": "weak", "winner": "B"}] * 5)
    table = fit_elo(games).set_index("player")
    assert table.loc["strong", "bound"] == ">"  # won all 20: only the prior places it
    assert table.loc["strong", "bound_elo"] == pytest.approx(table.loc["mid", "elo"])
    assert table.loc["weak", "bound"] == "<"
    assert table.loc["weak", "bound_elo"] == pytest.approx(table.loc["mid", "elo"])
    assert table.loc["mid", "bound"] == "" and np.isnan(table.loc["mid", "bound_elo"])
    assert table.loc["random", "bound"] == ""  # the anchor is pinned, not bounded
    drawn = fit_elo([*games, {"black": "strong", "white": "mid", "winner": "draw"}])
    assert drawn.set_index("player").loc["strong", "bound"] == ""
