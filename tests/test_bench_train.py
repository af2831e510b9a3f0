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
    assert set(rows[0]) == {"impl", "board_size", "net", "env_steps_per_s", "nn_evals_per_s"}
    assert rows[0]["net"] == "4x32"  # rlgo's default network


def test_train_bench_on_a_smaller_network_sizes_both_sides():
    pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    rows = run_train_bench(["ppo"], board_size=5, seconds=0.2, net=parse_net("1x8"))
    assert [(r["impl"], r["net"]) for r in rows] == [("rlgo-ppo", "1x8"),
                                                     ("sb3-maskableppo", "1x8")]
    assert "| 5x5 | 1x8 | rlgo-ppo |" in format_train_table(rows)
    bad = CliRunner().invoke(app, ["bench", "train", "--net", "4by32", "--no-peer"])
    assert bad.exit_code == 2 and "<blocks>x<channels>" in bad.output
