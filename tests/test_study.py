"""Studies: study-file validation, a tiny study end to end, a killed study resumed to the
same results, statistics across seeds, and the figures from a synthetic table."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlgo.evaluation.matchdb import MatchDB
from rlgo.study.config import StudyFileError, load_study, run_configs
from rlgo.study.league import pairings
from rlgo.study.plots import plot_final_elo, plot_head_to_head, plot_study_curves
from rlgo.study.report import agent_statistics, crossings, elo_at, equal_budgets
from rlgo.study.runner import latest_row, run_study
from rlgo.training.runs import load_metrics

TINY = """
[study]
name = "tiny"
board_size = 5
budget = "env_steps"
amount = 500
seeds = [0, 1]
out = "{out}"
workers = 2

[evaluation]
every = 250
games = 4
ladder = ["random", "rollout:4"]
snapshots = 1

[league]
games = 4
opening_moves = 2

[train]
parallel_games = 8
games_per_iteration = 8

[net]
blocks = 1
channels = 8
value_hidden = 8

[agents.reinforce]
learner = "reinforce"

[agents.ppo]
learner = "ppo"
lr = 0.002
"""


def tiny_study(tmp_path: Path, name: str = "tiny.toml", **replace: str) -> Path:
    text = TINY.format(out=tmp_path / name.removesuffix(".toml"))
    for old, new in replace.items():
        assert old in text, f"the template has no {old!r} to replace"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------- validation

@pytest.mark.parametrize("old, new, message", [
    ('budget = "env_steps"', 'budget = "games"', "study.budget = 'games'; choose one of "
                                                 "env_steps, nn_evals, wall_s"),
    ("amount = 500", 'amount = "lots"', "study.amount = 'lots' is not a float"),
    ("seeds = [0, 1]", "seeds = [0, 0]", "repeats a seed"),
    ("[league]", "[leage]", "unknown tables \\['leage'\\]"),
    ("games = 4\nopening_moves", "rounds = 4\nopening_moves", "unknown keys \\['rounds'\\] in "
                                                            "\\[league\\]; valid keys: games"),
    ('learner = "ppo"', 'learner = "sac"', "agents.ppo.*sac"),
    ("lr = 0.002", "learning_rate = 0.002", "unknown keys \\['learning_rate'\\].*valid keys"),
    ("lr = 0.002", "lr = -1.0", "lr"),
    ("lr = 0.002", "lr = 0.002\ntrain = { env_steps = 10 }",
     "agents.ppo.train sets \\['env_steps'\\], which the study fixes"),
    ("board_size = 5", "board_size = 4", "board"),
    ("blocks = 1", "blocks = 'one'", "blocks = 'one' is not a int"),
    ("[agents.ppo]", '[agents."../../x"]', "agent label '../../x' must be a plain name"),
    ("[agents.ppo]", '[agents."/tmp/x"]', "agent label '/tmp/x' must be a plain name"),
    ("[agents.ppo]", '[agents."a:b"]', "agent label 'a:b' must be a plain name"),
    ('name = "tiny"', 'name = ".."', "study.name must be a plain name"),
])
def test_bad_study_files_name_the_file_the_key_and_the_choices(tmp_path, old, new, message):
    path = tiny_study(tmp_path, **{old: new})
    with pytest.raises(StudyFileError, match=message) as info:
        load_study(path)
    assert str(path) in str(info.value)


def test_an_agent_label_that_is_a_path_writes_nothing_outside_the_study(tmp_path):
    # the probe: [agents."../../x"] made x-s0/, x-s0.log and x-s0.toml two folders up
    study_dir = tmp_path / "a" / "b"
    study_dir.mkdir(parents=True)
    path = tiny_study(study_dir, **{"[agents.ppo]": '[agents."../../x"]'})
    with pytest.raises(StudyFileError, match="must be a plain name"):
        run_study(path, show=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "tiny.toml"]


def test_study_settings_merge_in_order_and_fix_the_comparison(tmp_path):
    best = tmp_path / "best.toml"
    best.write_text("[train]\nlearner = 'ppo'\nparallel_games = 4\nboard_size = 9\n"
                    "[learner]\nlr = 0.05\nepochs = 2\n[net]\nchannels = 16\n")
    study = load_study(tiny_study(tmp_path, **{"learner = \"ppo\"":
                                               "learner = \"ppo\"\nconfig = \"best.toml\""}))
    ppo = study.agents[1]
    train, evaluation, agent, net = run_configs(study, ppo, seed=1).configs
    assert (agent.lr, agent.epochs) == (0.002, 2)  # the study's table beats the file
    assert (train.parallel_games, net.channels) == (8, 8)  # study [train]/[net] beat it too
    assert (train.board_size, train.seed, train.env_steps, evaluation.every) == (5, 1, 500, 250)
    assert train.db == study.db_url  # one database for the whole study



def test_an_agent_s_learner_settings_are_its_table_s_other_keys_or_an_older_agent_table(
        tmp_path):
    keys = load_study(tiny_study(tmp_path))
    older = load_study(tiny_study(tmp_path, "older.toml",
                                  **{"lr = 0.002": "agent = { lr = 0.002 }"}))
    assert keys.agents[1].settings == older.agents[1].settings == {"lr": 0.002}
    assert run_configs(keys, keys.agents[1], 0).learner.lr == 0.002
    with pytest.raises(StudyFileError, match=r"agents.ppo sets \['lr'\] both as keys"):
        load_study(tiny_study(tmp_path, "both.toml",
                              **{"lr = 0.002": "lr = 0.002\nagent = { lr = 0.003 }"}))
    with pytest.raises(StudyFileError, match=r"unknown keys \[.lrr.\] for PPOConfig in agents.ppo"):
        load_study(tiny_study(tmp_path, "typo.toml", **{"lr = 0.002": "lrr = 0.002"}))

# ----------------------------------------------------------------------- end to end

def _results(out: Path) -> pd.DataFrame:
    timing = ["wall_s"]
    return pd.read_csv(out / "results.csv").drop(columns=timing)


def test_a_tiny_study_runs_end_to_end_and_a_killed_one_resumes_to_the_same_results(tmp_path):
    path = tiny_study(tmp_path)
    study = run_study(path, show=False)
    out = study.out_dir
    results = pd.read_csv(out / "results.csv")
    assert sorted(set(results.run)) == ["ppo-s0", "ppo-s1", "reinforce-s0", "reinforce-s1"]
    evaluations = results.groupby("run").size()
    assert (evaluations == 3).all()  # steps 0, >= 250, and the end (>= 500)
    assert {"score_vs_random", "score_vs_rollout:4", "elo", "elo_stderr"} <= set(results)
    league = pd.read_csv(out / "league.csv")
    assert len(league) == 4 + 2 and league.anchor.sum() == 2
    assert league.loc[league.player == "random", "elo"].item() == 0.0
    n_pairs = len(pairings(study))
    assert n_pairs == 15
    db = MatchDB(study.db_url, read_only=True)
    league_games = db.games(with_sgf=False).query("run.str.startswith('league/')")
    assert len(league_games) == 15 * 4
    agents = pd.read_csv(out / "agents.csv")
    assert sorted(agents.agent) == ["ppo", "reinforce"] and (agents.runs == 2).all()
    assert len(pd.read_csv(out / "improvement.csv")) == 2
    for figure in ("elo_curves", "league_head_to_head", "final_elo"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{figure}.{ext}").stat().st_size > 1000

    # the same study killed (SIGKILL) while training, then rerun
    again = tiny_study(tmp_path, "again.toml", **{'name = "tiny"': 'name = "again"'})
    proc = subprocess.Popen([sys.executable, "-m", "rlgo.cli", "study", "run", str(again),
                             "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    runs = tmp_path / "again" / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and not list(runs.glob("*/checkpoints/*.pt")):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "again" / "league.csv").exists()  # it died before the league
    time.sleep(1.0)  # its workers get SIGTERM as it dies
    resumed = run_study(again, show=False)
    pd.testing.assert_frame_equal(_results(resumed.out_dir).drop(columns="study"),
                                  _results(out).drop(columns="study"), atol=1e-6)
    redo = MatchDB(resumed.db_url, read_only=True).games(with_sgf=False)
    first = db.games(with_sgf=False)
    assert len(redo) == len(first)  # no game lost or counted twice
    key = ["black", "white", "winner", "moves", "run", "env_steps"]
    assert (redo[key].sort_values(key, ignore_index=True)
            .equals(first[key].sort_values(key, ignore_index=True)))

    # a rerun of a finished study plays nothing more
    run_study(again, show=False)
    assert len(MatchDB(resumed.db_url, read_only=True).games(with_sgf=False)) == len(first)


def test_a_partial_league_pairing_is_replayed_whole(tmp_path):
    from rlgo.study.league import play_pairing

    path = tiny_study(tmp_path, **{"seeds = [0, 1]": "seeds = [0]", "amount = 500":
                                   "amount = 100", "workers = 2": "workers = 1"})
    study = run_study(path, show=False)
    db = MatchDB(study.db_url)
    pairing = pairings(study)[0]
    games = db.games(run=pairing.tag, with_sgf=False)
    db.delete_games(run=pairing.tag)
    # a killed league leaves some of a pairing's games: they are replaced, not added to
    from rlgo.evaluation.matchdb import GameRecord

    db.add_games([GameRecord(black=games.black[0], white=games.white[0], board_size=5,
                             komi=games.komi[0], score=1.0, run=pairing.tag)])
    assert play_pairing(study, 0) == 4
    again = db.games(run=pairing.tag, with_sgf=False)
    assert len(again) == 4
    assert list(again.winner) == list(games.winner)  # the same games as the first time
    assert play_pairing(study, 0) == 0


def test_workers_never_outnumber_the_tasks_nor_go_without_a_thread():
    from rlgo.study.runner import plan_workers

    # the probe: workers = 100 on 2 cores for 3 league pairings started 100 processes
    # with cores // workers = 0 threads each
    processes, threads, note = plan_workers(100, 3, 2)
    assert (processes, threads) == (3, 1)
    assert note.startswith("workers = 100 exceeds this machine's 2 cores: 3 processes")
    assert plan_workers(1, 3, 2) == (1, 2, "")
    assert plan_workers(4, 10, 16) == (4, 4, "")  # 16 // 4
    assert plan_workers(3, 3, 8) == (3, 2, "")  # 8 // 3, rounded down
    assert plan_workers(2, 0, 2) == (1, 2, "")  # nothing left to run: one, idle at once
    with pytest.raises(ValueError, match="workers must be >= 1"):
        plan_workers(0, 3, 2)


def test_a_league_starts_no_more_workers_than_pairings(tmp_path):
    from rlgo.study.runner import league_tasks

    path = tiny_study(tmp_path, **{'ladder = ["random", "rollout:4"]':
                                   'ladder = ["random", "rollout:4", "rollout:8"]'})
    study = load_study(path)
    assert len(pairings(study)) == 3  # no run has a snapshot yet: the anchors' pairs
    assert len(league_tasks(study, path, 100)) == 3
    assert [t.argv[-1] for t in league_tasks(study, path, 2)] == ["2", "2"]


def test_study_report_without_its_match_database_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app
    from rlgo.training.runs import Counters, RunDir

    path = tiny_study(tmp_path)
    study = load_study(path)
    run = RunDir(tmp_path / "tiny" / "runs" / "ppo-s0")  # a run with its config and
    configs = run_configs(study, study.agents[1], 0)     # metrics, and no matches.sqlite
    run.write_config(configs.to_tables())
    run.open_metrics(keep_rows=0)
    run.log(Counters(env_steps=250), {"eval/elo": 10.0, "eval/elo_stderr": 30.0})
    res = CliRunner().invoke(app, ["study", "report", str(path)])
    assert res.exit_code == 2, res.output  # was an uncaught MatchDBError
    assert res.output == f"error: no match database at {tmp_path / 'tiny' / 'matches.sqlite'}\n"


def test_latest_row_reads_counters_and_elo_from_the_end_of_the_metrics(tmp_path):
    from rlgo.training.runs import Counters, RunDir

    run = RunDir(tmp_path / "r")
    run.open_metrics(keep_rows=0)
    run.log(Counters(env_steps=0), {"eval/elo": -20.0})
    run.log(Counters(env_steps=100, games=4), {"charts/games_per_s": 3.5})
    run.log(Counters(env_steps=200, games=8), {"eval/elo": 55.0})
    row = latest_row(tmp_path / "r")
    assert (row["env_steps"], row["games"], row["elo"], row["games_per_s"]) == (200, 8, 55, 3.5)
    assert latest_row(tmp_path / "nothing") == {}


# ----------------------------------------------------------------------- statistics

def test_agent_statistics_use_rliable_iqm_and_probability_of_improvement():
    league = pd.DataFrame({
        "player": [f"a-s{i}" for i in range(4)] + [f"b-s{i}" for i in range(4)] + ["random"],
        "agent": ["a"] * 4 + ["b"] * 4 + ["random"],
        "elo": [0.0, 100.0, 200.0, 1000.0, -50.0, -40.0, -30.0, -20.0, 0.0],
        "anchor": [False] * 8 + [True]})
    agents, pairs = agent_statistics(league)
    a = agents.set_index("agent")
    assert a.loc["a", "iqm_elo"] == pytest.approx(150.0)  # mean of the middle two of four
    assert a.loc["b", "iqm_elo"] == pytest.approx(-35.0)
    assert a.loc["a", "mean_elo"] == pytest.approx(325.0)
    assert a.loc["a", "iqm_lo"] <= 150.0 <= a.loc["a", "iqm_hi"]
    p = pairs.set_index(["agent", "over"]).p_improvement
    assert p["a", "b"] == pytest.approx(1.0) and p["b", "a"] == pytest.approx(0.0)
    one_seed = league[league.player.isin(["a-s0", "b-s0", "random"])]
    agents, pairs = agent_statistics(one_seed)
    assert agents.iqm_lo.isna().all()  # one run: nothing to bootstrap


def test_figures_from_a_synthetic_results_table(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for agent, slope in (("fast", 2.0), ("slow", 0.5)):
        for seed in range(3):
            for step in range(0, 50_001, 10_000):
                rows.append({"agent": agent, "seed": seed, "policy": "raw",
                             "env_steps": step, "games": step // 25, "nn_evals": step * 3,
                             "wall_s": step / 900 * (1 + seed / 10),
                             "elo": slope * step / 100 + rng.normal(0, 20)})
    written = plot_study_curves(pd.DataFrame(rows), tmp_path / "curves")
    assert sorted(written) == ["curves.png", "curves.svg"]
    h2h = pd.DataFrame({"player": ["x", "y"], "opponent": ["y", "x"], "score": [0.75, 0.25],
                        "games": [8, 8]})
    plot_head_to_head(h2h, ["x", "y"], tmp_path / "h2h")
    league = pd.DataFrame({"player": ["x", "random"], "agent": ["x", "random"],
                           "elo": [120.0, 0.0], "lo": [80.0, 0.0], "hi": [160.0, 0.0],
                           "anchor": [False, True]})
    agents = pd.DataFrame({"agent": ["x"], "iqm_elo": [120.0]})
    plot_final_elo(league, agents, tmp_path / "final")
    for name in ("curves", "h2h", "final"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_agents_compared_at_equal_env_steps_network_evaluations_and_seconds():
    """Hand-built curves: "search" spends 10 network evaluations a move and gains 1 Elo a
    move; "free" spends 1 and gains 0.5 a move. At equal moves search is ahead, at equal
    network evaluations free is."""
    rows = []
    for agent, evals, slope in (("search", 10, 1.0), ("free", 1, 0.5)):
        for seed, last in ((0, 1000), (1, 800)):
            for step in range(0, last + 1, 200):
                rows.append({"agent": agent, "run": f"{agent}-s{seed}", "policy": "raw",
                             "env_steps": step, "nn_evals": evals * step,
                             "wall_s": step / 100, "elo": slope * step + 10 * seed})
            rows.append({**rows[-1], "policy": "search", "elo": 9999.0})  # not compared
    agents, pairs = equal_budgets(pd.DataFrame(rows))
    at = agents.set_index(["axis", "agent"])
    assert at.loc[("env_steps", "search"), "budget"] == 800  # the least any run reached
    assert at.loc[("env_steps", "search"), "mean_elo"] == pytest.approx((800 + 810) / 2)
    assert at.loc[("env_steps", "free"), "mean_elo"] == pytest.approx((400 + 410) / 2)
    assert at.loc[("nn_evals", "search"), "budget"] == 800  # free-s1's 800 evaluations
    assert at.loc[("nn_evals", "search"), "mean_elo"] == pytest.approx((80 + 90) / 2)
    assert at.loc[("nn_evals", "free"), "mean_elo"] == pytest.approx((400 + 410) / 2)
    p = pairs.set_index(["axis", "agent", "over"]).p_improvement
    assert p[("env_steps", "search", "free")] == 1.0 and p[("nn_evals", "free", "search")] == 1.0
    curve = pd.DataFrame({"env_steps": [0, 200], "elo": [0.0, 50.0]})
    assert elo_at(curve, "env_steps", 50) == 12.5
    assert math.isnan(elo_at(curve, "env_steps", 300))  # past the last evaluation


def test_time_to_strength_is_where_a_curve_first_crosses_each_anchor():
    """One run: Elo 0, 100, 300, 250 at 0, 1000, 2000, 3000 env steps (0, 10, 20, 30 s).
    It crosses 50 halfway to 1000 steps, 200 halfway between 1000 and 2000, never 400."""
    results = pd.DataFrame({"agent": "a", "run": "a-s0", "policy": "raw",
                            "env_steps": [0, 1000, 2000, 3000], "wall_s": [0.0, 10, 20, 30],
                            "elo": [0.0, 100.0, 300.0, 250.0]})
    table = crossings(results, {"random": -1.0, "x": 50.0, "y": 200.0, "z": 400.0})
    at = table.set_index("anchor")
    assert list(at.index) == ["random", "x", "y", "z"]
    assert at.loc["random", "env_steps"] == 0  # above it from the first evaluation
    assert (at.loc["x", "env_steps"], at.loc["x", "wall_s"]) == (500, 5)
    assert (at.loc["y", "env_steps"], at.loc["y", "wall_s"]) == (1500, 15)
    assert math.isnan(at.loc["z", "env_steps"]) and at.loc["y", "anchor_elo"] == 200


def test_the_ray_backend_runs_a_study_on_a_local_ray_instance(tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra: pip install 'rlgo[ray]'")
    path = tiny_study(tmp_path, **{"seeds = [0, 1]": "seeds = [0]", "amount = 500":
                                   "amount = 100"})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        study = run_study(path, show=False, backend="ray")
    finally:
        ray.shutdown()
    results = pd.read_csv(study.out_dir / "results.csv")
    assert sorted(set(results.run)) == ["ppo-s0", "reinforce-s0"]
    league = pd.read_csv(study.out_dir / "league.csv")
    assert len(league) == 4  # two final snapshots and two anchors
    games = MatchDB(study.db_url, read_only=True).games(with_sgf=False)
    assert games.run.str.startswith("league/").sum() == 6 * 4  # every pairing, once
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'"):
        run_study(path, show=False, backend="slurm")


def _reference_table(tmp_path: Path, anchors: dict[str, tuple[float, float]]) -> Path:
    from rlgo.envs import Rules
    from rlgo.evaluation.reference import ReferenceTable

    path = tmp_path / "anchors.toml"
    ReferenceTable(5, float(Rules(board_size=5).komi), anchors, command="by hand",
                   games=0).save(path)
    return path


def test_a_study_on_a_reference_table_keeps_the_tables_scale(tmp_path):
    anchors = {"random": (0.0, 0.0), "rollout:4": (300.0, 40.0)}
    table = _reference_table(tmp_path, anchors)
    path = tiny_study(tmp_path, **{
        "seeds = [0, 1]": "seeds = [0]", "amount = 500": "amount = 300",
        "snapshots = 1": f'snapshots = 1\nreference = "{table}"\ntarget_stderr = 400.0\n'
                         "max_games = 8"})
    study = run_study(path, show=False)
    results = pd.read_csv(study.out_dir / "results.csv")
    for run, part in results.groupby("run"):
        logged = load_metrics(study.out_dir / "runs" / run)
        elo = logged[logged.metric == "eval/elo"].value.to_numpy()
        np.testing.assert_allclose(part.sort_values("env_steps").elo, elo)  # no refit
        games = logged[logged.metric == "eval/games"].value
        assert games.between(2, 8).all()  # adaptive: rounds of 4 games, at most 8
    db = MatchDB(study.db_url, read_only=True).games(with_sgf=False)
    evaluation = db[~db.run.str.startswith("league/")]
    opponents = set(evaluation.black) | set(evaluation.white)
    assert {o for o in opponents if "@" not in o} <= {"random", "rollout:4"}
    assert all(not (("@" in b) and ("@" in w)) for b, w in zip(evaluation.black,
                                                              evaluation.white, strict=True))
    league = pd.read_csv(study.out_dir / "league.csv").set_index("player")
    assert league.loc["rollout:4", "elo"] == 300.0 and league.loc["random", "elo"] == 0.0
    entrants = league[~league.anchor]
    assert len(entrants) == 2
    for name, row in entrants.iterrows():  # 4 league games vs each anchor, and the last
        mine = db[(db.black == name) | (db.white == name)]  # evaluation's adaptive games
        assert mine.run.str.startswith("league/").sum() == 8 + 4
        assert row.games == len(mine[mine.black.isin(list(anchors))
                                     | mine.white.isin(list(anchors))])
        assert row.games > 8


@pytest.mark.parametrize("anchors, message", [
    ({"random": (0.0, 0.0), "rollout:64": (500.0, 40.0)}, "not in the reference table"),
    (None, "evaluation.reference"),
])
def test_a_reference_table_must_fit_the_study(tmp_path, anchors, message):
    table = (_reference_table(tmp_path, anchors) if anchors is not None
             else tmp_path / "missing.toml")
    path = tiny_study(tmp_path, **{"snapshots = 1": f'snapshots = 1\nreference = "{table}"'})
    with pytest.raises(StudyFileError, match=message):
        load_study(path)


def test_a_study_whose_anchors_run_programs_needs_allow_commands(tmp_path):
    from rlgo.study.runner import league_tasks, training_tasks

    program = "gtp:/bin/sh -c 'touch M; exec gnugo --mode gtp'"
    table = _reference_table(tmp_path, {"random": (0.0, 0.0), "rollout:4": (250.0, 30.0),
                                        program: (1400.0, 60.0)})
    cases = {"reference": {"snapshots = 1": f'snapshots = 1\nreference = "{table}"'},
             "ladder": {'ladder = ["random", "rollout:4"]': f'ladder = ["random", "{program}"]'},
             "league": {"opening_moves = 2": f'opening_moves = 2\nanchors = ["{program}"]'}}
    for key, change in cases.items():
        path = tiny_study(tmp_path, f"{key}.toml", **change)
        with pytest.raises(StudyFileError, match=f"{key}.*runs a program.*--allow-commands"):
            load_study(path)
        with pytest.raises(StudyFileError, match="--allow-commands"):
            run_study(path, show=False)
        assert not (tmp_path / key).exists()  # refused before anything was written
    study = load_study(path, allow_commands=True)
    assert all("--allow-commands" in t.argv for t in training_tasks(study))
    assert all(t.argv[-1] == "--allow-commands" for t in league_tasks(study, path, 2))
    assert not any("--allow-commands" in t.argv for t in training_tasks(load_study(
        tiny_study(tmp_path))))


@pytest.mark.parametrize("name, agents", [("quickstart", 4), ("compare_7x7", 4),
                                           ("ppo_recipe_7x7", 3)])
def test_the_committed_study_files_load(name, agents, monkeypatch):
    root = Path(__file__).parents[1]
    monkeypatch.chdir(root)  # their paths (reference tables, output) are relative to it
    study = load_study(root / "studies" / f"{name}.toml")
    assert study.name == name and len(study.agents) == agents


def test_the_committed_analysis_file_loads():
    from rlgo.analysis.credit import load_credit_config

    config = load_credit_config(Path(__file__).parents[1] / "studies" / "credit_7x7.toml")
    assert config.judge_simulations == 64 and "mcts-s1" in config.judge
    assert not any("mcts-s1" in r for r in config.runs)  # the judge is not judged
