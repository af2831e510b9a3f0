"""The parts of the training loop (rlgo.training.state, the hooks of rlgo.training.loop
and rlgo.tuning.objective), checked by hand."""

from __future__ import annotations

import math

import pytest

from rlgo.evaluation import EvalConfig
from rlgo.registry import get_learner
from rlgo.training import Trainer, build_trainer, load_metrics, resolve_configs
from rlgo.training.config import RunConfigs, TrainConfig
from rlgo.training.runs import Counters
from rlgo.training.state import Every, Progress
from rlgo.tuning.objective import Diverged, stop_if_diverged


def test_every_is_due_at_next_and_skips_past_a_jump():
    e = Every(interval=100, next=100)
    assert not e.due(99) and e.due(100) and e.due(250)
    e.skip_past(250)  # an iteration that crossed two marks: due next at 300
    assert e.next == 300 and not e.due(299)
    e.advance()
    assert e.next == 400


def test_progress_keeps_the_checkpoint_format_of_earlier_versions():
    cfg = RunConfigs(TrainConfig(checkpoint_every=20, pool_every=10), None, None,
                     get_learner("reinforce"), EvalConfig(every=50))
    fresh = Progress.fresh(cfg)
    assert (fresh.evaluation.next, fresh.checkpoint.next, fresh.pool_refresh.next) == (50, 20, 0)
    stored = {"iteration": 7, "next_eval": 150, "next_checkpoint": 140, "next_pool": 130,
              "pool": [], "last_elo": 12.5}  # a 0.2 checkpoint's "harness" table
    p = Progress.from_payload({"harness": stored, "counters": Counters(env_steps=133)
                               .as_dict()}, cfg)
    assert p.to_dict() == stored and p.counters.env_steps == 133
    assert p.evaluation == Every(50, 150) and p.pool_refresh == Every(10, 130)


def test_the_divergence_hook_stops_at_a_non_finite_loss_only():
    class Run:  # what the hook reads of a trainer
        class state:  # noqa: N801
            counters = Counters(env_steps=640)

    stop_if_diverged(Run, {"losses/policy": 0.5, "charts/kl": math.nan})
    with pytest.raises(Diverged, match=r"losses/value = nan at 640 env steps"):
        stop_if_diverged(Run, {"losses/policy": 0.5, "losses/value": math.nan})


def test_hooks_see_every_row_in_order_and_a_raising_hook_stops_a_run_that_resumes(
        tmp_path):
    sets = ["net.blocks=1", "net.channels=8", "eval.every=200", "eval.games=2",
            "eval.ladder=random", "train.parallel_games=8",
            "train.games_per_iteration=8", "train.checkpoint_every=100"]
    seen: list[tuple[int, str]] = []

    def watch(trainer, metrics):
        kind = "eval" if "eval/elo" in metrics else "iteration"
        seen.append((trainer.state.counters.env_steps, kind))
        if trainer.state.counters.env_steps > 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_trainer("reinforce", 5, 600, 0, tmp_path, sets, progress=False).fit(
            hooks=[watch])
    assert seen[0] == (0, "eval")  # the untrained network first
    steps = [s for s, kind in seen if kind == "iteration"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    evals = [s for s, kind in seen if kind == "eval"]
    assert all(s in steps for s in evals[1:])  # an evaluation follows its iteration's row
    counters = build_trainer("reinforce", 5, 600, 0, tmp_path, sets, progress=False).fit()
    rows = load_metrics(tmp_path)
    assert rows.env_steps.max() == counters.env_steps >= 600
    per_step = rows[rows.metric == "losses/policy"].env_steps
    assert per_step.is_unique  # the resume redid the rows after its checkpoint, once


def test_a_learner_that_returns_a_dict_is_told_to_return_learned(tmp_path, monkeypatch):
    """The counters used to ride in the metrics dict; a learner written that way gets an
    error naming the type to return, not silently wrong counters."""
    from rlgo.agents import reinforce

    monkeypatch.setattr(reinforce.Reinforce, "learn",
                        lambda self, batch: {"losses/x": 1.0, "train_samples": len(batch)})
    c = resolve_configs("reinforce", 5, 40, 0, ["eval.every=0", "net.blocks=1",
                                                "net.channels=8", "train.parallel_games=2",
                                                "train.games_per_iteration=2"])
    trainer = Trainer(c, tmp_path / "run", progress=False)
    with pytest.raises(TypeError, match=r"learn returned a dict, not an "
                       r"rlgo.protocols.Learned\(metrics, train_samples, nn_evals\)"):
        trainer.fit()


def test_a_run_whose_config_predates_the_eval_table_resumes(tmp_path):
    """config.toml of a run made before EvalConfig kept the evaluation in [train]
    (eval_every, eval_games, eval_ladder...): the same command resumes it."""
    sets = ["net.blocks=1", "net.channels=8", "eval.every=100", "eval.games=2",
            "eval.ladder=random", "train.parallel_games=4", "train.games_per_iteration=4",
            "train.checkpoint_every=100"]
    class Stop(Exception):
        pass

    def stop_after_a_checkpoint(trainer, metrics):
        if trainer.run.checkpoint_files():
            raise Stop  # as a killed run: its last checkpoint stays

    with pytest.raises(Stop):
        build_trainer("reinforce", 5, 300, 0, tmp_path / "run", sets,
                      progress=False).fit(hooks=[stop_after_a_checkpoint])
    path = tmp_path / "run" / "config.toml"
    text = path.read_text()
    head, _, rest = text.partition("[eval]\n")
    evaluation, _, tail = rest.partition("\n\n")
    older = head.replace("[train]\n", "[train]\n" + "".join(
        f"eval_{line}\n" for line in evaluation.splitlines()), 1) + tail
    path.write_text(older)
    assert "[eval]" not in path.read_text() and "eval_every = 100" in path.read_text()
    trainer = build_trainer("reinforce", 5, 300, 0, tmp_path / "run", sets, progress=False)
    counters = trainer.fit()  # resumed: not refused as "a different config"
    assert counters.env_steps >= 300
    assert trainer.state.iteration > 0 and load_metrics(tmp_path / "run").env_steps.min() == 0
