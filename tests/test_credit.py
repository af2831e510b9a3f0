"""Credit assignment analysis: the measures on hand-computed examples, the judge on
positions with a known best move and a known end, cache keys, each learner's credit on
hand-built games (signs per colour), and a tiny analysis on 5x5 end to end."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from rlgo.analysis import measures as M
from rlgo.analysis.credit import CreditConfig, load_credit_config, run_analysis
from rlgo.analysis.judge import Judge, JudgeCache, oracle_advantage, replay, state_key
from rlgo.envs import GoEngine, Rules
from rlgo.learning.network import NetConfig
from rlgo.protocols import CreditAssigner, Experience
from rlgo.registry import builtin_names, get_learner
from rlgo.training.config import apply_overrides
from rlgo.training.loop import build_trainer

RULES = Rules(board_size=5, komi=0.5)


def score_judge_evaluate(obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A judge that only counts stones: value = tanh(0.3 (own - opponent's)) for the
    player to move, uniform prior."""
    own = obs[:, 0].reshape(len(obs), -1).sum(1).astype(float)
    opp = obs[:, 1].reshape(len(obs), -1).sum(1).astype(float)
    logp = np.where(mask, -np.log(mask.sum(1, keepdims=True)), -1e9).astype(np.float32)
    return logp, np.tanh(0.3 * (own - opp)).astype(np.float32)


# ----------------------------------------------------------------------- measures

def test_phase_and_stakes_bins():
    assert list(M.phase(np.array([0, 3, 4, 9]), np.array([10, 10, 10, 10]))) == [
        "early", "early", "middle", "late"]
    assert list(M.stakes(np.array([0.0, -0.04, 0.05, -0.2, 0.25, -0.9]))) == [
        "quiet", "quiet", "moderate", "moderate", "decisive", "decisive"]


def test_sign_agreement_and_kappa_by_hand():
    credit = np.array([1.0, 1.0, -1.0, -1.0, 0.0, np.nan])
    a_star = np.array([0.5, -0.5, -0.5, -0.5, 1.0, 1.0])
    # rows 0-3 count: agreements at 0, 2, 3
    assert M.sign_agreement(credit, a_star) == pytest.approx(0.75)
    # p_credit+ = 1/2, p_a+ = 1/4: chance = 1/8 + 3/8 = 1/2; kappa = (3/4 - 1/2) / (1/2)
    assert M.sign_kappa(credit, a_star) == pytest.approx(0.5)
    # every credit positive: chance agreement equals the observed one, kappa 0
    assert M.sign_kappa(np.ones(4), np.array([1.0, 1.0, 1.0, -1.0])) == pytest.approx(0.0)
    assert math.isnan(M.sign_agreement(np.zeros(3), np.ones(3)))


def test_rank_correlation_over_legal_moves():
    vector = np.array([[1.0, 2.0, 3.0, np.nan], [3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    a_star = np.array([[0.1, 0.2, 0.3, 9.0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]])
    rho = M.rank_correlation(vector, a_star)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0)
    assert math.isnan(rho[2])  # a constant credit vector ranks nothing


def test_kl_and_entropy_on_known_distributions():
    target = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [np.nan] * 3])
    policy = np.array([[0.25, 0.75, 0.0], [0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
    kl = M.kl_bits(target, policy)
    assert kl[0] == pytest.approx(0.5 * 1 + 0.5 * math.log2(0.5 / 0.75))
    assert kl[1] == pytest.approx(1.0)  # log2(1 / 0.5)
    assert math.isnan(kl[2])
    assert list(M.binary_entropy_bits(np.array([0.0, 0.5, 1.0]))) == [0.0, 1.0, 0.0]
    assert M.binary_entropy_bits(0.25) == pytest.approx(0.811278, abs=1e-6)


def test_outcome_bits_are_one_games_entropy_shared_by_its_moves():
    game = np.array([7, 7, 9, 9, 9, 9])
    # one Black win, one White win: Jeffreys p = (1 + 1/2) / 3 = 1/2, H = 1 bit per game
    bits = M.outcome_bits_per_sample(game, {7: 1.0, 9: 0.0})
    assert bits == pytest.approx((2 * (1 / 2) + 4 * (1 / 4)) / 6)


def test_noise_scale_by_hand():
    same = np.array([[1.0, 0.0]] * 4)
    assert M.noise_scale(same) == (0.0, pytest.approx(1.0))
    # mean (1, 0); trace = (1 + 1 + 0) / 2 = 1; |G|^2 = 1 - 1/3; B = 1.5
    scale, _ = M.noise_scale(np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    assert scale == pytest.approx(1.5)
    # noise that swamps the mean: no positive signal estimate
    assert M.noise_scale(np.array([[1.0, 1.0], [1.0, -1.0]]))[0] == math.inf


def test_oracle_advantage_and_policy_quality():
    q = np.array([[0.5, -0.5, np.nan]])
    policy = np.array([[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(oracle_advantage(q, policy)[0, :2], [0.5, -0.5])
    assert np.isnan(oracle_advantage(q, policy)[0, 2])
    assert M.policy_quality(policy, q)[0] == pytest.approx(-0.5)


# ----------------------------------------------------------------------- the judge

CAPTURE = """
. . . . .
. X X X .
X O O O .
. X X X .
. . . . .
"""


def _board(text: str) -> np.ndarray:
    rows = [r.split() for r in text.strip().splitlines()]
    return np.array([[{".": 0, "X": 1, "O": 2}[c] for c in r] for r in rows])


@pytest.mark.parametrize("simulations", [1, 8])
def test_the_judge_finds_the_capture_and_values_legal_moves_only(simulations):
    engine = GoEngine(1, RULES)
    engine.set_position(0, _board(CAPTURE), to_play=1)
    judge = Judge(RULES, score_judge_evaluate, simulations, "score")
    q = judge.action_values(engine, np.array([0]))[0]
    assert int(np.nanargmax(q)) == 2 * 5 + 4  # the capture at the right edge
    assert np.isnan(q[~engine.legal[0]]).all() and np.isfinite(q[engine.legal[0]]).all()


def test_a_move_that_ends_the_game_takes_its_result_for_the_mover():
    # Black at the centre, White passes: Black's pass ends the game, Black owns the
    # whole board (25 - 0.5 komi): a win, +1 for Black.
    engine = replay([np.array([12, 25])], RULES)
    q = Judge(RULES, score_judge_evaluate, 4, "score").action_values(engine, np.array([0]))
    assert q[0, 25] == 1.0
    # Black 12 and 6, White 0, then Black passes: White's pass ends the game at 2 points
    # to 1 + 0.5 komi (the empty region touches both colours), lost: -1 for White.
    record = np.array([12, 25, 6, 0, 25])
    white = replay([record], RULES)
    q = Judge(RULES, score_judge_evaluate, 4, "score").action_values(white, np.array([0]))
    ended = replay([np.append(record, 25)], RULES)
    assert ended.done[0] and ended.scores()[0] == 0.5 and q[0, 25] == -1.0


def test_cache_keys_tell_histories_apart_and_the_cache_is_reused(tmp_path):
    # The same stones reached in two orders: different history planes and sets.
    a = replay([np.array([0, 24, 1, 23]), np.array([1, 23, 0, 24]),
                np.array([0, 24, 1, 23])], RULES)
    keys = [state_key(a, g) for g in range(3)]
    assert (a.boards[0] == a.boards[1]).all()
    assert keys[0] != keys[1] and keys[0] == keys[2]
    # the superko set alone (everything else equal) changes the key
    b = a.clone()
    table = b.state.htab[0]
    table[np.flatnonzero(table == 0)[0]] = np.uint64(12345)
    assert state_key(b, 0) != keys[0]

    cache = JudgeCache(tmp_path / "cache.sqlite")
    judge = Judge(RULES, score_judge_evaluate, 2, "score", cache)
    first = judge.action_values(a, np.arange(3))
    spent = judge.nn_evals
    assert spent > 0 and len(cache) == 2  # games 0 and 2 are one state
    again = Judge(RULES, score_judge_evaluate, 2, "score", cache).action_values(a, np.arange(3))
    np.testing.assert_array_equal(first, again)
    other = Judge(RULES, score_judge_evaluate, 3, "score", cache)  # another judge: no hit
    other.action_values(a, np.arange(1))
    assert other.nn_evals > 0
    cache.close()


# ----------------------------------------------------------------------- learners' credit

def _fast(agent: str) -> list[str]:
    return list(get_learner(agent).fast_settings)


def _learner(agent: str, *overrides: str):
    entry = get_learner(agent)
    config = apply_overrides({"": entry.default_config()}, [*_fast(agent),
                                                            *overrides])[""]
    torch.manual_seed(0)
    return entry.make(RULES, config, NetConfig(blocks=1, channels=8), 0, "cpu")


def _two_games(extras: dict[str, np.ndarray] | None = None) -> Experience:
    """Seven moves of two games, results given by hand: game 0 (rows 0-2: Black, White,
    Black) won by Black, game 1 (rows 3-6: Black, White, Black, White) won by White."""
    records, winner = [np.array([12, 6, 25]), np.array([0, 12, 1, 13])], {0: 1, 1: 2}
    rows = []
    for g, rec in enumerate(records):
        eng = GoEngine(1, RULES)
        for m, a in enumerate(rec):
            rows.append((eng.observations()[0].copy(), eng.legal[0].copy(),
                         int(eng.to_play[0]), int(a), g, m))
            eng.step(np.array([a]))
    obs, mask, player, action, game, move = (np.array(c) for c in zip(*rows, strict=True))
    outcome = np.where(player == np.vectorize(winner.get)(game), 1.0, -1.0)
    last = np.array([not ((game[i + 1:] == game[i]) & (player[i + 1:] == player[i])).any()
                     for i in range(len(game))])
    return Experience(obs=obs.astype(np.uint8), mask=mask, player=player.astype(np.int8),
                      action=action.astype(np.int64),
                      reward=np.where(last, outcome, 0.0).astype(np.float32),
                      outcome=outcome.astype(np.float32), last=last,
                      game=game.astype(np.int64), move=move.astype(np.int32),
                      extras=extras or {})


@pytest.mark.parametrize("agent", ["mcts", "ppo", "reinforce", "dqn"])
def test_the_learners_of_the_credit_study_show_their_credit(agent):
    """studies/credit_7x7 measures these four; for any other learner the protocol's
    CreditAssigner is optional."""
    learner = _learner(agent)
    assert isinstance(learner, CreditAssigner)


def test_reinforce_credit_is_the_outcome_of_each_colour():
    batch = _two_games()
    credit = _learner("reinforce", "baseline=none").credit(batch)
    np.testing.assert_array_equal(credit.played, batch.outcome)
    assert (credit.played[(batch.game == 0) & (batch.player == 1)] > 0).all()
    assert (credit.played[(batch.game == 1) & (batch.player == 1)] < 0).all()
    np.testing.assert_allclose(credit.policy.sum(1), 1.0, atol=1e-5)
    assert (credit.policy[~batch.mask] == 0).all()
    with_value = _learner("reinforce").credit(batch)
    learner = _learner("reinforce")
    learner.net.eval()
    with torch.no_grad():
        _, v = learner.net(torch.from_numpy(batch.obs))
    np.testing.assert_allclose(with_value.played, batch.outcome - v.numpy(), atol=1e-5)


def test_ppo_credit_with_lambda_one_is_the_outcome_minus_the_behaviour_value():
    n = 7
    batch = _two_games({"value": np.full(n, 0.25, np.float32),
                        "logp": np.zeros(n, np.float32)})
    credit = _learner("ppo", "gae_lambda=1.0").credit(batch)
    np.testing.assert_allclose(credit.played, batch.outcome - 0.25, atol=1e-6)


def test_mcts_credit_is_the_improvement_vector():
    n, a = 7, RULES.num_actions
    target = np.zeros((n, a), np.float32)
    target[np.arange(n), [12, 6, 25, 0, 12, 1, 13]] = 1.0
    weight = np.ones(n, np.float32)
    weight[3] = 0.0  # a cheap search: no target, no credit
    batch = _two_games({"policy": target, "policy_weight": weight})
    credit = _learner("mcts").credit(batch)
    full = weight > 0
    np.testing.assert_allclose(np.nansum(credit.vector[full], axis=1), 0.0, atol=1e-5)
    assert (credit.played[full] > 0).all()  # every target sits on the move played
    assert np.isnan(credit.played[3]) and np.isnan(credit.vector[3]).all()
    assert np.isnan(credit.vector[~batch.mask]).all()


def test_replay_learner_credit_is_q_minus_its_policy_value():
    batch = _two_games()
    credit = _learner("dqn").credit(batch)
    expected = np.nansum(credit.policy * np.nan_to_num(credit.vector), axis=1)
    np.testing.assert_allclose(expected, 0.0, atol=1e-5)
    np.testing.assert_allclose(credit.played,
                               credit.vector[np.arange(len(batch)), batch.action])


@pytest.mark.parametrize("agent", ["reinforce", "dqn"])
def test_the_policy_gradient_of_the_policy_itself_vanishes(agent):
    """sum_a pi(a) grad log pi(a) = grad sum_a pi(a) = 0; a one-hot weight does not."""
    batch = _two_games()
    learner = _learner(agent)
    credit = learner.credit(batch)
    zero = learner.policy_gradient(batch.obs, batch.mask, credit.policy)
    onehot = np.zeros(batch.mask.shape, np.float32)
    onehot[np.arange(len(batch)), batch.action] = 1.0
    some = learner.policy_gradient(batch.obs, batch.mask, onehot)
    assert np.linalg.norm(zero) < 1e-4 * np.linalg.norm(some)


# ----------------------------------------------------------------------- end to end

TINY = ["net.blocks=1", "net.channels=8", "net.value_hidden=8", "train.parallel_games=8",
        "train.games_per_iteration=8", "eval.every=0", "train.checkpoint_every=150",
        "train.komi=0.5"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("credit_runs")
    torch.set_num_threads(1)
    for agent in [*builtin_names(), "judge"]:
        learner = "mcts" if agent == "judge" else agent
        sets = [*TINY, *_fast(learner)]
        build_trainer(learner, 5, 700, 1, root / agent, sets, progress=False).fit()
    return root


def test_a_tiny_analysis_runs_resumes_and_refuses_its_own_judge(tiny_runs, tmp_path):
    judge = sorted((tiny_runs / "judge" / "snapshots").glob("*.pt"))[-1]
    runs = tuple(str(tiny_runs / a) for a in builtin_names())
    config = CreditConfig(runs=runs, judge=str(judge), judge_simulations=2, points=2,
                          games=2, gnugo_positions=3, deep_positions=4, deep_simulations=4,
                          out=str(tmp_path / "out"))
    written = run_analysis(config, echo=lambda _: None)
    summary = pd.read_csv(written["summary"])
    assert sorted(summary.learner.unique()) == sorted(builtin_names())
    assert len(summary) == 2 * len(builtin_names())  # two snapshots per run
    rows = pd.read_csv(written["rows"])
    assert rows.a_star.notna().all() and rows.q_star.between(-1, 1).all()
    learners = pd.read_csv(written["learners"])
    assert sorted(learners.learner) == sorted(builtin_names()) and (learners.runs == 1).all()
    mcts = summary[summary.learner == "mcts"]
    assert mcts.bits_kind.str.startswith("KL").all() and (mcts.bits_per_sample > 0).all()
    assert summary.bits_per_flop.gt(0).all() and summary.flops.gt(0).all()
    assert rows[rows.learner.isin(["mcts", "dqn"])].spearman.notna().any()
    assert rows[rows.learner.isin(["reinforce", "ppo"])].spearman.isna().all()
    check = json.loads(written["judge_check"].read_text())
    assert check["positions"] == 3 and 0 <= check["same_best_move"] <= 1
    depth = json.loads(written["judge_depth"].read_text())
    assert depth["positions"] == 4 and depth["nn_evals"] > 0
    assert -1 <= depth["spearman_mean"] <= 1 and depth["abs_change_mean"] >= 0
    for name in ("credit_headline", "credit_details"):
        assert (tmp_path / "out" / "figures" / f"{name}.png").stat().st_size > 10_000

    # a rerun redoes nothing: cells kept, no judge evaluation
    cells = sorted((tmp_path / "out" / "cells").glob("*.json"))
    stamps = [os.stat(c).st_mtime_ns for c in cells]
    cache = JudgeCache(tmp_path / "out" / "judge_cache.sqlite")
    before = len(cache)
    cache.close()
    run_analysis(config, echo=lambda _: None)
    assert [os.stat(c).st_mtime_ns for c in cells] == stamps
    cache = JudgeCache(tmp_path / "out" / "judge_cache.sqlite")
    assert len(cache) == before
    cache.close()

    with pytest.raises(ValueError, match="is one of the snapshots analysed"):
        run_analysis(CreditConfig(runs=(str(tiny_runs / "judge"),), judge=str(judge),
                                  points=1, out=str(tmp_path / "x")))


def test_analysis_files_are_checked(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('[credit]\nruns = ["r"]\njudge = "j.pt"\ngames = 0\n')
    with pytest.raises(ValueError, match="games"):
        load_credit_config(path)
    path.write_text('[credit]\nruns = ["r"]\njudge = "j.pt"\nsims = 3\n')
    with pytest.raises(ValueError, match="sims"):
        load_credit_config(path)
    path.write_text('[credit]\nruns = ["nowhere/*"]\njudge = "j.pt"\n')
    with pytest.raises(ValueError, match="matches no run directory"):
        run_analysis(load_credit_config(path, out=str(tmp_path / "o")))


def test_quality_gain_per_sample_and_per_flop_by_hand():
    from rlgo.analysis.credit import add_progress, learner_table

    summary = pd.DataFrame({
        "run": ["a", "a", "a", "b"], "learner": ["x", "x", "x", "y"],
        "env_steps": [2000, 1000, 4000, 1000], "flops": [2e15, 1e15, 6e15, 1e15],
        "policy_quality": [-0.3, -0.4, -0.2, -0.5], "noise_scale_games": [1.0, np.inf, 3.0, 2.0],
    })
    for col in ("sign_agreement", "sign_kappa", "spearman", "cos_oracle_played",
                "cos_oracle_full", "noise_scale_games_oracle", "bits_per_sample",
                "samples_per_flop", "bits_per_flop", "search_disagreement"):
        summary[col] = 0.0
    out = add_progress(summary)
    a = out[out.run == "a"]
    assert list(a.env_steps) == [1000, 2000, 4000]
    np.testing.assert_allclose(a.quality_gain_per_kstep, [np.nan, 0.1, 0.05])
    np.testing.assert_allclose(a.quality_gain_per_pflop, [np.nan, 0.1, 0.025])
    table = learner_table(out).set_index("learner")
    assert table.loc["x", "runs"] == 1 and table.loc["x", "snapshots"] == 3
    assert table.loc["x", "noise_scale_games"] == pytest.approx(2.0)  # inf left out


def test_the_command_needs_runs_and_a_judge():
    from typer.testing import CliRunner

    from rlgo.cli import app

    result = CliRunner().invoke(app, ["analyze", "credit", "--run", "runs/x"])
    assert result.exit_code == 2 and "--run and --judge" in result.output
