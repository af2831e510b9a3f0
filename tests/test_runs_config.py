"""Results store, config overrides and the checkpoint format."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from rlgo.envs import Rules

from rlgo.checkpoint import (
    CheckpointError,
    load_checkpoint,
    network_from_checkpoint,
    save_checkpoint,
)
from rlgo.network import NetConfig, PolicyValueNet
from rlgo.runs import Counters, RunDir, load_metrics
from rlgo.train import TrainConfig, agent_config_class, apply_overrides


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
    assert list(df.columns) == ["env_steps", "games", "nn_evals", "train_samples", "wall_s",
                                "metric", "value"]
    assert df["env_steps"].tolist() == [10, 10, 20]
    assert df["value"].tolist() == [0.5, 0.25, 0.45]
    with pytest.raises(ValueError, match="metrics were lost"):
        RunDir(tmp_path / "r").open_metrics(keep_rows=99)


def test_overrides_parse_types_and_reject_unknown_keys():
    cfgs = {"": agent_config_class("reinforce")(), "net": NetConfig(), "train": TrainConfig()}
    out = apply_overrides(cfgs, ["lr=3e-4", "net.blocks=2", "train.augment=true",
                                 "train.eval_ladder=random,gnugo:1", "baseline=mean"])
    assert out[""].lr == 3e-4 and out[""].baseline == "mean"
    assert out["net"].blocks == 2
    assert out["train"].augment is True
    assert out["train"].eval_ladder == ("random", "gnugo:1")
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
    with pytest.raises(ValueError, match="unknown agent"):
        agent_config_class("alphago")


def _payload(net: PolicyValueNet) -> dict:
    return {"agent": "reinforce", "rules": dataclasses.asdict(Rules(board_size=5)),
            "net_config": dataclasses.asdict(net.config), "net": net.state_dict()}


def test_checkpoint_round_trip_and_corruption(tmp_path):
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    path = save_checkpoint(tmp_path / "c.pt", _payload(net))
    loaded, rules = network_from_checkpoint(load_checkpoint(path))
    assert rules.board_size == 5
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[: 200])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(broken)
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an rlgo checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_weights_from_before_the_ownership_head_still_load(tmp_path):
    net = PolicyValueNet(5, NetConfig(blocks=1, channels=8))
    payload = _payload(net)
    payload["net"] = {k: v for k, v in net.state_dict().items()
                      if not k.startswith("ownership_conv.")}
    loaded, _ = network_from_checkpoint(load_checkpoint(
        save_checkpoint(tmp_path / "old.pt", payload)))
    for k, v in payload["net"].items():
        assert torch.equal(loaded.state_dict()[k], v)
    payload["net"] = {k: v for k, v in payload["net"].items() if not k.startswith("stem.")}
    with pytest.raises(CheckpointError, match="do not fit"):  # anything else still fails
        network_from_checkpoint(load_checkpoint(save_checkpoint(tmp_path / "bad.pt", payload)))


def test_checkpoints_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"net": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
