"""How ``rlgo train`` starts, resumes and stops: a refused start writes nothing, a resume
and the budget's overshoot are said."""

from __future__ import annotations

from typer.testing import CliRunner

from rlgo.cli import app
from rlgo.evaluation.reference import ReferenceTable
from rlgo.training import TrainConfig
from rlgo.training.loop import stopped_at
from rlgo.training.runs import Counters

TINY = ["net.blocks=1", "net.channels=8", "train.parallel_games=8",
        "train.games_per_iteration=8", "eval.games=2", "eval.ladder=random",
        "eval.every=400", "train.checkpoint_every=200"]


def _train(out, *sets: str, steps: int = 100):
    args = ["train", "--learner", "reinforce", "--board-size", "5", "--env-steps", str(steps),
            "--out", str(out), "--no-progress"]
    return CliRunner().invoke(app, [*args, *(x for kv in [*TINY, *sets] for x in ("--set", kv))])


def test_a_bad_ladder_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    res = _train(out, "eval.ladder=random,bogus")
    assert res.exit_code == 2
    assert "error: eval.ladder: unknown player 'bogus'" in res.output
    assert not out.exists()
    res = _train(out)  # the corrected command, same folder
    assert res.exit_code == 0, res.output
    assert (out / "checkpoints").is_dir()


def test_a_reference_table_of_another_komi_is_refused_before_anything_is_written(tmp_path):
    table = ReferenceTable(board_size=5, komi=0.5, anchors={"random": (0.0, 0.0),
                                                            "rollout:2": (50.0, 20.0)})
    path = table.save(tmp_path / "5x5.toml")
    out = tmp_path / "run"
    res = _train(out, f"eval.reference={path}")  # 5x5's default komi is 24.5
    assert res.exit_code == 2
    assert "eval.reference: " in res.output and "with komi 0.5, not 5x5 with komi 24.5" \
        in res.output
    assert not out.exists()
    res = _train(out, f"eval.reference={path}", "train.komi=0.5",
                 "eval.max_games=4")
    assert res.exit_code == 0, res.output


def test_a_start_that_never_checkpointed_gives_way_to_another_config(tmp_path):
    """What an older rlgo left after a start refused at its first evaluation: a config,
    a lock and empty metrics, no checkpoint. A different command takes the folder over."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text('[train]\nagent = "reinforce"\nboard_size = 5\n'
                                     'env_steps = 100\neval_ladder = ["bogus"]\n')
    (out / "lock").write_text("")
    res = _train(out)
    assert res.exit_code == 0, res.output
    assert f"replacing the config of {out}: its run never reached a checkpoint" in res.output
    assert '[eval]\nevery = 400\ngames = 2\nladder = ["random"]' in \
        (out / "config.toml").read_text()


def test_a_resume_says_where_it_resumed_and_a_run_says_where_it_stopped(tmp_path):
    out = tmp_path / "run"
    first = _train(out, steps=150)
    assert first.exit_code == 0, first.output
    assert "resumed" not in first.output
    assert "done: stopped at " in first.output and "(budget 150; a run stops at the end of " \
        "the iteration that reaches it, 8 games per iteration)" in first.output
    checkpoint = sorted((out / "checkpoints").glob("step_*.pt"))[-1]
    again = _train(out, steps=150)
    assert again.exit_code == 0, again.output
    steps = int(checkpoint.stem.split("_")[1])
    assert f"resumed at env step {steps:,} from checkpoint {checkpoint}" in again.output


def test_the_stop_line_names_the_budget_that_stopped_the_run():
    cfg = TrainConfig(board_size=5, env_steps=3_000, games_per_iteration=64)
    assert stopped_at(Counters(env_steps=4_501), cfg) == (
        "stopped at 4,501 env steps (budget 3,000; a run stops at the end of the iteration "
        "that reaches it, 64 games per iteration)")
    timed = TrainConfig(board_size=5, env_steps=3_000, wall_seconds=2.0)
    assert stopped_at(Counters(env_steps=1_200, wall_s=2.6), timed) == (
        "stopped at 1,200 env steps, 3 s of training (budget train.wall_seconds = 2)")
