"""`rlgo bench train`: rows and table (no timing assertions: speed is checked by the
benchmark command on an idle machine, not here)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rlgo.bench.train import format_train_table, parse_net, run_train_bench
from rlgo.cli import app


def test_train_bench_rows_and_table():
    pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    rows = run_train_bench(["reinforce"], board_size=5, seconds=0.2)
    assert [r["impl"] for r in rows] == ["rlgo-reinforce", "sb3-maskableppo"]
    assert all(r["board_size"] == 5 and r["env_steps_per_s"] > 0 and r["nn_evals_per_s"] > 0
               for r in rows)
    table = format_train_table(rows)
    assert "x MaskablePPO" in table and "1.0x" in table  # the peer is its own unit


def test_train_bench_cli_json_without_the_peer():
    res = CliRunner().invoke(app, ["bench", "train", "--agent", "ppo", "-n", "5",
                                   "--seconds", "0.1", "--no-peer", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert set(rows[0]) == {"impl", "board_size", "net", "trunk_size", "env_steps_per_s",
                            "nn_evals_per_s"}
    assert rows[0]["net"] == "4x32"  # rlgo's default network


def test_train_bench_on_a_smaller_network_sizes_both_sides():
    pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    rows = run_train_bench(["ppo"], board_size=5, seconds=0.2, net=parse_net("1x8"))
    assert [(r["impl"], r["net"]) for r in rows] == [("rlgo-ppo", "1x8"),
                                                     ("sb3-maskableppo", "1x8")]
    # the trunks as built: one stem conv 17->8 and one block of two 8->8 convs, each
    # conv followed by BatchNorm (weight, bias, running mean and variance, batch count)
    conv, norm = 17 * 8 * 9 + 2 * 8 * 8 * 9, 3 * (4 * 8 + 1)
    assert rows[0]["trunk_size"] == rows[1]["trunk_size"] == conv + norm
    assert "| 5x5 | 1x8 | rlgo-ppo |" in format_train_table(rows)
    bad = CliRunner().invoke(app, ["bench", "train", "--net", "4by32", "--no-peer"])
    assert bad.exit_code == 2 and "<blocks>x<channels>" in bad.output
