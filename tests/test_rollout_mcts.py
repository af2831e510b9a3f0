"""Rollout MCTS (UCT with random playouts): tactics from ASCII boards, the tree's
bookkeeping and sign convention, determinism, and strength against random play."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from rlgo.agents.rollout_mcts import (
    UNEXPANDED,
    RolloutMCTSPlayer,
    _diagonals,
    _own_eye,
    most_visited,
    rollout_search,
)
from rlgo.envs import GoEngine, Rules
from rlgo.envs.coords import gtp_to_action
from rlgo.envs.engine import BLACK, WHITE
from rlgo.envs.text import parse_board
from rlgo.protocols import Decision, Player, Positions

# White's two stones in the centre are in atari; C4 captures them.
CAPTURE = """
. . . . .
. . . . .
. X O X .
. X O X .
. . X . .
"""
# The same shape with the colours swapped: Black's two stones are in atari; C4 saves them.
SAVE = """
. . . . .
. . . . .
. O X O .
. O X O .
. . O . .
"""
C4 = gtp_to_action("C4", 5)


def engine_at(text: str, to_play: int = BLACK, copies: int = 1, **rules) -> GoEngine:
    board = parse_board(text)
    eng = GoEngine(copies, Rules(board_size=board.shape[0], **rules))
    for i in range(copies):
        eng.set_position(i, board, to_play)
    return eng


def positions(eng: GoEngine, games: np.ndarray) -> Positions:
    return Positions(obs=eng.observations()[games], mask=eng.legal[games], engine=eng,
                     games=games)


def search(eng: GoEngine, playouts: int, seeds) -> object:
    seeds = np.asarray(seeds, np.uint64)
    return rollout_search(eng, np.arange(len(seeds)), playouts, seeds)


# ----------------------------------------------------------------------------- tactics


def test_finds_the_winning_capture():
    eng = engine_at(CAPTURE, copies=3)  # default 5x5 komi: Black must own the whole board
    tree = search(eng, 1000, [0, 1, 2])
    assert (most_visited(tree) == C4).all()
    assert (tree.Q[:, 0, C4] > 0.5).all()


def test_saves_a_group_in_atari():
    eng = engine_at(SAVE, copies=3, komi=0.5)
    tree = search(eng, 3000, [0, 1, 2])
    assert (most_visited(tree) == C4).all()


def test_passes_when_only_pass_is_legal():
    eng = engine_at(
        """
        O O O O O
        O . O . O
        O O O O O
        O . O . O
        O O O O O
        """
    )
    assert eng.legal[0].sum() == 1  # every point is suicide for Black
    player = RolloutMCTSPlayer(20, eng.rules)
    decision = player.act(positions(eng, np.array([0])))
    assert decision.actions.tolist() == [eng.rules.pass_action]
    assert decision.nn_evals == 0


def test_a_finished_game_gets_no_move():
    eng = GoEngine(2, Rules(board_size=5))
    eng.step(np.array([25, 12]))
    eng.step(np.array([25, 13]))  # game 0: two passes
    tree = search(eng, 10, [0, 1])
    assert most_visited(tree).tolist()[0] == -1
    assert tree.root_visits[0].sum() == 0 and tree.root_visits[1].sum() == 10


def test_rollouts_know_eyes_from_false_eyes():
    """The HACK of the rollout policy: which points count as a player's own eyes."""
    board = parse_board(
        """
        . X . X O
        X X X O .
        . X . X O
        X X X X .
        . X . X .
        """
    ).reshape(-1).astype(np.int32)
    nbr, diag = GoEngine(1, Rules(board_size=5)).geo.nbr, _diagonals(5)

    def eye(vertex: str, colour: int = BLACK) -> bool:
        return bool(_own_eye(board, nbr, diag, gtp_to_action(vertex, 5), colour))

    assert eye("A5") and eye("A3") and eye("C1")  # corner, edges: no white diagonal
    assert eye("C3")  # inside: one white diagonal (D4) is allowed
    assert not eye("C5")  # on the edge a single white diagonal (D4) makes it false
    assert not eye("E4") and not eye("E4", WHITE)  # White's, but false (D5, D3)
    assert not eye("E2") and not eye("A5", WHITE)
    board[gtp_to_action("D2", 5)] = WHITE
    assert not eye("C3")  # two white diagonals inside


# ----------------------------------------------------------------------------- bookkeeping


@pytest.mark.parametrize("playouts", [1, 7, 60])
def test_visit_counts_sum_to_the_budget(playouts):
    eng = GoEngine(3, Rules(board_size=7))
    eng.step(np.array([24, 0, 48]))
    tree = search(eng, playouts, [5, 6, 7])
    assert tree.root_visits.sum(axis=1).tolist() == [playouts] * 3
    assert ((tree.root_visits > 0) <= eng.legal).all()  # only legal actions are visited
    # One new node per playout: with these seeds no playout ends the game inside the tree
    # (a revisited terminal node would add none).
    assert (tree.num_nodes == playouts + 1).all()
    for i in range(3):  # an edge's count is its child's own visit plus its child's edges'
        used = tree.num_nodes[i]
        parent_rows, actions = np.nonzero(tree.children[i, :used] != UNEXPANDED)
        child = tree.children[i, parent_rows, actions]
        below = tree.N[i, child].sum(axis=1)
        assert (tree.N[i, parent_rows, actions] == below + 1).all()


# ----------------------------------------------------------------------------- signs


def test_q_is_for_the_player_who_moves():
    """The colour-swapped position (other side to move, komi negated) is the same game:
    the trees are identical, so Q belongs to the mover, whichever colour it is."""
    black = engine_at(CAPTURE, BLACK, komi=4.5)
    white = engine_at(SAVE, WHITE, komi=-4.5)
    tb, tw = search(black, 400, [3]), search(white, 400, [3])
    assert np.array_equal(tb.N, tw.N) and np.array_equal(tb.W, tw.W)
    assert tb.to_play[0, 0] == BLACK and tw.to_play[0, 0] == WHITE
    assert tw.Q[0, 0, C4] > 0.5  # capturing is good for White when White captures


def test_q_alternates_sign_down_the_tree():
    eng = engine_at(CAPTURE, komi=4.5)
    tree = search(eng, 400, [4])
    child = tree.children[0, 0, C4]
    assert tree.to_play[0, child] == WHITE
    # Every playout through (root, C4) but the one that created the child went on through
    # one of the child's edges and added the opposite value there.
    assert tree.N[0, child].sum() == tree.N[0, 0, C4] - 1
    assert abs(tree.W[0, child].sum() + tree.W[0, 0, C4]) <= 1.0
    assert tree.W[0, child].sum() / tree.N[0, child].sum() < -0.5  # White lost


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_tree_whatever_the_batch_and_threads():
    eng = GoEngine(3, Rules(board_size=7))
    eng.step(np.array([24, 10, 30]))
    alone = rollout_search(eng, np.array([1]), 80, np.array([9], np.uint64))
    batched = rollout_search(eng, np.array([2, 1, 0]), 80, np.array([1, 9, 2], np.uint64))
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        again = rollout_search(eng, np.array([2, 1, 0]), 80, np.array([1, 9, 2], np.uint64))
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(batched, again, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(alone.N[0], batched.N[1]) and np.array_equal(alone.W[0], batched.W[1])
    other = rollout_search(eng, np.array([1]), 80, np.array([10], np.uint64))
    assert not np.array_equal(alone.N, other.N)


def test_player_is_deterministic_for_a_seed():
    rules = Rules(board_size=5)
    eng = GoEngine(4, rules)
    games = np.arange(4)

    def moves(seed: int) -> list[list[int]]:
        player = RolloutMCTSPlayer(30, rules, seed=seed)
        return [player.act(positions(eng, games)).actions.tolist() for _ in range(3)]

    assert moves(0) == moves(0)
    assert moves(0) != moves(1)


def test_player_contract():
    rules = Rules(board_size=5)
    player = RolloutMCTSPlayer(16, rules)
    assert isinstance(player, Player) and player.name == "rollout:16"
    with pytest.raises(ValueError, match="playouts"):
        RolloutMCTSPlayer(0, rules)
    eng = GoEngine(1, Rules(board_size=7))
    with pytest.raises(ValueError, match="built for"):
        player.act(positions(eng, np.array([0])))
    with pytest.raises(ValueError, match="game indices"):
        rollout_search(eng, np.array([1]), 4, np.array([0], np.uint64))


# ----------------------------------------------------------------------------- strength


def test_beats_random_on_5x5():
    """20 games with colours alternating exactly; the engine refuses any illegal move."""
    rules = Rules(board_size=5)  # komi 24.5: Black wins only by owning the whole board
    games = 20
    eng = GoEngine(games, rules)
    mcts_is_black = np.arange(games) % 2 == 0
    mcts = RolloutMCTSPlayer(50, rules, seed=0)
    rng = np.random.default_rng(0)
    while not eng.done.all():
        actions = eng.random_actions(rng)
        mine = np.flatnonzero(~eng.done & ((eng.to_play == BLACK) == mcts_is_black))
        if len(mine):
            decision = mcts.act(positions(eng, mine))
            assert isinstance(decision, Decision)
            actions[mine] = decision.actions
        eng.step(actions)
    score = eng.scores()  # Black minus White, komi included
    wins = np.where(mcts_is_black, score > 0, score < 0)
    assert wins.sum() >= 15, f"won {wins.sum()} of {games}"
