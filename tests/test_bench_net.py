"""rlgo bench net: one row per way of running the network, FLOPs as torch counts them."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from rlgo.bench.flops import forward_flops
from rlgo.bench.net import format_net_table, run_net_bench
from rlgo.cli import app
from rlgo.learning.network import NetConfig, PolicyValueNet, bfloat16_supported


def test_rows_give_each_path_and_flops_per_position_as_counted():
    rows = run_net_bench(board_sizes=[5], batch=8, seconds=0.2, rounds=1, peak_seconds=0.05)
    paths = {(r["kind"], r["path"]) for r in rows}
    assert {("act", "float32"), ("learn", "float32")} <= paths
    if bfloat16_supported(torch.device("cpu")):
        assert {("act", "bfloat16 autocast"), ("act", "bfloat16 acting copy"),
                ("learn", "bfloat16 autocast")} <= paths
    act = next(r for r in rows if r["kind"] == "act" and r["path"] == "float32")
    per_position = forward_flops(PolicyValueNet(5, NetConfig()), 5)
    assert abs(act["flops_per_s"] / act["positions_per_s"] - per_position) < 1e-6 * per_position
    learn = next(r for r in rows if r["kind"] == "learn" and r["path"] == "float32")
    # a learning step is a forward pass and a backward pass of about twice its work
    ratio = learn["flops_per_s"] / learn["positions_per_s"] / per_position
    assert 2.5 < ratio < 3.5
    table = format_net_table(rows)
    assert "% bf16 peak" in table and "1.00x" in table


def test_the_command_prints_json_rows():
    res = CliRunner().invoke(app, ["bench", "net", "-n", "5", "--batch", "4", "--seconds",
                                   "0.2", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows and all(r["board_size"] == 5 and r["batch"] == 4 for r in rows)
