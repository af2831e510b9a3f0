"""Tuning with Optuna (rlgo tune): the tuning file, trials end to end, workers, pruning,
divergence and resuming after a kill. Tiny budgets: 5x5, a one-block network, 2 games per
evaluation against random."""

from __future__ import annotations

import dataclasses
import json
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

from rlgo.training import Trainer, resolve_configs
from rlgo.training.runs import RunDir, load_metrics
from rlgo.tuning.config import load_tune, trial_configs
from rlgo.tuning.objective import aggregate, objective, report_step, trial_dirs
from rlgo.tuning.report import tune_main
from rlgo.tuning.retrain import retrain
from rlgo.tuning.storage import open_study, pruner_for, sampler_for
from rlgo.tuning.workers import run_tuning

TUNING = """\
[tune]
name = "tiny"
learner = "ppo"
board_size = 5
env_steps = {env_steps}
trials = {trials}
out = "{out}"
{tune}
[train]
threads = 1
parallel_games = 8
games_per_iteration = 8

[eval]
every = 200
games = 2
ladder = ["random"]

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


def _tuning_file(tmp_path: Path, trials: int = 3, env_steps: int = 300, tune: str = "",
                 space: str = "", name: str = "tune.toml") -> Path:
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(TUNING.format(trials=trials, env_steps=env_steps, out=tmp_path / "out",
                                  tune=tune, space=space))
    return path


def _trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    return open_study(load_tune(path), create=False).get_trials()


# ----------------------------------------------------------------------- the tune file

BAD = [  # (added to [tune], added after the space, the error must say)
    ("", "[bogus]\nx = 1\n", r"unknown tables \['bogus'\]"),
    ('colour = "red"', "", r"unknown keys \['colour'\].*valid keys: name, learner"),
    ("[tune.net]\nblocks = 2", "", r"sub-tables \['net'\]; fixed values go in"),
    ('sampler = "grid"', "", r"sampler must be one of tpe, random, got 'grid'"),
    ('pruner = "asha"', "", r"pruner must be one of median, patient, halving, hyperband, none"),
    ('aggregate = "median"', "", r"aggregate must be one of mean, iqm"),
    ("seeds_per_trial = 0", "", r"seeds_per_trial must be > 0, got 0"),
    ("reduction_factor = 1", "", r"reduction_factor must be >= 2"),
    ('pruner = "wilcoxon"', "", r"'wilcoxon' is not offered.*learning curve"),
    ('objective = "score:gnugo:0"', "", r"needs 'gnugo:0' in eval.ladder"),
    ('storage = "nonsense://"', "", r"\[tune\]: storage 'nonsense://': "),
    ("prune_patience = 0", "", r"prune_patience must be > 0"),
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
     r"gamma must be in \[0, 1\]"),
    ("", '[space.gamma]\ntype = "normal"\n', r"type must be one of float, int, categorical"),
    ("", '[space.gamma]\ntype = "categorical"\nchoices = []\n', r"choices must be a non-empty"),
    ("", '[space.gamma]\ntype = "categorical"\nchoices = [0.9]\nlow = 1\n',
     r"unknown keys \['low'\] for a categorical parameter; valid keys: type, choices"),
    ("", '[space."net.channels"]\ntype = "int"\nlow = 4\nhigh = 16\n',
     r"net.channels is both fixed in \[net\] and searched"),
    ("", '[space."train.seed"]\ntype = "int"\nlow = 0\nhigh = 3\n', r"set by \[tune\]"),
    ("allow_commands = true", "", r"allow_commands is not a key of a tuning file; only the "
                                  r"command line says it \(--allow-commands\)"),
]


@pytest.mark.parametrize(("tune", "space", "message"), BAD)
def test_bad_tuning_files_are_refused_naming_file_key_and_choices(tmp_path, tune, space,
                                                                  message):
    path = _tuning_file(tmp_path, tune=tune, space=space, name="bad.toml")
    with pytest.raises(ValueError, match=message) as info:
        open_study(load_tune(path))
    assert "bad.toml" in str(info.value)


@pytest.mark.parametrize("name", ["..", "a/b", "/tmp/x", ""])
def test_a_search_name_is_a_plain_name_not_a_path(tmp_path, name):
    path = _tuning_file(tmp_path)
    path.write_text(path.read_text().replace('name = "tiny"', f'name = "{name}"'))
    with pytest.raises(ValueError, match="name must be a plain name"):
        load_tune(path)


def test_a_ladder_opponent_that_runs_a_program_needs_allow_commands(tmp_path):
    path = _tuning_file(tmp_path)
    path.write_text(path.read_text().replace('ladder = ["random"]',
                                             'ladder = ["random", "gtp:/bin/true"]'))
    with pytest.raises(ValueError, match=r"ladder names 'gtp:/bin/true', which runs a "
                                         r"program.*--allow-commands"):
        tune_main(path)
    assert not (tmp_path / "out").exists()
    # opted in: the program is started (and found not to speak GTP) before any trial
    with pytest.raises(ValueError, match=r"\[eval\] ladder: 'gtp:/bin/true': "):
        tune_main(path, allow_commands=True)
    assert load_tune(path, allow_commands=True).allow_commands


def test_a_tuning_file_in_the_older_names_loads_as_today_s(tmp_path):
    """[tune] agent = ... and an [agent] table, as tuning files wrote them before
    2026-12-03, read as learner and [learner]; the study fingerprint keeps its stored
    names, so that a study begun before resumes."""
    new = load_tune(_tuning_file(tmp_path, tune="[learner]\nepochs = 2"))
    text = _tuning_file(tmp_path, tune="[agent]\nepochs = 2", name="old.toml").read_text()
    old_path = tmp_path / "old.toml"
    old_path.write_text(text.replace('learner = "ppo"', 'agent = "ppo"'))
    old = load_tune(old_path)
    assert (old.learner, old.learner_config) == (new.learner, new.learner_config) == (
        "ppo", {"epochs": 2})
    assert old.fingerprint() == new.fingerprint()
    assert new.fingerprint()["agent"] == "ppo" and new.fingerprint()["agent_config"] == {
        "epochs": 2}


def test_tuning_file_missing_keys_and_misplaced_train_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[tune]\nlearner = "ppo"\n')
    with pytest.raises(ValueError, match=r"bad.toml \[tune\]: missing keys \['name', "):
        load_tune(path)
    good = _tuning_file(tmp_path).read_text()
    path.write_text(good.replace("threads = 1", "threads = 1\nenv_steps = 5"))
    with pytest.raises(ValueError, match=r"\[train\]: \['env_steps'\] belong in \[tune\]"):
        load_tune(path)
    path.write_text(good.replace("every = 200", "every = 0"))
    with pytest.raises(ValueError, match=r"\[eval\]: every must be > 0"):
        load_tune(path)


def test_a_ladder_opponent_that_cannot_start_stops_the_search_before_any_trial(tmp_path):
    path = _tuning_file(tmp_path)
    path.write_text(path.read_text().replace('ladder = ["random"]',
                                             'ladder = ["random", "gnugo:11"]'))
    with pytest.raises(ValueError, match=r"tune.toml \[eval\] ladder: 'gnugo:11'"):
        run_tuning(path)
    assert not (tmp_path / "out" / "trials").exists()


def test_a_good_tuning_file_reads_every_part(tmp_path):
    space = ('[space."net.value_hidden"]\ntype = "int"\nlow = 16\nhigh = 64\nstep = 16\n'
             '[space.gamma]\ntype = "categorical"\nchoices = [0.99, 1.0]\n')
    tune = load_tune(_tuning_file(tmp_path, tune='pruner = "patient"', space=space))
    assert [p.key for p in tune.space] == ["lr", "net.value_hidden", "gamma"]
    assert tune.space[1].step == 16 and tune.space[1].type == "int"
    assert tune.space[0].log and tune.space[0].low == 1e-4
    assert tune.space[2].choices == (0.99, 1.0)
    assert tune.net == {"blocks": 1, "channels": 8} and tune.pruner == "patient"
    assert tune.metric == "eval/elo"
    assert isinstance(pruner_for(tune), optuna.pruners.PatientPruner)


def test_the_shipped_tuning_file_reads():
    tune = load_tune(Path(__file__).parents[1] / "studies" / "tune_ppo_5x5.toml")
    assert tune.learner == "ppo" and tune.trials >= 10 and len(tune.space) >= 3


def test_every_learner_is_tuned_on_7x7_with_the_same_budget():
    """The four tunings of the fair comparison differ in their learner and its space only:
    trials, env steps, seeds, pruner, sampler and how trials are rated are equal."""
    from rlgo.registry import builtin_names

    studies = Path(__file__).parents[1] / "studies"
    tunes = {t.learner: t for t in (load_tune(p) for p in sorted(studies.glob("tune_*_7x7.toml")))}
    assert sorted(tunes) == sorted(builtin_names())
    budget = {agent: (t.trials, t.env_steps, t.seeds, t.aggregate, t.sampler,
                      t.startup_trials, t.pruner, t.reduction_factor, t.objective,
                      trial_configs(t, {}).eval, t.train)
              for agent, t in tunes.items()}
    assert len(set(map(repr, budget.values()))) == 1, budget
    assert all(len(t.space) >= 4 and not t.learner_config and not t.net for t in tunes.values())
    assert trial_configs(tunes["ppo"], {}).eval.reference.endswith("anchors/7x7.toml")


def test_reports_are_at_the_nominal_evaluation_step():
    assert [report_step(s, 200, 600) for s in (0, 270, 399, 400, 545, 610)] == \
        [0, 200, 200, 400, 400, 600]


def test_a_resumed_study_refuses_a_changed_search(tmp_path):
    path = _tuning_file(tmp_path)
    open_study(load_tune(path))
    changed = _tuning_file(tmp_path, space='[space.gamma]\ntype = "float"\nlow = 0.9\n'
                           'high = 1.0\n')
    with pytest.raises(ValueError, match="started with other trial settings"):
        open_study(load_tune(changed))
    with pytest.raises(ValueError, match="does not exist; run the tuning first"):
        tune_main(_tuning_file(tmp_path / "elsewhere"), report_only=True)


# ----------------------------------------------------------------------- end to end


def test_three_trials_end_to_end_write_the_report_and_a_trainable_best_config(tmp_path):
    path = _tuning_file(tmp_path, trials=3, space='[space."net.value_hidden"]\n'
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
    study = open_study(load_tune(path), create=False)
    configs = resolve_configs(config=out / "best.toml")
    assert configs.learner.lr == pytest.approx(study.best_trial.params["lr"])
    assert configs.net.value_hidden == study.best_trial.params["net.value_hidden"]
    assert configs.net.channels == 8 and configs.eval.ladder == ("random",)
    assert configs.train.db == "" and configs.train.learner == "ppo"


def test_two_worker_processes_run_exactly_the_trials_asked(tmp_path):
    path = _tuning_file(tmp_path, trials=4, env_steps=200)
    run_tuning(path, workers=2)
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
    path = _tuning_file(tmp_path, trials=1, env_steps=200)
    notes: list[str] = []
    run_tuning(path, workers=3, say=notes.append)
    assert len(_trials(path)) == 1 and notes == []
    assert not (tmp_path / "out" / "logs").exists()  # one trial left: run here, no process


def test_the_median_pruner_stops_a_trial_that_is_behind(tmp_path, monkeypatch):
    """Evaluations faked to +1 (lr = 1e-3) or -1 (lr = 1e-4) Elo per env step: with two
    good trials complete, the bad one is pruned at its first evaluation after step 0."""

    def evaluate(self: Trainer) -> dict[str, float]:
        sign = 1.0 if self.learner_config.lr > 5e-4 else -1.0
        return {"eval/elo": sign * self.state.counters.env_steps, "eval/elo_stderr": 1.0}

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    path = _tuning_file(tmp_path, trials=3, env_steps=600, tune="prune_startup_trials = 2")
    study = open_study(load_tune(path))
    for lr in (1e-3, 1e-3, 1e-4):
        study.enqueue_trial({"lr": lr})
    run_tuning(path)
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
        learned = learn(self, batch)
        return dataclasses.replace(learned, metrics={**learned.metrics, key: math.nan})

    monkeypatch.setattr(ppo.PPO, "learn", nan_learn)
    path = _tuning_file(tmp_path, trials=1)
    run_tuning(path)
    (trial,) = _trials(path)
    assert trial.state == state
    if state == TrialState.FAIL:
        assert trial.user_attrs["failed_reason"].startswith(f"diverged: {key} = nan at ")
        assert trial.value is None
    else:
        assert "failed_reason" not in trial.user_attrs


def test_a_killed_search_resumes_to_the_requested_total(tmp_path):
    path = _tuning_file(tmp_path, trials=3, env_steps=300)
    proc = subprocess.Popen([sys.executable, "-m", "rlgo.tuning._worker", str(path)],
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
    run_tuning(path)
    trials = _trials(path)
    assert sorted(t.number for t in trials) == [0, 1, 2]
    assert trials[killed].state == TrialState.FAIL
    assert "stopped before the trial ended" in trials[killed].user_attrs["failed_reason"]
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 2


def test_figures_of_every_trial_state_and_parameter_importances(tmp_path):
    """A synthetic study (no training): complete, pruned and failed trials; the objective
    depends on lr only, so lr is the important parameter."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from rlgo.tuning.report import importances, intermediate_table, trials_table, write_figures

    tune = load_tune(_tuning_file(tmp_path, space='[space.gamma]\ntype = "categorical"'
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
    paths, notes = write_figures(study, tune, trials, inter, tmp_path / "figures")
    assert notes == [] and sorted(p.name for p in paths) == sorted(
        f"{stem}.{ext}" for stem in ("history", "curves", "slices", "importances")
        for ext in ("png", "svg"))


# ----------------------------------------------------------------------- several seeds


def _fake_evaluate(self: Trainer) -> dict[str, float]:
    """An evaluation that plays no game: Elo = 100 x seed + env steps, stderr 3."""
    return {"eval/elo": 100.0 * self.cfg.seed + self.state.counters.env_steps,
            "eval/elo_stderr": 3.0}


def _evals(run: Path) -> pd.DataFrame:
    m = load_metrics(run)
    return m[m.metric == "eval/elo"]


def test_a_trial_over_two_seeds_reports_their_mean_and_keeps_each(tmp_path, monkeypatch):
    monkeypatch.setattr(Trainer, "evaluate", _fake_evaluate)
    path = _tuning_file(tmp_path, trials=1, env_steps=400, tune="seed = 3\nseeds_per_trial = 2")
    tune_main(path, echo=None)
    (trial,) = _trials(path)
    runs = {seed: tmp_path / "out" / "trials" / f"0-seed{seed}" for seed in (3, 4)}
    evals = {seed: _evals(run) for seed, run in runs.items()}
    final = {seed: float(e.value.iloc[-1]) for seed, e in evals.items()}
    assert trial.state == TrialState.COMPLETE
    assert trial.value == pytest.approx((final[3] + final[4]) / 2)
    assert trial.user_attrs["seed_values"] == pytest.approx({"3": final[3], "4": final[4]})
    assert trial.user_attrs["elo_stderr"] == pytest.approx(math.sqrt(3**2 + 3**2) / 2)
    assert trial.user_attrs["config"]["train"]["seed"] == 3
    # every reported value is the mean of the two seeds' evaluations at that nominal step
    by_step: dict[int, list[float]] = {}
    for e in evals.values():
        for steps, value in zip(e.env_steps, e.value, strict=True):
            by_step.setdefault(report_step(steps, 200, 400), []).append(value)
    assert sorted(trial.intermediate_values) == sorted(by_step) == [0, 200, 400]
    for step, values in by_step.items():
        assert len(values) == 2
        assert trial.intermediate_values[step] == pytest.approx(sum(values) / 2)
    table = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert table.loc[0, "value_seed3"] == pytest.approx(final[3])
    assert table.loc[0, "value_seed4"] == pytest.approx(final[4])
    assert table.loc[0, "elo_seed4"] == pytest.approx(final[4])


def test_the_iqm_of_seeds_is_the_mean_of_their_middle_half():
    assert aggregate([1.0, 2.0, 3.0, 100.0], "iqm") == pytest.approx(2.5)
    assert aggregate([1.0, 2.0, 3.0, 100.0], "mean") == pytest.approx(26.5)
    assert aggregate([1.0, 5.0], "iqm") == pytest.approx(3.0)  # below 4 seeds: the mean


class _PruneEverything(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def test_a_pruned_trial_stops_all_its_seeds_at_that_evaluation(tmp_path):
    path = _tuning_file(tmp_path, trials=1, env_steps=800, tune="seeds_per_trial = 3")
    tune = load_tune(path)
    study = optuna.create_study(direction="maximize", pruner=_PruneEverything())
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at 200 env steps"):
        objective(trial, tune)
    assert sorted(trial.storage.get_trial(trial._trial_id).intermediate_values) == [0, 200]
    runs = trial_dirs(tune, trial.number)
    assert [r.name for r in runs] == ["0-seed0", "0-seed1", "0-seed2"]
    for run in runs:
        evals = _evals(run)
        assert [report_step(s, 200, 800) for s in evals.env_steps] == [0, 200], run
        assert load_metrics(run).env_steps.max() < 400  # no run went on past the prune
        assert not (run / "checkpoints").exists()
        with RunDir(run).lock():  # the stopped run let go of its folder
            pass


def test_a_diverged_seed_fails_the_trial_naming_the_seed(tmp_path, monkeypatch):
    iterate = Trainer.iterate

    def nan_for_seed_1(self: Trainer) -> dict[str, float]:
        metrics = iterate(self)
        return {**metrics, "losses/policy": math.nan} if self.cfg.seed == 1 else metrics

    monkeypatch.setattr(Trainer, "iterate", nan_for_seed_1)
    path = _tuning_file(tmp_path, trials=1, tune="seeds_per_trial = 2")
    run_tuning(path)
    (trial,) = _trials(path)
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["failed_reason"].startswith("seed 1 diverged: losses/policy = nan")


# ----------------------------------------------------------------------- pruners, retrain


@pytest.mark.parametrize(("pruner", "cls"), [
    ("halving", optuna.pruners.SuccessiveHalvingPruner),
    ("hyperband", optuna.pruners.HyperbandPruner),
    ("none", optuna.pruners.NopPruner)])
def test_each_pruner_is_the_optuna_one_it_names(tmp_path, pruner, cls):
    tune = load_tune(_tuning_file(tmp_path, tune=f'pruner = "{pruner}"'))
    assert isinstance(pruner_for(tune), cls)


def test_tpe_takes_its_startup_trials_from_the_file(tmp_path):
    tune = load_tune(_tuning_file(tmp_path, tune="startup_trials = 3"))
    assert sampler_for(tune, (0,))._n_startup_trials == 3


def test_hyperband_with_two_workers_on_one_journal_runs_exactly_the_trials_asked(tmp_path):
    path = _tuning_file(tmp_path, trials=5, env_steps=600,
                        tune='pruner = "hyperband"\nreduction_factor = 2')
    run_tuning(path, workers=2)
    trials = _trials(path)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3, 4]
    assert not [t for t in trials if t.state == TrialState.FAIL], \
        [t.user_attrs.get("failed_reason") for t in trials]
    assert len(list((tmp_path / "out" / "logs").glob("worker-*.log"))) == 2


def test_retrain_trains_a_stored_trial_config_exactly_on_new_seeds(tmp_path):
    path = _tuning_file(tmp_path, trials=1, env_steps=200, space='[space."net.value_hidden"]\n'
                        'type = "int"\nlow = 8\nhigh = 16\n')
    tune_main(path, echo=None)
    (trial,) = _trials(path)
    table, line = retrain(path, 0, [7, 8])
    for seed in (7, 8):
        stored = RunDir(tmp_path / "out" / "retrain" / f"0-seed{seed}").read_config()
        expected = json.loads(json.dumps(trial.user_attrs["config"]))
        expected["train"]["seed"] = seed
        assert json.loads(json.dumps(stored)) == expected
    assert table.seed.tolist() == [7, 8] and (table.env_steps >= 200).all()
    assert pd.read_csv(tmp_path / "out" / "retrain" / "trial0.csv").seed.tolist() == [7, 8]
    assert line.startswith("trial 0 on 2 new seeds: mean eval/elo ")
    again, _ = retrain(path, 0, [7])  # a finished run is read back, not trained again
    assert again.value.tolist() == table.value.tolist()[:1]
    with pytest.raises(ValueError, match=r"seeds \[0\] are the tuning's own"):
        retrain(path, 0, [0, 9])
    with pytest.raises(ValueError, match="has no trial 4"):
        retrain(path, 4, [9])


def test_the_command_line_retrains_and_refuses_seeds_without_a_trial(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app

    path = _tuning_file(tmp_path, trials=1, env_steps=200)
    runner = CliRunner()
    res = runner.invoke(app, ["tune", str(path), "--seeds", "5"])
    assert res.exit_code == 2 and "--seeds goes with --retrain N" in res.output
    assert runner.invoke(app, ["tune", str(path)]).exit_code == 0
    res = runner.invoke(app, ["tune", str(path), "--retrain", "0", "--seeds", "5"])
    assert res.exit_code == 0, res.output
    assert "trial 0 seed 5: eval/elo" in res.output and "on 1 new seeds" in res.output


def test_optuna_dashboard_opens_the_tuning_journal(tmp_path):
    """The dashboard's own WSGI app (``optuna-dashboard runs/<name>/optuna.journal``)
    lists the study and each trial's per-seed values."""
    import io
    from wsgiref.util import setup_testing_defaults

    import optuna_dashboard

    path = _tuning_file(tmp_path, trials=2, env_steps=200, tune="seeds_per_trial = 2")
    tune_main(path, echo=None)
    app = optuna_dashboard.wsgi(str(tmp_path / "out" / "optuna.journal"))

    def get(url: str) -> dict:
        environ = {"PATH_INFO": url, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
        setup_testing_defaults(environ)
        status: list[str] = []
        body = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
        assert status[0].startswith("200"), (status, body[:300])
        return json.loads(body)

    (summary,) = get("/api/studies")["study_summaries"]
    assert summary["study_name"] == "tiny"
    detail = get(f"/api/studies/{summary['study_id']}")
    assert len(detail["trials"]) == 2
    attrs = {a["key"]: a["value"] for a in detail["trials"][0]["user_attrs"]}
    assert "seed_values" in attrs and "seeds" in attrs


def test_a_tuning_started_before_rlgo_tuning_resumes(tmp_path):
    """A file with the older table name [search], and a study whose fingerprint was
    stored as "search" (before seeds per trial): it resumes; a changed space is still
    refused."""
    path = _tuning_file(tmp_path, trials=2, env_steps=200)
    older = path.read_text().replace("[tune]", "[search]").replace(
        '[eval]\nevery = 200\ngames = 2\nladder = ["random"]',
        '[train]\neval_every = 200\neval_games = 2\neval_ladder = ["random"]')
    older = older.replace("[train]\nthreads = 1\nparallel_games = 8\ngames_per_iteration = 8\n",
                          "")
    path.write_text(older.replace("[train]\n", "[train]\nthreads = 1\nparallel_games = 8\n"
                                  "games_per_iteration = 8\n"))
    assert "eval_every" in path.read_text() and "[eval]" not in path.read_text()
    tune = load_tune(path)
    assert tune.name == "tiny" and tune.seeds_per_trial == 1
    fingerprint = json.loads(json.dumps(tune.fingerprint()))
    for key in ("seeds_per_trial", "aggregate"):
        del fingerprint[key]
    (tmp_path / "out").mkdir()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "out" / "optuna.journal")))
    old = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    old.set_user_attr("search", fingerprint)
    assert "2 of 2 trials" in tune_main(path, echo=None)
    changed = path.read_text().replace("high = 3e-3", "high = 5e-3")
    path.write_text(changed)
    with pytest.raises(ValueError, match="started with other trial settings"):
        open_study(load_tune(path))
