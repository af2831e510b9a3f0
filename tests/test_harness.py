"""The harness: learner protocol, counters, determinism, resume after a kill, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from rlgo.cli import app
from rlgo.envs import Rules
from rlgo.evaluation import EvalConfig
from rlgo.learning.network import NetConfig
from rlgo.protocols import Learned, Learner, Player
from rlgo.registry import builtin_names, get_learner
from rlgo.training import SelfPlay, TrainConfig, apply_overrides, build_trainer

TINY = ["net.blocks=1", "net.channels=8", "train.parallel_games=8",
        "train.games_per_iteration=8", "eval.games=2", "eval.ladder=random",
        "eval.every=400", "train.checkpoint_every=200"]
TIMING = ("wall_s",)


AGENTS = builtin_names()


def _fast(agent: str) -> list[str]:
    """The learner's own settings that keep the tiny runs tiny (its FAST_SETTINGS)."""
    return list(get_learner(agent).fast_settings)


def _make(agent: str, board_size: int = 5):
    entry = get_learner(agent)
    config = apply_overrides({"": entry.default_config()}, _fast(agent))[""]
    return entry.make(Rules(board_size=board_size), config, NetConfig(blocks=1, channels=8),
                      0, "cpu")


@pytest.mark.parametrize("agent", AGENTS)
def test_learners_fit_the_protocol(agent):
    learner = _make(agent)
    assert isinstance(learner, Learner)
    assert isinstance(learner.player(), Player)
    batch, _ = SelfPlay(Rules(board_size=5), 4, learner.player()).play(4)
    before = learner.snapshot()
    frozen = learner.snapshot_player(before, name="frozen", greedy=True)
    learned = learner.learn(batch)
    assert isinstance(learned, Learned) and learned.train_samples > 0  # it learned
    metrics = learned.metrics
    assert all(k.startswith(("losses/", "charts/")) for k in metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    # a snapshot is a copy: learning changed the learner, not the snapshot
    after = learner.snapshot()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert isinstance(frozen, Player) and frozen.name == "frozen"
    again = learner.snapshot_player(before, name="again", greedy=True)
    pos_batch, _ = SelfPlay(Rules(board_size=5), 2, frozen).play(2)
    assert len(pos_batch) > 0 and isinstance(again, Player)
    other = _make(agent)
    other.load_state_dict(learner.state_dict())
    assert all(torch.equal(v, other.snapshot()[k]) for k, v in after.items())


def test_env_steps_count_the_moves_actually_played():
    learner = _make("reinforce")
    rules = Rules(board_size=5)
    torch.manual_seed(0)
    batch, stats = SelfPlay(rules, 3, learner.player()).play(7)  # slots get refilled
    assert stats.games == 7 and len(stats.moves_per_game) == 7
    assert stats.env_steps == sum(stats.moves_per_game)
    assert len(batch) == stats.env_steps  # self-play records both colours
    assert len(np.unique(batch.game)) == 7
    for g in np.unique(batch.game):
        rows = batch.game == g
        assert (np.diff(batch.move[rows]) == 1).all() and batch.move[rows][0] == 0
        # one last move per colour, and the outcome flips sign between the colours
        assert batch.last[rows].sum() == 2
        black = batch.player[rows] == 1
        assert set(batch.outcome[rows][black]) | set(-batch.outcome[rows][~black]) <= {
            float(batch.outcome[rows][black][0])}
        assert (batch.reward[rows][~batch.last[rows]] == 0).all()
    from rlgo.agents.random_player import RandomPlayer

    batch, stats = SelfPlay(rules, 4, learner.player(), opponent=RandomPlayer(1)).play(6)
    assert stats.env_steps == sum(stats.moves_per_game)
    # against an opponent only the learner's moves are rows: Black in even games
    for g in np.unique(batch.game):
        colours = set(batch.player[batch.game == g].tolist())
        assert colours == {1 if g % 2 == 0 else 2}


def test_ownership_rows_are_the_final_area_from_the_movers_view():
    learner = _make("reinforce")
    rules = Rules(board_size=5, komi=1.5)
    torch.manual_seed(1)
    batch, _ = SelfPlay(rules, 3, learner.player()).play(5)
    assert batch.ownership.shape == (len(batch), 25) and batch.ownership.dtype == np.int8
    for g in np.unique(batch.game):
        rows = np.flatnonzero(batch.game == g)
        own, player = batch.ownership[rows], batch.player[rows]
        black_view = np.where(player[:, None] == 1, own, -own)
        assert (black_view == black_view[0]).all()  # one final board per game
        margin = black_view[0].sum() - rules.komi  # Black's area minus White's, komi
        assert np.sign(margin) == np.sign(batch.outcome[rows][player == 1][0])
    # augmentation moves the ownership with the board
    from rlgo.learning import augment

    rng = np.random.default_rng(0)
    obs, _, _, _, own = augment(batch.obs, batch.mask, batch.action, None, rng,
                                batch.ownership)
    again = augment(batch.obs, batch.mask, batch.action, None, np.random.default_rng(0),
                    batch.obs[:, 0].reshape(len(batch), -1))
    np.testing.assert_array_equal(again[0], obs)
    np.testing.assert_array_equal(again[4].reshape(obs[:, 0].shape), obs[:, 0])
    assert not np.array_equal(own, batch.ownership)


def test_wall_clock_budget_stops_training(tmp_path):
    trainer = build_trainer("reinforce", 5, 10**9, 0, tmp_path / "w",
                            TINY + ["train.wall_seconds=0.001", "eval.every=0"],
                            progress=False)
    counters = trainer.fit()
    assert 0 < counters.env_steps < 10**9 and counters.wall_s >= 0.001
    assert trainer.state.iteration == 1  # the iteration that crossed the budget ends it
    with pytest.raises(ValueError, match="wall_seconds"):
        TrainConfig(wall_seconds=-1)


def _metrics(out) -> pd.DataFrame:
    df = pd.read_csv(out / "metrics.csv")
    df = df[~df.metric.str.endswith("_s") & ~df.metric.str.contains("per_s")]
    return df.drop(columns=list(TIMING)).reset_index(drop=True)


@pytest.mark.parametrize("agent", AGENTS)
def test_same_seed_same_results(tmp_path, agent):
    torch.set_num_threads(1)
    sets = [*TINY, *_fast(agent)]
    for name in ("a", "b"):
        build_trainer(agent, 5, 400, 3, tmp_path / name, sets, progress=False).fit()
    a, b = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    pd.testing.assert_frame_equal(a, b)
    c = tmp_path / "c"
    build_trainer(agent, 5, 400, 4, c, sets, progress=False).fit()
    assert not _metrics(c).equals(a)


@pytest.mark.parametrize("agent", AGENTS)
def test_killed_run_resumes_with_every_metric_intact(tmp_path, agent):
    """Kill -9 a real `rlgo train` process after its first checkpoint, resume it, and get
    exactly the metrics of an uninterrupted run (timings aside)."""
    args = [sys.executable, "-m", "rlgo.cli", "train", "--agent", agent,
            "--board-size", "5", "--env-steps", "1000", "--seed", "1", "--no-progress"]
    for kv in [*TINY, *_fast(agent), "train.threads=1"]:
        args += ["--set", kv]
    # One thread each: a thread pool sharing 2 cores with other jobs stalls badly.
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    full = tmp_path / "full"
    subprocess.run([*args, "--out", str(full)], check=True, capture_output=True, env=env)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list((killed / "checkpoints").glob("step_*.pt")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((killed / "checkpoints").glob("step_*.pt")), "no checkpoint before the kill"
    subprocess.run([*args, "--out", str(killed)], check=True, capture_output=True, env=env)
    pd.testing.assert_frame_equal(_metrics(full), _metrics(killed))
    from rlgo.evaluation.matchdb import MatchDB

    games = [MatchDB(f"sqlite:///{d / 'matches.sqlite'}").games(with_sgf=False)
             for d in (full, killed)]
    cols = ["black", "white", "winner", "score", "moves", "env_steps"]
    for g, name in zip(games, ("full", "killed"), strict=True):
        for side in ("black", "white"):
            g[side] = g[side].str.replace(f"{name}@", "run@")
    pd.testing.assert_frame_equal(games[0][cols], games[1][cols])


def test_resume_refuses_a_different_config(tmp_path):
    build_trainer("reinforce", 5, 200, 0, tmp_path, TINY, progress=False).fit()
    with pytest.raises(ValueError, match="different config"):
        build_trainer("reinforce", 5, 200, 0, tmp_path, [*TINY, "lr=0.5"], progress=False).fit()


def test_cli_train_smoke_and_clear_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    sets = [x for kv in TINY for x in ("--set", kv)]
    res = runner.invoke(app, ["train", "--agent", "reinforce", "--board-size", "5",
                              "--env-steps", "300", "--out", str(out), "--no-progress", *sets])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "metrics.csv")
    assert {"losses/policy", "eval/elo", "charts/games_per_s"} <= set(df.metric)
    assert df.env_steps.max() >= 300
    assert list((out / "checkpoints").glob("step_*.pt"))
    res = runner.invoke(app, ["train", "--agent", "alphago", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "unknown agent" in res.output
    assert all(name in res.output for name in AGENTS)  # the error lists what is registered
    assert list((out / "snapshots").glob("step_*.pt"))
    res = runner.invoke(app, ["train", "--agent", "reinforce", "--out", str(tmp_path / "y"),
                              "--set", "nope=1"])
    assert res.exit_code == 2 and "unknown config key" in res.output
    res = runner.invoke(app, ["train", "--agent", "reinforce", "--board-size", "5",
                              "--out", str(tmp_path / "z"), "--no-progress", *sets,
                              "--set", "eval.ladder=random,gtp:cat", "--allow-commands"])
    assert res.exit_code == 2, res.output  # a ladder engine that is none: one line, not
    assert res.output.startswith(  # "a bug in rlgo", and before the run folder is written
        "error: eval.ladder: cat (cat) does not answer GTP")
    assert not (tmp_path / "z").exists()


def test_train_config_validation():
    with pytest.raises(ValueError, match="board_size"):
        TrainConfig(board_size=21)
    with pytest.raises(ValueError, match="max_games = 2 allows no round of 4 games"):
        EvalConfig(reference="t.toml", games=5, max_games=2)
    assert EvalConfig(games=5, max_games=2).max_games == 2  # no table
    with pytest.raises(ValueError, match="target_stderr must be a finite number"):
        EvalConfig(target_stderr=float("nan"))
    with pytest.raises(ValueError, match="opponent"):
        TrainConfig(opponent="league")
    with pytest.raises(ValueError, match="env_steps must be > 0"):
        TrainConfig(env_steps=0)


def test_mcts_run_rates_raw_policy_and_search(tmp_path, monkeypatch):
    """An mcts run logs the raw policy's Elo and the searched policy's Elo side by side."""
    sets = [*TINY, *_fast("mcts"), "eval.search=4", "eval.every=300"]
    torch.set_num_threads(1)
    trainer = build_trainer("mcts", 5, 300, 0, tmp_path, sets, progress=False)
    trainer.fit()
    df = pd.read_csv(tmp_path / "metrics.csv")
    # the ladder reads earlier snapshots (weights only), never the resume checkpoints
    import rlgo.evaluation.evaluator as evaluator

    read = []
    real = evaluator.load_file
    monkeypatch.setattr(evaluator, "load_file", lambda p: read.append(Path(p)) or real(p))
    trainer.evaluate()
    assert read and all(p.parent.name == "snapshots" for p in read)
    snap, ckpt = trainer.run.snapshot_files()[-1], trainer.run.latest_checkpoint()
    assert snap.stat().st_size * 5 < ckpt.stat().st_size  # the replay window stays out

    names = set(df.metric)
    assert {"eval/elo", "eval/search/elo", "eval/search/vs_random/score",
            "charts/search_disagreement"} <= names
    searched = df[df.metric == "eval/search/elo"]
    assert len(searched) == 2 and searched.env_steps.iloc[-1] >= 300  # step 0 and the end
    assert df.nn_evals.max() > df.env_steps.max()  # search evaluates more than one per move
    assert (df.nn_evals == df.nn_evals_act).all()  # no opponent, no reanalyse


def test_opponent_pool_plays_past_snapshots(tmp_path):
    sets = [*TINY, "train.opponent=pool", "train.pool_every=100", "train.pool_size=2",
            "eval.every=0"]
    trainer = build_trainer("reinforce", 5, 500, 0, tmp_path, sets, progress=False)
    trainer.fit()
    df = pd.read_csv(tmp_path / "metrics.csv")
    assert "charts/score_vs_pool" in set(df.metric)
    assert 1 <= len(trainer.state.pool) <= 2
    # the pool's evaluations are the opponent's, counted apart from the learner's
    last = df.iloc[-1]
    assert last.nn_evals_opponent > 0 and last.nn_evals_act > 0
    assert last.nn_evals == last.nn_evals_act + last.nn_evals_opponent
    # against an opponent only the learner's own moves are trained on: about half
    games = df[df.metric == "losses/policy"]
    assert (games.train_samples.diff().dropna() < games.env_steps.diff().dropna()).all()


def test_random_openings_and_a_share_of_games_against_the_pool():
    from rlgo.agents.random_player import RandomPlayer

    learner = _make("reinforce")
    rules = Rules(board_size=5)
    torch.manual_seed(0)
    play = SelfPlay(rules, 6, learner.player(), RandomPlayer(1), opponent_share=0.5,
                    opening_moves=6, rng=np.random.default_rng(3))
    batch, stats = play.play(24)
    assert stats.env_steps == sum(stats.moves_per_game)  # opening moves are real moves
    firsts = [batch.move[batch.game == g].min() for g in np.unique(batch.game)]
    assert max(firsts) > 1  # some games began after random moves, not recorded as rows
    colours = [len(set(batch.player[batch.game == g].tolist())) for g in np.unique(batch.game)]
    assert 1 in colours and 2 in colours  # games against the pool and plain self-play
    assert stats.nn_evals_opponent == 0  # a random opponent evaluates no network
    versus = sum(c == 1 for c in colours)  # the games against the opponent
    assert stats.opponent_games == versus < stats.games
    assert abs(stats.learner_score) <= stats.opponent_games
    with pytest.raises(ValueError, match="opponent_share"):
        SelfPlay(rules, 2, learner.player(), opponent_share=1.5)
    with pytest.raises(ValueError, match="opening_moves"):
        TrainConfig(board_size=5, opening_moves=25)


def test_a_run_directory_has_one_owner(tmp_path):
    from rlgo.training.runs import RunDir, RunLockedError

    run = RunDir(tmp_path / "r")
    with run.lock():
        assert f"process {os.getpid()}" in (tmp_path / "r" / "lock").read_text()
        with pytest.raises(RunLockedError, match=f"in use by process {os.getpid()}"):
            with RunDir(tmp_path / "r").lock():
                pass
        # a second `rlgo train` on a directory in use exits with a clear error
        res = CliRunner().invoke(app, ["train", "--agent", "reinforce", "--board-size", "5",
                                       "--env-steps", "100", "--out", str(tmp_path / "r"),
                                       "--no-progress"])
        assert res.exit_code == 2 and "in use by process" in res.output
    with run.lock():  # released
        pass
    # a holder killed with -9 leaves no stale lock: the kernel drops it with the process
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from rlgo.training.runs import RunDir\n"
        f"with RunDir({str(tmp_path / 'r')!r}).lock():\n"
        "    print('locked', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunLockedError, match=f"process {holder.pid}"):
        with run.lock():
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run.lock():
        pass


def test_every_snapshot_is_kept_and_only_the_newest_checkpoints(tmp_path):
    trainer = build_trainer("reinforce", 5, 600, 0, tmp_path, [*TINY, "eval.every=0",
                            "train.checkpoint_every=100"], progress=False)
    trainer.fit()
    assert len(trainer.run.snapshot_files()) == 3  # one per iteration (~270 steps each)
    assert len(trainer.run.checkpoint_files()) == 2
    assert trainer.run.checkpoint_files()[-1].name == trainer.run.snapshot_files()[-1].name


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    """Truncate the newest checkpoint: the run resumes from the previous one, says so,
    drops the later snapshot and ends with the metrics of an uninterrupted run."""
    sets = [*TINY, "eval.every=0", "train.checkpoint_every=100"]
    build_trainer("reinforce", 5, 600, 2, tmp_path / "full", sets, progress=False).fit()
    run = tmp_path / "cut"
    build_trainer("reinforce", 5, 400, 2, run, sets, progress=False).fit()
    newest = sorted((run / "checkpoints").glob("step_*.pt"))[-1]
    newest.write_bytes(newest.read_bytes()[:300])  # torn by a disk failure
    config = (run / "config.toml").read_text().replace("env_steps = 400", "env_steps = 600")
    (run / "config.toml").write_text(config)
    trainer = build_trainer("reinforce", 5, 600, 2, run, sets, progress=False)
    with pytest.warns(RuntimeWarning, match="resuming from the checkpoint before it"):
        trainer.fit()
    pd.testing.assert_frame_equal(_metrics(tmp_path / "full"), _metrics(run))
    names = [p.name for p in (run / "snapshots").glob("*.pt")]
    assert sorted(names) == sorted(p.name for p in (tmp_path / "full" / "snapshots").glob("*.pt"))


def test_two_runs_with_one_folder_name_cannot_share_a_database_by_accident(tmp_path):
    from rlgo.evaluation.matchdb import MatchDB

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    sets = [*TINY, f"train.db={url}"]
    first = tmp_path / "a" / "run"
    build_trainer("reinforce", 5, 300, 0, first, sets, progress=False).fit()
    games = MatchDB(url).games(with_sgf=False)
    assert len(games) > 0 and set(t["run_id"] for t in games.tags) == {
        (first / "run_id").read_text().strip()}
    with pytest.raises(ValueError, match="games of another run named 'run'"):
        build_trainer("reinforce", 5, 300, 0, tmp_path / "b" / "run", sets,
                      progress=False).fit()
    pd.testing.assert_frame_equal(MatchDB(url).games(with_sgf=False), games)  # nothing lost
    # the first run still resumes (and finds nothing to redo)
    build_trainer("reinforce", 5, 300, 0, first, sets, progress=False).fit()
    assert len(MatchDB(url).games(with_sgf=False)) == len(games)


@pytest.mark.parametrize("agent", ["mcts", "ppo"])
def test_self_play_samples_are_sgf_that_replays_to_its_result(tmp_path, agent):
    from sgfmill import sgf

    from rlgo.envs.sgf import replay_sgf

    sets = [*TINY, *_fast(agent), "train.sgf_samples=2"]
    build_trainer(agent, 5, 400, 0, tmp_path, sets, progress=False).fit()
    files = sorted((tmp_path / "games").glob("step_*.sgf"))
    assert len(files) == 2  # one evaluation after training began (step 0 has no games)
    for path in files:
        text = path.read_text()
        engine, actions = replay_sgf(text)
        game = sgf.Sgf_game.from_string(text)
        assert engine.done[0]
        score = engine.scores()[0]
        assert game.get_root().get("RE") == (f"B+{score:g}" if score > 0 else f"W+{-score:g}")
        comments = [n.get("C") for n in game.get_main_sequence()[1:] if n.has_property("C")]
        assert comments, "every learner here records a value per move"
        if agent == "mcts":
            assert any(c.startswith("search: ") for c in comments)
        assert all("value" in c for c in comments)
