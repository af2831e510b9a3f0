"""The arena and Elo commands end to end, and their errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rlgo.cli import app


def test_arena_then_elo(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    res = runner.invoke(app, ["arena", "random", "rollout:16", "--games", "5",
                              "--board-size", "5", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["games"] == 5
    assert summary["a_black"]["games"] == 3 and summary["a_white"]["games"] == 2
    res = runner.invoke(app, ["elo", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["player"]: r for r in json.loads(res.output)}
    assert rows["random"]["elo"] == 0.0
    assert rows["rollout:16"]["games"] == 5
    res = runner.invoke(app, ["elo", "--db", db])
    assert "rollout:16" in res.output and "'random' = 0" in res.output


def test_arena_and_elo_errors(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    res = runner.invoke(app, ["arena", "random", "alphago", "--games", "2", "--db", db])
    assert res.exit_code == 2 and "rollout:<playouts>" in res.output
    res = runner.invoke(app, ["arena", "random", str(tmp_path / "none.pt"), "--db", db])
    assert res.exit_code == 2 and "no checkpoint" in res.output
    res = runner.invoke(app, ["elo", "--db", db])
    assert res.exit_code == 2 and "no games" in res.output
    res = runner.invoke(app, ["elo", "--db", "notaurl"])
    assert res.exit_code == 2


def test_plot_writes_an_image_and_rejects_bad_axes(tmp_path):
    from rlgo.training.runs import Counters, RunDir

    run = RunDir(tmp_path / "r1")
    run.open_metrics(keep_rows=0)
    for steps, elo in ((0, 10.0), (100, 150.0), (200, 320.0)):
        run.log(Counters(env_steps=steps, wall_s=steps / 10), {"eval/elo": elo,
                                                             "eval/elo_stderr": 30.0})
    runner = CliRunner()
    out = tmp_path / "elo.png"
    res = runner.invoke(app, ["plot", str(tmp_path / "r1"), "--x", "wall_s", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(app, ["plot", str(tmp_path / "r1"), "--x", "moves"])
    assert res.exit_code == 2 and "x must be one of" in res.output
    res = runner.invoke(app, ["plot", str(tmp_path / "nope")])
    assert res.exit_code == 2
