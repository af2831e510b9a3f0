"""Results store, config overrides and the checkpoint format."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rlgo.agents.network_player import load_policy_net
from rlgo.envs import Rules
from rlgo.evaluation import EvalConfig
from rlgo.evaluation.players import make_player
from rlgo.learning.files import CheckpointError, load_file, save_file
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.registry import UnknownAgentError, get_learner
from rlgo.training import COUNTERS, TrainConfig, apply_overrides
from rlgo.training.config import dump_toml
from rlgo.training.runs import Counters, RunDir, load_metrics


def test_metrics_are_tidy_and_resume_drops_rows_written_after_the_checkpoint(tmp_path):
    run = RunDir(tmp_path / "r")
    run.open_metrics(keep_rows=0)
    run.log(Counters(env_steps=10, games=1), {"losses/policy": 0.5, "losses/value": 0.25})
    rows_at_checkpoint = run.rows
    run.log(Counters(env_steps=20, games=2), {"losses/policy": 0.4})  # lost work
    again = RunDir(tmp_path / "r")
    again.open_metrics(keep_rows=rows_at_checkpoint)
    again.log(Counters(env_steps=20, games=2), {"losses/policy": 0.45})
    df = load_metrics(tmp_path / "r")
    assert list(df.columns) == ["env_steps", "games", "nn_evals", "nn_evals_act",
                                "nn_evals_opponent", "nn_evals_learner", "train_samples",
                                "wall_s", "metric", "value"] == [*COUNTERS, "metric", "value"]
    assert df["env_steps"].tolist() == [10, 10, 20]
    assert df["value"].tolist() == [0.5, 0.25, 0.45]
    with pytest.raises(ValueError, match="metrics were lost"):
        RunDir(tmp_path / "r").open_metrics(keep_rows=99)
    assert not list((tmp_path / "r").glob("*.tmp"))  # rewritten atomically, nothing left


def test_nn_evals_is_the_sum_of_whoever_spent_them():
    c = Counters(nn_evals_act=100, nn_evals_opponent=40, nn_evals_learner=7)
    assert c.nn_evals == 147 and c.as_dict()["nn_evals"] == 147
    assert Counters.from_dict(c.as_dict()) == c
    old = Counters.from_dict({"env_steps": 5, "games": 1, "nn_evals": 9, "train_samples": 3,
                              "wall_s": 1.0})  # an rlgo 0.1 checkpoint: one counter
    assert old.nn_evals_act == 9 and old.nn_evals == 9


def test_overrides_parse_types_and_reject_unknown_keys():
    cfgs = {"": get_learner("reinforce").default_config(), "net": NetConfig(),
            "train": TrainConfig(), "eval": EvalConfig()}
    out = apply_overrides(cfgs, ["lr=3e-4", "net.blocks=2", "augment=true",
                                 "eval.ladder=random,gnugo:1", "baseline=mean"])
    assert out[""].lr == 3e-4 and out[""].baseline == "mean"
    assert out["net"].blocks == 2
    assert out[""].augment is True
    assert out["eval"].ladder == ("random", "gnugo:1")
    with pytest.raises(ValueError, match="unknown config key 'lrr'.*valid keys: lr"):
        apply_overrides(cfgs, ["lrr=1"])
    with pytest.raises(ValueError, match="unknown config section"):
        apply_overrides(cfgs, ["model.blocks=1"])
    with pytest.raises(ValueError, match="expected a value of type"):
        apply_overrides(cfgs, ["net.blocks=many"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(cfgs, ["lr"])
    with pytest.raises(ValueError, match="baseline"):
        apply_overrides(cfgs, ["baseline=critic"])
    with pytest.raises(ValueError, match="belongs to the learner now"):  # a moved key
        apply_overrides(cfgs, ["train.augment=true"])
    with pytest.raises(UnknownAgentError, match="unknown agent 'alphago'.*mcts, ppo, reinforce"):
        get_learner("alphago")


def _payload(net: PolicyValueNet) -> dict:
    return {"kind": "snapshot", "agent": "reinforce",
            "rules": dataclasses.asdict(Rules(board_size=5)), "agent_config": {},
            "net_config": dataclasses.asdict(net.config), "counters": {"env_steps": 0},
            "weights": net.state_dict()}


def test_snapshot_round_trip_and_corruption(tmp_path):
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    path = save_file(tmp_path / "c.pt", _payload(net))
    payload = load_file(path)
    loaded = load_policy_net(5, NetConfig(**payload["net_config"]), payload["weights"])
    assert payload["rules"]["board_size"] == 5 and not loaded.training
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert make_player(str(path), Rules(board_size=5)).name == str(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_file(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[: 200])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_file(broken)
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an rlgo checkpoint"):
        load_file(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="lacks"):
        save_file(tmp_path / "x.pt", {"agent": "reinforce"})


def test_a_file_naming_a_module_path_is_refused_not_imported(tmp_path):
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    path = save_file(tmp_path / "c.pt", {**_payload(net), "agent": "os.path:join"})
    with pytest.raises(UnknownAgentError, match="third-party learner 'os.path:join', which "
                       "rlgo imports only when you name it: add --agent-module os.path:join"):
        make_player(str(path), Rules(board_size=5))


def test_rlgo_0_1_checkpoints_still_play(tmp_path):
    """A checkpoint written before snapshots existed: the network under ``net``, no
    ``kind``, and weights without the ownership head."""
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    old = {"rlgo_version": "0.1.0", "agent": "reinforce", "agent_config": {},
           "rules": dataclasses.asdict(Rules(board_size=5)),
           "net_config": dataclasses.asdict(net.config), "counters": {"env_steps": 0},
           "net": {k: v for k, v in net.state_dict().items()
                   if not k.startswith("ownership_conv.")}}
    torch.save(old, tmp_path / "old.pt")
    payload = load_file(tmp_path / "old.pt")
    loaded = load_policy_net(5, net.config, payload["weights"])
    for k, v in old["net"].items():
        assert torch.equal(loaded.state_dict()[k], v)
    assert make_player(str(tmp_path / "old.pt"), Rules(board_size=5)) is not None
    bad = {k: v for k, v in old["net"].items() if not k.startswith("stem.")}
    with pytest.raises(ValueError, match="do not fit"):  # anything else still fails
        load_policy_net(5, net.config, bad)


def test_an_rlgo_0_1_checkpoint_cannot_resume_a_run_and_says_so(tmp_path):
    from rlgo.training import build_trainer

    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    (tmp_path / "checkpoints").mkdir()
    torch.save({"rlgo_version": "0.1.0", "agent": "reinforce", "agent_config": {},
                "rules": dataclasses.asdict(Rules(board_size=5)), "counters": {},
                "net_config": dataclasses.asdict(net.config), "net": net.state_dict(),
                "learner": {}, "harness": {}}, tmp_path / "checkpoints" / "step_000000000100.pt")
    trainer = build_trainer("reinforce", 5, 200, 0, tmp_path, ["net.blocks=1",
                            "net.channels=8", "eval.every=0"], progress=False)
    with pytest.raises(ValueError, match="written by rlgo 0.1.0 and cannot resume"):
        trainer.fit()


def test_checkpoints_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"net": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_file(tmp_path / "evil.pt")


def test_a_runs_config_file_rebuilds_its_configs_and_flags_override_it(tmp_path):
    from rlgo.training import build_trainer, load_run_configs, resolve_configs

    sets = ["net.blocks=1", "net.channels=8", "eval.every=0", "lr=0.002"]
    build_trainer("ppo", 5, 200, 3, tmp_path / "a", sets, progress=False).fit()
    stored = tmp_path / "a" / "config.toml"
    again = resolve_configs(config=stored)
    assert again.configs == load_run_configs(tmp_path / "a").configs
    over = resolve_configs(seed=4, overrides=["lr=0.01"], config=stored)
    assert (over.train.seed, over.train.board_size, over.learner.lr) == (4, 5, 0.01)
    assert over.default_out() == "runs/ppo5-s4"


def test_config_files_in_the_older_names_load_as_today_s(tmp_path):
    """Before 2026-12-03 the learner was train.agent and its settings [agent]: stored
    configs and exported best trials in those names still load, to the same configs."""
    from rlgo.training import resolve_configs

    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text("[train]\nagent = 'ppo'\nboard_size = 5\n[agent]\nlr = 0.05\n")
    new.write_text("[train]\nlearner = 'ppo'\nboard_size = 5\n[learner]\nlr = 0.05\n")
    assert resolve_configs(config=old).configs == resolve_configs(config=new).configs
    assert resolve_configs(config=old).learner.lr == 0.05
    assert "[learner]\nlr = 0.05" in dump_toml(resolve_configs(config=old).to_tables())
    with pytest.raises(ValueError, match="train.agent: the learner is named by train.learner"):
        resolve_configs("ppo", overrides=["train.agent=dqn"])


@pytest.mark.parametrize("text, message", [
    ("[train]\nlearner = 'ppo'\nboard_size = 'seven'\n", "board_size = 'seven' is not a int"),
    ("[train]\nlearner = 'ppo'\n[learner]\nlearning_rate = 0.1\n", "unknown keys.*valid keys: lr"),
    ("[train]\nlearner = 'ppo'\n[learner]\nlr = -1.0\n", "lr"),
    ("[train]\nlearner = 'ppo'\nuse_gpu = true\n", "unknown keys \\['use_gpu'\\]"),
    ("[train]\nlearner = 'ppo'\n[agent]\nlr = 0.1\n[learner]\nlr = 0.2\n",
     "both \\[agent\\] and \\[learner\\]"),
    ("[optimizer]\nlr = 1\n", "unknown tables \\['optimizer'\\]"),
    ("[train\n", "not valid TOML"),
    ("[net]\nblocks = 1\n", "name a learner"),
])
def test_bad_config_files_are_refused_naming_file_and_key(tmp_path, text, message):
    from rlgo.training import resolve_configs

    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        resolve_configs(config=path)


def test_nn_evals_budget_and_evaluation_hook(tmp_path):
    from rlgo.training import build_trainer

    seen = []
    trainer = build_trainer("reinforce", 5, 10**9, 0, tmp_path, [
        "net.blocks=1", "net.channels=8", "train.nn_evals=1500", "eval.every=400",
        "eval.games=2", "eval.ladder=random", "train.parallel_games=8",
        "train.games_per_iteration=8"], progress=False)
    counters = trainer.fit(hooks=[lambda t, m: seen.append(
        (t.state.counters.env_steps, m["eval/elo"])) if "eval/elo" in m else None])
    assert counters.nn_evals >= 1500 and counters.env_steps < 10**9
    logged = sorted(set(load_metrics(tmp_path).nn_evals))
    assert logged[-1] == counters.nn_evals and logged[-2] < 1500  # stopped once it crossed
    steps = [s for s, _ in seen]
    assert steps[0] == 0 and steps[-1] == counters.env_steps and steps == sorted(steps)
    assert len(seen) == len(load_metrics(tmp_path).query("metric == 'eval/elo'"))


def test_tensorboard_scalars_mirror_the_metrics_and_survive_a_resume(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlgo.training import build_trainer

    sets = ["net.blocks=1", "net.channels=8", "train.tensorboard=true", "eval.every=200",
            "eval.games=2", "eval.ladder=random", "train.parallel_games=8",
            "train.games_per_iteration=8", "train.checkpoint_every=100"]

    def stop_after_a_checkpoint_and_more(trainer, metrics):
        if trainer.state.counters.env_steps > 350:
            raise KeyboardInterrupt  # killed: rows after the last checkpoint are redone

    with pytest.raises(KeyboardInterrupt):
        build_trainer("reinforce", 5, 600, 0, tmp_path, sets, progress=False).fit(
            hooks=[stop_after_a_checkpoint_and_more])
    build_trainer("reinforce", 5, 600, 0, tmp_path, sets, progress=False).fit()  # resumes
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    metrics = load_metrics(tmp_path)
    assert set(events.Tags()["scalars"]) == set(metrics.metric)
    for tag in ("eval/elo", "losses/policy"):
        logged = metrics[metrics.metric == tag]
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == list(logged.env_steps)  # no step twice
        assert [s.value for s in scalars] == pytest.approx(list(logged.value), rel=1e-6)


def test_a_run_written_before_a_setting_existed_still_resumes(tmp_path):
    import tomllib

    from rlgo.training import build_trainer

    sets = ["net.blocks=1", "net.channels=8", "eval.every=0",
            "train.checkpoint_every=100"]

    def stop(trainer, metrics):
        if trainer.state.counters.env_steps > 250:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_trainer("reinforce", 5, 400, 0, tmp_path, sets, progress=False).fit(
            hooks=[stop])
    config = tomllib.loads((tmp_path / "config.toml").read_text())
    del config["train"]["tensorboard"]  # as an older rlgo wrote it
    (tmp_path / "config.toml").write_text(dump_toml(config))
    build_trainer("reinforce", 5, 400, 0, tmp_path, sets, progress=False).fit()
    assert load_metrics(tmp_path).env_steps.max() >= 400
