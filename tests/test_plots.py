"""Learning-curve tables and plots from run directories."""

from __future__ import annotations

import pytest

from rlgo.study.plots import elo_curves, plot_elo
from rlgo.training.runs import Counters, RunDir


def _run(path, elos, search=None):
    run = RunDir(path)
    run.write_config({"train": {}})
    run.open_metrics(keep_rows=0)
    for i, elo in enumerate(elos):
        c = Counters(env_steps=1000 * i, games=10 * i, wall_s=2.0 * i)
        run.log(c, {"losses/value": 0.5})  # rows without evaluations are skipped
        metrics = {"eval/elo": elo, "eval/elo_stderr": 30.0}
        if search is not None:
            metrics.update({"eval/search/elo": search[i], "eval/search/elo_stderr": 40.0})
        run.log(c, metrics)
    return path


def test_elo_curves_tidy_rows_raw_and_search(tmp_path):
    a = _run(tmp_path / "a", [0.0, 100.0, 150.0], search=[50.0, 300.0, 400.0])
    b = _run(tmp_path / "b", [10.0, 20.0])
    data = elo_curves([a, b])
    assert len(data) == 3 + 3 + 2
    raw_a = data[(data.run == "a") & (data.policy == "raw")].sort_values("env_steps")
    assert raw_a.elo.tolist() == [0.0, 100.0, 150.0]
    assert raw_a.env_steps.tolist() == [0, 1000, 2000] and raw_a.wall_s.tolist() == [0, 2, 4]
    search_a = data[(data.run == "a") & (data.policy == "search")]
    assert search_a.elo.tolist() == [50.0, 300.0, 400.0] and (search_a.stderr == 40).all()
    assert set(data[data.run == "b"].policy) == {"raw"}
    out = plot_elo([a, b], x="wall_s", out=tmp_path / "plots" / "elo.png")
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError, match="x must be one of"):
        plot_elo([a], x="seconds")
    with pytest.raises(ValueError, match="no runs"):
        elo_curves([])


def test_runs_sharing_a_database_are_drawn_on_its_final_scale(tmp_path):
    from rlgo.evaluation.matchdb import GameRecord, MatchDB

    a = _run(tmp_path / "a", [0.0, 100.0])  # logged values the refit replaces
    for run in (a,):
        RunDir(run).write_config({"train": {"board_size": 5, "eval_search": 0}})
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    db = MatchDB(url)
    for name in ("random", "a@0", "a@1000"):
        db.add_player(name, "test")
    games = []
    for i in range(12):  # a@1000 beats random 10 of 12, a@0 wins 6 of 12
        games.append(GameRecord("a@1000", "random", 5, 24.5, score=1.0 if i < 10 else -1.0))
        games.append(GameRecord("a@0", "random", 5, 24.5, score=1.0 if i % 2 else -1.0))
    db.add_games(games)
    data = elo_curves([a], db=url).sort_values("env_steps")
    assert data.elo.iloc[1] > 150 > abs(data.elo.iloc[0])  # the final fit, not 0 and 100
    assert (data.stderr > 0).all()
    RunDir(a).write_config({"train": {"board_size": 7}})
    with pytest.raises(ValueError, match="no games"):
        elo_curves([a], db=url)


def _two_seeds():
    """Seed 0 ends at 10 s and 1,100 env steps with Elo 100; seed 1 at 20 s and 1,500 steps
    with 300, both from 0 at the start: straight lines."""
    import pandas as pd

    return pd.DataFrame({"agent": "ppo", "policy": "raw", "seed": [0, 0, 1, 1],
                         "wall_s": [0.0, 10.0, 0.0, 20.0],
                         "env_steps": [0, 1_100, 0, 1_500], "elo": [0.0, 100.0, 0.0, 300.0]})


def test_a_mean_curve_averages_the_seeds_that_reached_each_x():
    from rlgo.study.plots import interpolated_curves

    curve = interpolated_curves(_two_seeds(), "wall_s", points=5)
    mean = curve.groupby("x").elo.mean()
    # grid 0, 5, 10, 15, 20 s: seed 0 reaches 10 s (0, 50, 100), seed 1 all (0, 75, ..., 300)
    assert list(mean.index) == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert list(mean) == [0.0, 62.5, 125.0, 225.0, 300.0]
    assert list(curve.groupby("x").seed.nunique()) == [2, 2, 2, 1, 1]


def test_the_budget_panel_compares_every_seed_at_the_budget():
    from rlgo.study.plots import interpolated_curves

    curve = interpolated_curves(_two_seeds(), "env_steps", points=3, budget=1_000)
    at_budget = curve[curve.x == 1_000.0].set_index("seed").elo
    # seed 0: 100 * 1000 / 1100; seed 1: 300 * 1000 / 1500
    assert at_budget[0] == pytest.approx(90.909, abs=1e-3) and at_budget[1] == 200.0
    assert curve.x.max() == 1_000.0  # nothing past the budget, where only overshoots lie


def test_rlgo_plot_writes_beside_its_runs_by_default(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from rlgo.cli import app

    here = tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    a = _run(tmp_path / "runs" / "a", [0.0, 100.0])
    b = _run(tmp_path / "runs" / "b", [0.0, 50.0])
    res = CliRunner().invoke(app, ["plot", str(a)])
    assert res.exit_code == 0, res.output
    assert (a / "elo_env_steps.png").read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(app, ["plot", str(a), str(b), "--x", "wall_s"])
    assert res.exit_code == 0, res.output
    assert f"wrote {tmp_path / 'runs' / 'elo_wall_s.png'}" in res.output
    assert list(here.iterdir()) == []  # nothing in the current folder
