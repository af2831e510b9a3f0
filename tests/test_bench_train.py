"""`rlgo bench train`: rows and table (no timing assertions: speed is checked by the
benchmark command on an idle machine, not here)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from typer.testing import CliRunner

from rlgo.bench.train import format_train_table, parse_net, run_train_bench
from rlgo.cli import app
from rlgo.learning.network import bfloat16_supported


def test_train_bench_rows_and_table():
    pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    rows = run_train_bench(["reinforce"], board_size=5, seconds=0.2)
    assert [r["impl"] for r in rows] == ["rlgo-reinforce", "sb3-maskableppo"]
    assert all(r["board_size"] == 5 and r["env_steps_per_s"] > 0 and r["nn_evals_per_s"] > 0
               for r in rows)
    table = format_train_table(rows)
    assert "x MaskablePPO" in table and "1.0x" in table  # the peer is its own unit
    # rlgo's iterations each end in learning; in 0.2 s MaskablePPO may not finish a rollout
    assert 0 < rows[0]["learn_share"] <= 1 and 0 <= rows[1]["learn_share"] <= 1


def test_train_table_puts_rates_and_ceilings_on_the_peer_scale():
    row = {"board_size": 7, "net": "4x32", "nn_evals_per_s": 1000.0}
    peaks = {"peak_float32": 400e9, "peak_bfloat16": 2000e9}
    rows = [{**row, "impl": "rlgo-ppo", "env_steps_per_s": 3000.0, "learn_share": 0.75,
             "env_steps_per_learn_s": 4000.0, "act_flops_per_s": 100e9,
             "learn_flops_per_s": 30e9, **peaks},
            {**row, "impl": "sb3-maskableppo", "env_steps_per_s": 2000.0,
             "learn_share": 0.5, "env_steps_per_learn_s": 4000.0}]
    lines = format_train_table(rows).splitlines()
    assert lines[0] == ("peak of this machine (2048x2048 matrix product): float32 400 GFLOP/s, "
                        "bfloat16 2,000 GFLOP/s; '% peak' is of bfloat16's")
    assert lines[4] == ("| 7x7 | 4x32 | rlgo-ppo | 3,000 | 1,000 | 1.5x | 75% | 4,000 | 2.0x "
                        "| 100.0 | 5.0% | 30.0 | 1.5% |")
    assert lines[5] == ("| 7x7 | 4x32 | sb3-maskableppo | 2,000 | 1,000 | 1.0x | 50% | 4,000 "
                        "| 2.0x | - | - | - | - |")
    without_peer = format_train_table(rows[:1]).splitlines()[4]
    assert without_peer == ("| 7x7 | 4x32 | rlgo-ppo | 3,000 | 1,000 | - | 75% | 4,000 | - "
                            "| 100.0 | 5.0% | 30.0 | 1.5% |")


def test_train_bench_cli_json_without_the_peer():
    res = CliRunner().invoke(app, ["bench", "train", "--learner", "ppo", "-n", "5",
                                   "--seconds", "0.1", "--no-peer", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert set(rows[0]) == {"impl", "board_size", "net", "trunk_size", "env_steps_per_s",
                            "nn_evals_per_s", "learn_share", "env_steps_per_learn_s",
                            "act_flops_per_s", "learn_flops_per_s", "peak_float32",
                            "peak_bfloat16"}
    assert rows[0]["act_flops_per_s"] > 0 and rows[0]["learn_flops_per_s"] > 0
    assert 0 < rows[0]["learn_share"] <= 1
    # learning is part of the time, so its ceiling is at least the measured rate
    assert rows[0]["env_steps_per_learn_s"] >= rows[0]["env_steps_per_s"]
    # rlgo's default network, in bfloat16 where this CPU has it (net.precision "auto")
    assert rows[0]["net"] == ("4x32/bfloat16" if bfloat16_supported(torch.device("cpu"))
                              else "4x32")


def test_train_bench_on_a_smaller_network_sizes_both_sides():
    pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    net = dataclasses.replace(parse_net("1x8"), precision="bfloat16")  # both in bfloat16
    rows = run_train_bench(["ppo"], board_size=5, seconds=0.2, net=net)
    assert [(r["impl"], r["net"]) for r in rows] == [("rlgo-ppo", "1x8/bfloat16"),
                                                     ("sb3-maskableppo", "1x8/bfloat16")]
    # the trunks as built: one stem conv 17->8 and one block of two 8->8 convs, each
    # conv followed by BatchNorm (weight, bias, running mean and variance, batch count)
    conv, norm = 17 * 8 * 9 + 2 * 8 * 8 * 9, 3 * (4 * 8 + 1)
    assert rows[0]["trunk_size"] == rows[1]["trunk_size"] == conv + norm
    assert "| 5x5 | 1x8/bfloat16 | rlgo-ppo |" in format_train_table(rows)
    bad = CliRunner().invoke(app, ["bench", "train", "--net", "4by32", "--no-peer"])
    assert bad.exit_code == 2 and "<blocks>x<channels>" in bad.output


def test_the_peers_gradient_passes_are_timed_through_its_train():
    from rlgo.bench.train import _timed_train

    class Model:
        calls = 0

        def train(self) -> None:
            Model.calls += 1

    model = Model()
    total = _timed_train(model)
    assert total == [0.0]
    model.train()
    model.train()
    assert Model.calls == 2 and total[0] > 0


def test_train_bench_in_bfloat16_names_it_and_refuses_other_precisions():
    res = CliRunner().invoke(app, ["bench", "train", "--agent", "reinforce", "-n", "5",
                                   "--net", "1x8", "--precision", "bfloat16",
                                   "--seconds", "0.1", "--no-peer", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["net"] == "1x8/bfloat16"
    bad = CliRunner().invoke(app, ["bench", "train", "--precision", "half", "--no-peer"])
    assert bad.exit_code == 2 and "precision must be one of" in bad.output


def test_the_peers_trunk_runs_in_the_rows_precision():
    pytest.importorskip("stable_baselines3")
    import gymnasium

    from rlgo.bench.train import _trunk_class

    space = gymnasium.spaces.Box(0, 1, (5, 5, 17))
    torch.manual_seed(0)
    full = _trunk_class()(space, 5, dataclasses.replace(parse_net("1x8"),
                                                        precision="float32"))
    half = _trunk_class()(space, 5, dataclasses.replace(parse_net("1x8"),
                                                        precision="bfloat16"))
    half.load_state_dict(full.state_dict())
    obs = torch.randint(0, 2, (4, 5, 5, 17)).float()
    a, b = full(obs), half(obs)
    assert b.dtype == torch.float32 and 0 < (a - b).abs().max() < 0.1
