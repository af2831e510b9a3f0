"""Optuna searches (rlgo tune): the search file, trials end to end, workers, pruning,
divergence and resuming after a kill. Tiny budgets: 5x5, a one-block network, 2 games per
evaluation against random."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

from rlgo.study.search import _pruner, load_search, open_study, report_step
from rlgo.study.tune import tune_main
from rlgo.study.workers import run_search
from rlgo.training import Trainer, resolve_configs

SEARCH = """\
[search]
name = "tiny"
agent = "ppo"
board_size = 5
env_steps = {env_steps}
trials = {trials}
out = "{out}"
{search}
[train]
threads = 1
eval_every = 200
eval_games = 2
eval_ladder = ["random"]
parallel_games = 8
games_per_iteration = 8

[net]
blocks = 1
channels = 8

[space.lr]
type = "float"
low = 1e-4
high = 3e-3
log = true
{space}"""


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """Trials run in this process with ``train.threads = 1`` (two shared cores)."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _search_file(tmp_path: Path, trials: int = 3, env_steps: int = 300, search: str = "",
                 space: str = "", name: str = "search.toml") -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(SEARCH.format(trials=trials, env_steps=env_steps, out=tmp_path / "out",
                                  search=search, space=space))
    return path


def _trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    return open_study(load_search(path), create=False).get_trials()


# ----------------------------------------------------------------------- the search file

BAD = [  # (added to [search], added after the space, the error must say)
    ("", "[bogus]\nx = 1\n", r"unknown tables \['bogus'\]"),
    ('colour = "red"', "", r"unknown keys \['colour'\].*valid keys: name, agent"),
    ("[search.net]\nblocks = 2", "", r"sub-tables \['net'\]; fixed values go in"),
    ('sampler = "grid"', "", r"sampler must be one of tpe, random, got 'grid'"),
    ('pruner = "hyperband"', "", r"pruner must be one of median, patient, none"),
    ('pruner = "wilcoxon"', "", r"'wilcoxon' is not offered.*learning curve"),
    ('objective = "score:gnugo:0"', "", r"needs 'gnugo:0' in train.eval_ladder"),
    ('storage = "nonsense://"', "", r"\[search\]: storage 'nonsense://': "),
    ("prune_patience = 0", "", r"prune_patience must be >= 1"),
    ("", '[space.entropy_coef]\ntype = "float"\nlow = 0.1\nhigh = 0.01\n',
     r"low must be < high"),
    ("", '[space.entropy_coef]\ntype = "float"\nlow = 0.0\nhigh = 0.01\nlog = true\n',
     r"log = true needs low > 0"),
    ("", '[space.learning_rate]\ntype = "float"\nlow = 0.1\nhigh = 0.2\n',
     r"unknown keys \['learning_rate'\] for PPOConfig.*valid keys: lr,"),
    ("", '[space."net.depth"]\ntype = "int"\nlow = 1\nhigh = 3\n',
     r"unknown keys \['depth'\] for NetConfig"),
    ("", '[space."optim.lr"]\ntype = "float"\nlow = 0.1\nhigh = 0.2\n',
     r"unknown config section 'optim'"),
    ("", '[space."net.value_hidden"]\ntype = "float"\nlow = 16\nhigh = 64\n',
     r"value_hidden = 16.0 is not a int"),
    ("", '[space.gamma]\ntype = "float"\nlow = 0.9\nhigh = 1.5\n',
     r"gamma must lie in \[0, 1\]"),
    ("", '[space.gamma]\ntype = "normal"\n', r"type must be one of float, int, categorical"),
    ("", '[space.gamma]\ntype = "categorical"\nchoices = []\n', r"choices must be a non-empty"),
    ("", '[space.gamma]\ntype = "categorical"\nchoices = [0.9]\nlow = 1\n',
     r"unknown keys \['low'\] for a categorical parameter; valid keys: type, choices"),
    ("", '[space."net.channels"]\ntype = "int"\nlow = 4\nhigh = 16\n',
     r"net.channels is both fixed in \[net\] and searched"),
    ("", '[space."train.seed"]\ntype = "int"\nlow = 0\nhigh = 3\n', r"set by the search"),
    ("allow_commands = true", "", r"allow_commands is not a key of a search file; only the "
                                  r"command line says it \(--allow-commands\)"),
]


@pytest.mark.parametrize(("search", "space", "message"), BAD)
def test_bad_search_files_are_refused_naming_file_key_and_choices(tmp_path, search, space,
                                                                  message):
    path = _search_file(tmp_path, search=search, space=space, name="bad.toml")
    with pytest.raises(ValueError, match=message) as info:
        open_study(load_search(path))
    assert "bad.toml" in str(info.value)


@pytest.mark.parametrize("name", ["..", "a/b", "/tmp/x", ""])
def test_a_search_name_is_a_plain_name_not_a_path(tmp_path, name):
    path = _search_file(tmp_path)
    path.write_text(path.read_text().replace('name = "tiny"', f'name = "{name}"'))
    with pytest.raises(ValueError, match="name must be a plain name"):
        load_search(path)


def test_a_ladder_opponent_that_runs_a_program_needs_allow_commands(tmp_path):
    path = _search_file(tmp_path)
    path.write_text(path.read_text().replace('eval_ladder = ["random"]',
                                             'eval_ladder = ["random", "gtp:/bin/true"]'))
    with pytest.raises(ValueError, match=r"eval_ladder names 'gtp:/bin/true', which runs a "
                                         r"program.*--allow-commands"):
        tune_main(path)
    assert not (tmp_path / "out").exists()
    # opted in: the program is started (and found not to speak GTP) before any trial
    with pytest.raises(ValueError, match=r"eval_ladder: 'gtp:/bin/true': "):
        tune_main(path, allow_commands=True)
    assert load_search(path, allow_commands=True).allow_commands


def test_search_file_missing_keys_and_misplaced_train_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[search]\nagent = "ppo"\n')
    with pytest.raises(ValueError, match=r"bad.toml \[search\]: missing keys \['name', "):
        load_search(path)
    good = _search_file(tmp_path).read_text()
    path.write_text(good.replace("eval_every = 200", "eval_every = 200\nenv_steps = 5"))
    with pytest.raises(ValueError, match=r"\[train\]: \['env_steps'\] belong in \[search\]"):
        load_search(path)
    path.write_text(good.replace("eval_every = 200", "eval_every = 0"))
    with pytest.raises(ValueError, match="eval_every must be > 0"):
        load_search(path)


def test_a_ladder_opponent_that_cannot_start_stops_the_search_before_any_trial(tmp_path):
    path = _search_file(tmp_path)
    path.write_text(path.read_text().replace('eval_ladder = ["random"]',
                                             'eval_ladder = ["random", "gnugo:11"]'))
    with pytest.raises(ValueError, match=r"search.toml \[train\] eval_ladder: 'gnugo:11'"):
        run_search(path)
    assert not (tmp_path / "out" / "trials").exists()


def test_a_good_search_file_reads_every_part(tmp_path):
    space = ('[space."net.value_hidden"]\ntype = "int"\nlow = 16\nhigh = 64\nstep = 16\n'
             '[space.gamma]\ntype = "categorical"\nchoices = [0.99, 1.0]\n')
    search = load_search(_search_file(tmp_path, search='pruner = "patient"', space=space))
    assert [p.key for p in search.space] == ["lr", "net.value_hidden", "gamma"]
    assert search.space[1].step == 16 and search.space[1].type == "int"
    assert search.space[0].log and search.space[0].low == 1e-4
    assert search.space[2].choices == (0.99, 1.0)
    assert search.net == {"blocks": 1, "channels": 8} and search.pruner == "patient"
    assert search.metric == "eval/elo"
    assert isinstance(_pruner(search), optuna.pruners.PatientPruner)


def test_the_shipped_search_file_reads():
    search = load_search(Path(__file__).parents[1] / "studies" / "tune_ppo_5x5.toml")
    assert search.agent == "ppo" and search.trials >= 10 and len(search.space) >= 3


def test_reports_are_at_the_nominal_evaluation_step():
    assert [report_step(s, 200, 600) for s in (0, 270, 399, 400, 545, 610)] == \
        [0, 200, 200, 400, 400, 600]


def test_a_resumed_study_refuses_a_changed_search(tmp_path):
    path = _search_file(tmp_path)
    open_study(load_search(path))
    changed = _search_file(tmp_path, space='[space.gamma]\ntype = "float"\nlow = 0.9\n'
                           'high = 1.0\n')
    with pytest.raises(ValueError, match="started with other trial settings"):
        open_study(load_search(changed))
    with pytest.raises(ValueError, match="does not exist; run the search first"):
        tune_main(_search_file(tmp_path / "elsewhere"), report_only=True)


# ----------------------------------------------------------------------- end to end


def test_three_trials_end_to_end_write_the_report_and_a_trainable_best_config(tmp_path):
    path = _search_file(tmp_path, trials=3, space='[space."net.value_hidden"]\n'
                        'type = "int"\nlow = 8\nhigh = 16\n')
    lines: list[str] = []
    summary = tune_main(path, workers=1, echo=lines.append)
    out = tmp_path / "out"
    assert len(lines) == 3 and "study tiny: 3 of 3 trials" in summary
    trials = pd.read_csv(out / "trials.csv")
    assert sorted(trials.number) == [0, 1, 2]
    assert {"number", "state", "value", "lr", "net.value_hidden", "env_steps", "elo",
            "elo_stderr", "wall_s", "run_dir", "elo_refit"} <= set(trials.columns)
    assert (trials.env_steps >= 300).all()
    for stem in ("history", "curves", "slices"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000, stem
    assert "note: parameter importances: 3 completed trials are too few" in summary
    inter = pd.read_csv(out / "intermediate.csv")
    assert set(inter.step) >= {0, 200, 300} and (inter.groupby("number").size() >= 3).all()
    # trials never resume: their checkpoints go, snapshots and metrics stay
    run = out / "trials" / "0"
    assert not (run / "checkpoints").exists() and any((run / "snapshots").iterdir())
    # one shared match database holds every trial's games
    from rlgo.evaluation.matchdb import MatchDB

    games = MatchDB(f"sqlite:///{out / 'matches.sqlite'}", read_only=True).games()
    assert set(games.run) == {"0", "1", "2"}
    # best.toml trains as it is: the best trial's sampled values and the fixed ones
    study = open_study(load_search(path), create=False)
    configs = resolve_configs(config=out / "best.toml")
    assert configs.agent.lr == pytest.approx(study.best_trial.params["lr"])
    assert configs.net.value_hidden == study.best_trial.params["net.value_hidden"]
    assert configs.net.channels == 8 and configs.train.eval_ladder == ("random",)
    assert configs.train.db == "" and configs.train.agent == "ppo"


def test_two_worker_processes_run_exactly_the_trials_asked(tmp_path):
    path = _search_file(tmp_path, trials=4, env_steps=200)
    run_search(path, workers=2)
    trials = _trials(path)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    logs = sorted((tmp_path / "out" / "logs").glob("worker-*.log"))
    failed = [(t.number, t.state.name, t.user_attrs.get("failed_reason")) for t in trials
              if t.state not in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert not failed, (failed, [log.read_text()[-2000:] for log in logs])
    assert len({t.user_attrs["run_dir"] for t in trials}) == 4
    assert all(Path(t.user_attrs["run_dir"]).exists() for t in trials)
    assert len(logs) == 2


def test_a_search_starts_no_more_workers_than_trials_left(tmp_path):
    path = _search_file(tmp_path, trials=1, env_steps=200)
    notes: list[str] = []
    run_search(path, workers=3, say=notes.append)
    assert len(_trials(path)) == 1 and notes == []
    assert not (tmp_path / "out" / "logs").exists()  # one trial left: run here, no process


def test_the_median_pruner_stops_a_trial_that_is_behind(tmp_path, monkeypatch):
    """Evaluations faked to +1 (lr = 1e-3) or -1 (lr = 1e-4) Elo per env step: with two
    good trials complete, the bad one is pruned at its first evaluation after step 0."""

    def evaluate(self: Trainer) -> dict[str, float]:
        sign = 1.0 if self.agent_config.lr > 5e-4 else -1.0
        return {"eval/elo": sign * self.state.counters.env_steps, "eval/elo_stderr": 1.0}

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    path = _search_file(tmp_path, trials=3, env_steps=600, search="prune_startup_trials = 2")
    study = open_study(load_search(path))
    for lr in (1e-3, 1e-3, 1e-4):
        study.enqueue_trial({"lr": lr})
    run_search(path)
    good_a, good_b, bad = sorted(_trials(path), key=lambda t: t.number)
    assert good_a.state == good_b.state == TrialState.COMPLETE
    assert bad.state == TrialState.PRUNED
    assert len(bad.intermediate_values) == 2 < len(good_a.intermediate_values)
    assert bad.user_attrs["env_steps"] < 600 <= good_a.user_attrs["env_steps"]


@pytest.mark.parametrize(("key", "state"), [("losses/policy", TrialState.FAIL),
                                            ("losses/explained_variance", TrialState.COMPLETE)])
def test_a_nan_loss_fails_the_trial_with_its_reason(tmp_path, monkeypatch, key, state):
    from rlgo.agents import ppo

    learn = ppo.PPO.learn

    def nan_learn(self, batch):
        return {**learn(self, batch), key: math.nan}

    monkeypatch.setattr(ppo.PPO, "learn", nan_learn)
    path = _search_file(tmp_path, trials=1)
    run_search(path)
    (trial,) = _trials(path)
    assert trial.state == state
    if state == TrialState.FAIL:
        assert trial.user_attrs["failed_reason"].startswith(f"diverged: {key} = nan at ")
        assert trial.value is None
    else:
        assert "failed_reason" not in trial.user_attrs


def test_a_killed_search_resumes_to_the_requested_total(tmp_path):
    path = _search_file(tmp_path, trials=3, env_steps=300)
    proc = subprocess.Popen([sys.executable, "-m", "rlgo.study._worker", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = None
    try:
        deadline = time.monotonic() + 60
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not (tmp_path / "out" / "optuna.journal").exists():
                continue
            trials = _trials(path)
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and "run_dir" in t.user_attrs]
            if running and any(t.state == TrialState.COMPLETE for t in trials):
                os.kill(proc.pid, signal.SIGKILL)
                killed = running[0].number
    finally:
        proc.kill()
        proc.wait()
    assert killed is not None, "the worker never had a trial running after a complete one"
    assert _trials(path)[killed].state == TrialState.RUNNING  # as the kill left it
    run_search(path)
    trials = _trials(path)
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert trials[killed].state == TrialState.FAIL
    assert "stopped before the trial ended" in trials[killed].user_attrs["failed_reason"]
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 2


def test_figures_of_every_trial_state_and_parameter_importances(tmp_path):
    """A synthetic study (no training): complete, pruned and failed trials; the objective
    depends on lr only, so lr is the important parameter."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from rlgo.study.tune import importances, intermediate_table, trials_table, write_figures

    search = load_search(_search_file(tmp_path, space='[space.gamma]\ntype = "categorical"'
                                      '\nchoices = [0.99, 1.0]\n'))
    study = optuna.create_study(direction="maximize")
    assert importances(study)[0] is None
    dists = {"lr": FloatDistribution(1e-4, 3e-3, log=True),
             "gamma": CategoricalDistribution([0.99, 1.0])}
    for i in range(24):
        lr, gamma = 1e-4 * 1.15 ** i, (0.99, 1.0)[i % 2]
        curve = {s: 1e5 * lr * s / 600 for s in (0, 200, 400, 600)}
        state = (TrialState.PRUNED if i % 7 == 3 else
                 TrialState.FAIL if i % 7 == 5 else TrialState.COMPLETE)
        if state != TrialState.COMPLETE:
            curve = {s: v for s, v in curve.items() if s <= 200}
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr, "gamma": gamma}, distributions=dists, state=state,
            value=curve[600] if state == TrialState.COMPLETE else None,
            intermediate_values=curve,
            user_attrs={"env_steps": max(curve), "elo_stderr": 20.0}))
    values, quantile, why = importances(study)
    assert values is not None and values["lr"] > values["gamma"] and why == ""
    trials, inter = trials_table(study), intermediate_table(study)
    assert set(trials.state) == {"complete", "pruned", "fail"}
    paths, notes = write_figures(study, search, trials, inter, tmp_path / "figures")
    assert notes == [] and sorted(p.name for p in paths) == sorted(
        f"{stem}.{ext}" for stem in ("history", "curves", "slices", "importances")
        for ext in ("png", "svg"))
