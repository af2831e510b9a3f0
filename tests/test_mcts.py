"""MCTS distillation: the batched search (tactics with a network-free model, the sign
convention, the budget, Gumbel's sequential halving, histories never merged), the player
and the learner (protocol, playout caps, replay window, reanalyse, a tiny training run)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rlgo.agents.mcts import MCTSConfig, MCTSLearner, make
from rlgo.agents.search_player import SearchPlayer
from rlgo.bench.flops import forward_flops
from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import gtp_to_action
from rlgo.envs.engine import BLACK, WHITE
from rlgo.envs.text import parse_board
from rlgo.evaluation import EvalConfig
from rlgo.learning.files import load_file, rules_to_dict, save_file
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.learning.search import (
    UNEXPANDED,
    SearchConfig,
    Workspace,
    considered_visits,
    halving_rounds,
    run_search,
)
from rlgo.protocols import Learner, Player, Positions
from rlgo.registry import get_learner
from rlgo.training import RunConfigs, SelfPlay, TrainConfig, Trainer

TINY = NetConfig(blocks=1, channels=8, value_hidden=8)

# Black to move; White's two stones top right are in atari and C5 captures them. With 3
# moves left and komi 3.5 the capture is Black's only winning move (full-width minimax).
CAPTURE = """
O . . O O
. O O X X
. X . X X
X . X O .
X O . O O
"""
# Black to move; Black's two stones top left are in atari and B4 saves them. With 2 moves
# left and komi -3.5 it is Black's only winning move (White captures otherwise).
SAVE = """
X O O X O
X . X X O
O O . O .
O . . X .
O O . O .
"""
C5, B4 = gtp_to_action("C5", 5), gtp_to_action("B4", 5)
PUCT, GUMBEL = SearchConfig(), SearchConfig(gumbel=True)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks gain nothing from intra-op threads, and on a loaded 2-core machine
    their synchronisation costs seconds per self-play game."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def engine_at(text: str, copies: int = 1, to_play: int = BLACK, **rules) -> GoEngine:
    board = parse_board(text)
    eng = GoEngine(copies, Rules(board_size=board.shape[0], **rules))
    for i in range(copies):
        eng.set_position(i, board, to_play)
    return eng


def model(disfavour: int | None = None, value: float = 0.0):
    """A network-free model: uniform priors over the legal actions (action ``disfavour``
    gets a tenth of the others' weight), constant value. Counts its evaluations."""
    def evaluate(obs: np.ndarray, mask: np.ndarray):
        evaluate.rows += len(obs)
        w = mask.astype(np.float64)
        if disfavour is not None:
            w[:, disfavour] *= 0.1
        logp = np.where(mask, np.log(np.maximum(w, 1e-30) / w.sum(1, keepdims=True)), -1e9)
        return logp.astype(np.float32), np.full(len(obs), value, np.float32)

    evaluate.rows = 0
    return evaluate


def child(tree, g: int, node: int, action: int) -> int:
    c = int(tree.children[g, node, action])
    assert c != UNEXPANDED
    return c


# ----------------------------------------------------------------------------- tactics


@pytest.mark.parametrize("config", [PUCT, GUMBEL], ids=["puct", "gumbel"])
@pytest.mark.parametrize("text,rules,best", [
    (CAPTURE, {"max_moves": 3, "komi": 3.5}, C5),
    (SAVE, {"max_moves": 2, "komi": -3.5}, B4),
], ids=["capture", "save"])
def test_search_finds_the_only_winning_move(config, text, rules, best):
    """Terminal values alone lead the search there, even when the prior disfavours it."""
    eng = engine_at(text, copies=2, **rules)
    out = run_search(eng, np.arange(2), model(disfavour=best), config, 400)
    assert (out.action == best).all()
    assert (out.action_weights.argmax(1) == best).all()
    assert (out.q_values[:, best] > 0.5).all()


def test_sign_convention():
    """V, Q, W are for the player to move at the node (module docstring of rlgo.learning.search)."""
    eng = engine_at(SAVE, max_moves=2, komi=-3.5)
    out = run_search(eng, np.arange(1), model(), PUCT, 600)
    tree = out.tree
    # Any other Black move loses: White's capture at B4 ends the game with White ahead.
    other = int(np.flatnonzero(out.visit_counts[0] * (np.arange(26) != B4)).min())
    white = child(tree, 0, 0, other)
    assert tree.to_play[0, 0] == BLACK and tree.to_play[0, white] == WHITE
    end = child(tree, 0, white, B4)
    assert tree.terminal[0, end] and tree.to_play[0, end] == BLACK
    assert tree.value[0, end] == -1.0  # Black, to move at the end, has lost
    assert tree.W[0, white, B4] == tree.N[0, white, B4] > 0  # Q = +1 for White who chose it
    assert out.q_values[0, B4] > 0.99 and out.q_values[0, other] < 0  # for Black at the root
    # The same position with the colours swapped and White to move reads the same.
    swapped = SAVE.replace("X", "x").replace("O", "X").replace("x", "O")
    eng2 = engine_at(swapped, to_play=WHITE, max_moves=2, komi=3.5)
    out2 = run_search(eng2, np.arange(1), model(), PUCT, 600)
    np.testing.assert_array_equal(out2.visit_counts, out.visit_counts)
    np.testing.assert_allclose(out2.q_values, out.q_values)
    assert out.value[0] > 0 and out2.value[0] > 0


def test_budget_evals_and_finished_games():
    """Each game's root visits sum to its own budget; nn_evals counts exactly the rows the
    model saw (roots plus non-terminal leaves); a finished game gets no search."""
    eng = GoEngine(4, Rules(board_size=5, max_moves=6))
    eng.step(np.array([12, 12, 25, 0]))
    eng.step(np.array([-1, -1, 25, -1]))  # game 2 ends by two passes
    evaluate = model()
    budget = np.array([1, 7, 30, 30])
    out = run_search(eng, np.arange(4), evaluate, PUCT, budget, noise=True,
                     rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out.visit_counts.sum(1), [1, 7, 0, 30])
    assert out.action[2] == -1 and not out.action_weights[2].any()
    assert out.nn_evals == evaluate.rows
    terminal_leaves = int(out.tree.terminal.sum())
    assert out.nn_evals == 3 + (out.tree.num_nodes[[0, 1, 3]] - 1).sum() - terminal_leaves
    np.testing.assert_allclose(out.action_weights[[0, 1, 3]].sum(1), 1.0, rtol=1e-6)
    legal = eng.legal[[0, 1, 3]]
    assert not (out.visit_counts[[0, 1, 3]] * ~legal).any()


def test_sequential_halving_schedule():
    assert halving_rounds(4, 16) == [(4, 2), (2, 4)]  # 8 + 8 simulations
    assert halving_rounds(16, 2) == [(16, 1)]  # cut after two
    assert halving_rounds(16, 64) == [(16, 1), (8, 2), (4, 4), (2, 8)]
    assert list(considered_visits(4, 16)) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for m in (1, 2, 3, 4, 8, 16):
        for n in (1, 2, 5, 16, 50, 200):
            assert len(considered_visits(m, n)) == n
            assert sum(k * e for k, e in halving_rounds(m, n)) >= n
    # The search follows it: 4 considered, 16 simulations -> visits 6, 6, 2, 2.
    eng = GoEngine(2, Rules(board_size=9))
    for seed, noise in ((0, False), (1, True)):
        out = run_search(eng, np.arange(2), model(), SearchConfig(gumbel=True, max_considered=4),
                         16, noise=noise, rng=np.random.default_rng(seed))
        for row in out.visit_counts:
            assert sorted(row[row > 0].tolist()) == [2, 2, 6, 6]
            assert row.sum() == 16
    out = run_search(eng, np.arange(2), model(), GUMBEL, 2, noise=True,
                     rng=np.random.default_rng(2))
    assert (np.sort(out.visit_counts, 1)[:, -3:] == [0, 1, 1]).all()
    # Policy target: softmax(logits + sigma(completed Q)), a distribution on legal moves.
    np.testing.assert_allclose(out.action_weights.sum(1), 1.0, rtol=1e-6)
    assert not (out.action_weights * ~eng.legal).any()


KO = """
. X O . .
X O . O .
. X O . .
. . . . .
. . . . .
"""
TAKE, RETAKE = gtp_to_action("C4", 5), gtp_to_action("B4", 5)


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "replayed"])
def test_histories_with_the_same_stones_keep_their_own_statistics(stored):
    """Game 0 reaches the position by taking the ko (so retaking it is superko-illegal);
    game 1 starts from the same stones without that history (retaking is legal). One
    batched search must respect each history, and never merge nodes: every node has
    exactly one parent edge."""
    eng = engine_at(KO, copies=2)
    eng.step(np.array([TAKE, TAKE]))
    after = eng.boards[0].copy()
    eng.set_position(1, after, WHITE)
    np.testing.assert_array_equal(eng.boards[0], eng.boards[1])
    assert not eng.legal[0, RETAKE] and eng.legal[1, RETAKE]
    out = run_search(eng, np.arange(2), model(), PUCT, 200, store_states=stored)
    assert out.visit_counts[0, RETAKE] == 0 and out.visit_counts[1, RETAKE] > 0
    tree = out.tree
    for g in range(2):
        edges = tree.children[g][tree.children[g] != UNEXPANDED]
        assert len(edges) == tree.num_nodes[g] - 1 == len(np.unique(edges))
        # priors of expanded nodes exist only on that history's legal moves
        assert (tree.P[g, : tree.num_nodes[g]] >= 0).all()
    assert tree.P[0, 0, RETAKE] == 0 and tree.P[1, 0, RETAKE] > 0


@pytest.mark.parametrize("config", [PUCT, GUMBEL], ids=["puct", "gumbel"])
def test_stored_and_replayed_node_states_give_the_same_search(config):
    """Storing each node's position, replaying it from the root, and reusing a workspace
    (bigger than needed, dirty from another search) are the same search."""
    torch.manual_seed(0)
    net = PolicyValueNet(5, TINY)
    eng = GoEngine(20, Rules(board_size=5, max_moves=14))  # >= SERIAL_BELOW: parallel
    rng = np.random.default_rng(0)
    for _ in range(6):
        eng.step(eng.random_actions(rng))
    games = np.arange(2, 20)
    work = Workspace()
    run_search(eng, np.arange(20), net.evaluate, config, 40, workspace=work)
    outs = [run_search(eng, games, net.evaluate, config, 30, noise=True,
                       rng=np.random.default_rng(1), store_states=stored, workspace=w)
            for stored, w in ((True, None), (False, None), (True, work), (False, work))]
    for out in outs[1:]:
        for mine, first in zip(out.tree, outs[0].tree, strict=True):
            np.testing.assert_array_equal(mine, first)
        np.testing.assert_array_equal(out.action, outs[0].action)
        np.testing.assert_array_equal(out.action_weights, outs[0].action_weights)


# ----------------------------------------------------------------------------- player


def positions(eng: GoEngine) -> Positions:
    games = np.flatnonzero(~eng.done)
    return Positions(eng.observations()[games], eng.legal[games].copy(), eng, games)


def test_player_is_deterministic_and_counts_its_evaluations():
    torch.manual_seed(0)
    net = PolicyValueNet(5, TINY)
    eng = GoEngine(3, Rules(board_size=5))
    eng.step(np.array([12, 6, 0]))
    decisions = []
    for _ in range(2):
        player = SearchPlayer(net, 6, greedy=False, temperature_moves=10, seed=7)
        assert isinstance(player, Player)
        before = net.evals
        d = player.act(positions(eng))
        assert d.nn_evals == net.evals - before == 3 * 7  # 3 roots + 3 x 6 leaves
        decisions.append(d)
    np.testing.assert_array_equal(decisions[0].actions, decisions[1].actions)
    assert set(decisions[0].extras) >= {"policy", "policy_weight", "value", "disagree"}
    greedy = SearchPlayer(net, 6, seed=1).act(positions(eng))
    np.testing.assert_array_equal(greedy.actions, greedy.extras["policy"].argmax(1))


def test_temperature_samples_from_the_visit_counts():
    player = SearchPlayer(PolicyValueNet(5, TINY), 4, greedy=False, temperature=1.0, seed=3)
    draws = player._sample_visits(np.tile([0, 10, 30, 0], (20_000, 1)))
    assert set(np.unique(draws)) == {1, 2}
    assert abs((draws == 2).mean() - 0.75) < 0.02
    player.temperature = 0.25  # N^4: 1 : 81
    draws = player._sample_visits(np.tile([0, 10, 30, 0], (20_000, 1)))
    assert abs((draws == 2).mean() - 81 / 82) < 0.01


def test_playout_cap_randomization_marks_and_drops_cheap_moves():
    torch.manual_seed(0)
    cfg = MCTSConfig(simulations=6, cheap_simulations=2, full_search_prob=0.5, minibatch=16)
    learner = make(Rules(board_size=5), cfg, TINY, 0)
    batch, _ = SelfPlay(Rules(board_size=5), 4, learner.player()).play(4)
    weight = batch.extras["policy_weight"]
    assert set(np.unique(weight)) == {0.0, 1.0}
    metrics = learner.learn(batch).metrics
    assert learner.window.size == int(weight.sum())
    assert metrics["charts/full_search_fraction"] == pytest.approx(weight.mean())


def test_search_spec_in_make_player(tmp_path):
    from rlgo.evaluation.arena import play_match
    from rlgo.evaluation.players import PlayerSpecError, make_player

    rules = Rules(board_size=5)
    path = save_file(tmp_path / "net.pt", {
        "kind": "snapshot", "agent": "mcts", "rules": rules_to_dict(rules),
        "agent_config": {}, "net_config": dataclasses.asdict(TINY), "counters": {},
        "weights": PolicyValueNet(5, TINY).state_dict()})
    player = make_player(f"{path}:search=3", rules, seed=0)
    assert isinstance(player, SearchPlayer) and player.name == f"{path}:search=3"
    summary = play_match(player, make_player("random", rules), 2, rules)
    assert summary.nn_evals[player.name] == player.net.evals > 0
    with pytest.raises(PlayerSpecError, match="search must be an integer"):
        make_player(f"{path}:search=0", rules)
    with pytest.raises(PlayerSpecError, match="one of :greedy and :sample"):
        make_player(f"{path}:sample:search=3", rules)


# ----------------------------------------------------------------------------- learner


def test_learner_protocol_diagnostics_and_checkpointable_state(tmp_path):
    torch.manual_seed(0)
    learner = make(Rules(board_size=5), MCTSConfig(simulations=4, minibatch=32), TINY, 0)
    assert isinstance(learner, Learner)
    assert isinstance(learner.player(), Player)
    batch, stats = SelfPlay(Rules(board_size=5), 4, learner.player()).play(4)
    assert stats.nn_evals_act == learner.net.evals and stats.nn_evals_opponent == 0
    learned = learner.learn(batch)
    metrics = learned.metrics
    assert learned.train_samples >= len(batch)
    for key in ("losses/policy", "losses/value", "losses/ownership",
                "charts/search_disagreement",
                "charts/policy_entropy", "charts/value_error"):
        assert np.isfinite(metrics[key]), key
    assert 0 <= metrics["charts/search_disagreement"] <= 1
    assert learned.nn_evals == 0  # no reanalyse: the learner spent nothing itself
    assert all(k.startswith(("losses/", "charts/")) for k in metrics)
    # The replay window survives a checkpoint loaded with weights_only=True.
    rules = rules_to_dict(Rules(board_size=5))
    path = save_file(tmp_path / "c.pt", {"kind": "checkpoint", "agent": "mcts",
                                         "rules": rules, "agent_config": {},
                                         "net_config": {}, "weights": {},
                                         "learner": learner.state_dict()})
    other = make(Rules(board_size=5), MCTSConfig(simulations=4, minibatch=32), TINY, 0)
    other.load_state_dict(load_file(path)["learner"])
    assert other.window.size == learner.window.size == len(batch)
    for k, v in learner.window.data.items():
        np.testing.assert_array_equal(other.window.data[k], v)


def test_ownership_head_learns_the_final_areas():
    """The auxiliary loss trains the ownership head (it falls on the positions it is
    trained on) and leaves play untouched; coefficient 0 switches it off."""
    torch.manual_seed(0)
    cfg = MCTSConfig(simulations=2, minibatch=64, replay_ratio=8.0)
    learner = make(Rules(board_size=5), cfg, TINY, 0)
    batch, _ = SelfPlay(Rules(board_size=5), 4, learner.player()).play(4)
    first = learner.learn(batch).metrics["losses/ownership"]
    losses = [learner.learn(batch).metrics["losses/ownership"] for _ in range(6)]
    assert losses[-1] < first - 0.02
    off = make(Rules(board_size=5), dataclasses.replace(cfg, ownership_coef=0.0), TINY, 0)
    before = off.net.ownership_conv.weight.detach().clone()
    off.learn(batch)
    torch.testing.assert_close(off.net.ownership_conv.weight, before)


def test_reanalyse_rebuilds_positions_from_the_move_record():
    torch.manual_seed(0)
    cfg = MCTSConfig(simulations=4, reanalyse_fraction=1.0, minibatch=64, gumbel=True)
    learner: MCTSLearner = make(Rules(board_size=5, komi=2.5), cfg, TINY, 0)
    batch, _ = SelfPlay(Rules(board_size=5, komi=2.5), 4, learner.player()).play(4)
    assert batch.extras["record"].dtype == np.int16
    learner.window.add({"obs": batch.obs, "mask": batch.mask,
                        "policy": np.zeros_like(batch.extras["policy"]),
                        "outcome": batch.outcome, "record": batch.extras["record"],
                        "move": batch.move.astype(np.int32), "ownership": batch.ownership,
                        "has_ownership": np.ones(len(batch), bool)})
    rows = np.arange(learner.window.size)
    data = learner.window.data
    count, evals = learner._reanalyse(rows)
    assert count == len(batch) and evals >= len(batch)
    np.testing.assert_array_equal(data["obs"][rows], batch.obs)  # the exact positions
    np.testing.assert_array_equal(data["mask"][rows], batch.mask)
    np.testing.assert_allclose(data["policy"][rows].sum(1), 1.0, rtol=1e-5)
    learned = learner.learn(batch)
    assert learned.metrics["charts/reanalysed"] > 0
    assert learned.nn_evals > 0  # reanalyse is the learner's own spending


def test_tiny_training_run_through_the_harness(tmp_path):
    train = TrainConfig(learner="mcts", board_size=5, env_steps=120, seed=0,
                        parallel_games=4, games_per_iteration=4, checkpoint_every=60)
    agent = MCTSConfig(simulations=3, gumbel=True, full_search_prob=0.5, cheap_simulations=2,
                       minibatch=32, replay_positions=500)
    configs = RunConfigs(train, agent, TINY, get_learner("mcts"), EvalConfig(every=0))
    trainer = Trainer(configs, tmp_path / "run", progress=False)
    counters = trainer.fit()
    assert counters.env_steps >= 120 and counters.nn_evals > counters.env_steps
    ckpt = trainer.run.latest_checkpoint()
    resumed = make(Rules(board_size=5), agent, TINY, 0)
    resumed.load_state_dict(load_file(ckpt)["learner"])
    assert resumed.window.size == trainer.learner.window.size > 0


def test_bench_rows_and_table():
    from rlgo.bench.mcts import format_mcts_table, run_mcts_bench

    rows = run_mcts_bench(board_sizes=(5,), simulations=2, batch=4, seconds=0.2, rounds=1,
                          precision="bfloat16", peak_seconds=0.05)
    assert {r["impl"] for r in rows} == {"search", "network"}
    assert all(r["board_size"] == 5 and r["evals_per_s"] > 0 for r in rows)
    # FLOP/s: evaluations times one position's forward FLOPs as counted
    per_eval = forward_flops(PolicyValueNet(5, NetConfig()), 5)
    for r in rows:
        assert r["precision"] == "bfloat16" and r["peak_bfloat16"] > 0
        assert r["flops_per_s"] == pytest.approx(r["evals_per_s"] * per_eval, rel=1e-2)
    assert "x network" in format_mcts_table(rows)


def test_bench_table_gives_the_share_of_the_peak():
    from rlgo.bench.mcts import format_mcts_table

    row = {"board_size": 9, "batch": 256, "peak_float32": 400e9, "peak_bfloat16": 2_000e9}
    rows = [{**row, "impl": "search", "evals_per_s": 45_000.0, "simulations": 64,
             "flops_per_s": 450e9},
            {**row, "impl": "network", "evals_per_s": 50_000.0, "simulations": 0,
             "flops_per_s": 500e9}]
    lines = format_mcts_table(rows).splitlines()
    assert lines[0] == ("peak (2048x2048 matrix product): float32 400 GFLOP/s, "
                        "bfloat16 2,000 GFLOP/s")
    assert lines[3].split() == ["9x9", "search", "256", "64", "45,000", "0.90x", "450.0",
                                "22.5%"]
    assert lines[4].split() == ["9x9", "network", "256", "-", "50,000", "1.00x", "500.0",
                                "25.0%"]
