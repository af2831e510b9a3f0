"""Rules of the compiled engine, from ASCII boards, GTP move lists and a reference
implementation in plain Python."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rlgo.envs import GoEngine, IllegalMoveError, Rules, default_komi
from rlgo.envs.coords import gtp_to_action
from rlgo.envs.engine import BLACK, WHITE
from rlgo.envs.text import parse_board


def engine_at(text: str, to_play: int = BLACK, komi: float = 0.0, **kw) -> GoEngine:
    board = parse_board(text)
    eng = GoEngine(1, Rules(board_size=board.shape[0], komi=komi, **kw))
    eng.set_position(0, board, to_play)
    return eng


def play(eng: GoEngine, *vertices: str) -> None:
    for v in vertices:
        eng.step(np.array([gtp_to_action(v, eng.rules.board_size)]))


def legal(eng: GoEngine, vertex: str) -> bool:
    return bool(eng.legal[0, gtp_to_action(vertex, eng.rules.board_size)])


# ----------------------------------------------------------------------------- captures


def test_single_stone_capture_frees_the_point():
    eng = engine_at(
        """
        .....
        ..X..
        .XO..
        ..X..
        .....
        """
    )
    play(eng, "D3")
    assert eng.boards[0, 2, 2] == 0  # C3 captured
    assert eng.boards[0, 2, 3] == BLACK
    assert eng.to_play[0] == WHITE
    assert not legal(eng, "C3")  # surrounded by black on four sides: suicide for white
    assert legal(eng, "A3")


def test_capturing_a_chain_gives_the_capturer_its_liberties_back():
    with pytest.raises(ValueError, match="without liberties"):
        engine_at("OOX..\nXXX..\n.....\n.....\n.....")
    eng = engine_at(
        """
        OO.X.
        XXX..
        .....
        .....
        .....
        """
    )
    play(eng, "C5")  # fills the last liberty of A5-B5 and captures both
    assert eng.boards[0, 0, :3].tolist() == [0, 0, BLACK]
    # White A5 now has the liberty B5: legal, captures nothing.
    assert legal(eng, "A5") and legal(eng, "B5")
    play(eng, "A5", "E1")
    # White B5 would fill the last liberty of its own A5-B5 chain: suicide.
    assert not legal(eng, "B5")
    # Black B5 captures A5 (the chain bookkeeping after a capture is exact).
    play(eng, "pass", "B5")
    assert eng.boards[0, 0, :2].tolist() == [0, BLACK]


def test_multi_stone_suicide_is_illegal_but_capturing_is_not():
    eng = engine_at(
        """
        .O...
        OXO..
        X.O..
        OO...
        .....
        """
    )
    # Black B3 would join B4 and A3 into a 3-stone chain with no liberty and capture
    # nothing (every white chain next to it keeps a liberty): multi-stone suicide.
    assert not legal(eng, "B3")
    eng = engine_at(
        """
        .XO..
        XO.O.
        .XO..
        .....
        .....
        """
    )
    # Black C4 has no empty neighbour, but it takes the last liberty of the white stone
    # B4, which is captured: legal, and the capture gives C4 its liberty.
    assert legal(eng, "C4")
    play(eng, "C4")
    assert eng.boards[0, 1, 1] == 0


# ----------------------------------------------------------------------------- ko


def test_ko_cycle():
    eng = engine_at(
        """
        .XO..
        X.XO.
        .XO..
        .....
        .....
        """,
        to_play=WHITE,
    )
    # White B4 captures the black stone C4? C4 black has liberties? C4 neighbours:
    # C5 (O), B4 (empty), D4 (O), C3 (O) -> its only liberty is B4, so white B4 captures.
    play(eng, "B4")
    assert eng.boards[0, 1, 2] == 0
    # Black retaking at C4 recreates the previous position: ko.
    assert not legal(eng, "C4")
    play(eng, "E1", "E2")  # a threat and an answer elsewhere
    assert legal(eng, "C4")
    play(eng, "C4")
    assert eng.boards[0, 1, 1] == 0


def test_positional_superko_alone_forbids_sending_two_returning_one():
    """White's E1 captured two black stones (E2, E3); Black's E2 would capture the single
    stone E1 and recreate the position after move 10. Simple ko does not forbid it (the
    last capture took two stones), positional superko does."""
    moves = "D1 B3 C1 B2 A1 D3 E2 D2 E5 E4 E3 E1".split()
    eng = GoEngine(1, Rules(board_size=5))
    play(eng, *moves[:10])
    after_ten = eng.boards[0].copy()
    play(eng, *moves[10:])
    assert eng.to_play[0] == BLACK
    assert not legal(eng, "E2")
    # Without superko the move is legal, captures E1 and repeats the board.
    free = GoEngine(1, Rules(board_size=5, superko=False))
    play(free, *moves)
    assert legal(free, "E2")
    play(free, "E2")
    np.testing.assert_array_equal(free.boards[0], after_ten)


# ----------------------------------------------------------------------------- scoring


def test_tromp_taylor_counts_seki_stones_and_no_shared_liberties():
    # A seki in the corner: the two white stones and the black stones share the
    # liberties A1 and C1? We build a classic one: both A1 and C1 touch both colours.
    eng = engine_at(
        """
        .....
        XXXX.
        OOOX.
        .X.OX
        XOO.X
        """,
        komi=0.0,
    )
    # Areas by hand: black stones 4+1+1+1+2 = 9 (B4..E4 is 4? row "XXXX." = 4; row 3 D3 = 1;
    # row 2 B2, E2 = 2; row 1 A1, E1 = 2) -> 9; white stones A3 B3 C3 D2 B1 C1 = 6.
    # Empty: row 5 (5 points) + E4 + E3 form one region touching only black -> 7 for black.
    # A2 touches A3 (O), B2 (X), A1 (X) -> both: neutral. C2 touches both: neutral.
    # D1 touches C1 (O), E1 (X): neutral.
    black, white = 9 + 7, 6
    assert eng.scores()[0] == pytest.approx(black - white)


def test_owners_mark_areas_and_neutral_points_and_agree_with_the_score():
    eng = engine_at(
        """
        .....
        XXXX.
        OOOX.
        .X.OX
        XOO.X
        """,
    )
    expected = parse_board(
        """
        XXXXX
        XXXXX
        OOOXX
        .X.OX
        XOO.X
        """
    ).reshape(-1)
    np.testing.assert_array_equal(eng.owners()[0], expected)
    rng = np.random.default_rng(3)
    eng = GoEngine(6, Rules(board_size=7, komi=4.5))
    for _ in range(60):
        eng.step(eng.random_actions(rng))
        owners = eng.owners()
        area = (owners == BLACK).sum(1) - (owners == WHITE).sum(1)
        np.testing.assert_allclose(area - 4.5, eng.scores())


def test_score_sign_komi_and_draw():
    eng = engine_at("XX.OO\nXX.OO\nXX.OO\nXX.OO\nXX.OO", komi=0.0)
    assert eng.scores()[0] == 0.0
    play(eng, "pass", "pass")
    assert eng.done[0] and eng.end_reason[0] == 1
    res_rewards = eng._rewards[0]
    assert (res_rewards == 0).all(), "a score of exactly 0 is a draw: 0 to both"
    eng = engine_at("XX.OO\nXX.OO\nXX.OO\nXX.OO\nXX.OO", komi=0.5)
    play(eng, "pass")
    res = eng.step(np.array([25]))
    assert res.rewards[0].tolist() == [-1.0, 1.0]


def test_default_komi_and_move_cap():
    assert Rules(board_size=9).komi == 7.5
    assert Rules(board_size=19).komi == 7.5
    assert Rules(board_size=5).komi == default_komi(5)
    assert Rules(board_size=7).max_moves == 98
    eng = GoEngine(1, Rules(board_size=5, max_moves=5, komi=0.5))
    play(eng, "A1", "E5", "B1", "D5")
    assert not eng.done[0]
    res = eng.step(np.array([gtp_to_action("C1", 5)]))
    assert eng.done[0] and eng.end_reason[0] == 2  # move cap
    # Scored like any other end: 3 black stones, 2 white, the empty region touches both.
    assert eng.scores()[0] == 3 - 2 - 0.5
    assert res.rewards[0].tolist() == [1.0, -1.0]
    assert not eng.legal[0].any()


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_without_changing_the_state():
    for bad in (4, 20, 9.0, "9"):
        with pytest.raises(ValueError, match="board_size"):
            Rules(board_size=bad)
    eng = GoEngine(2, Rules(board_size=5))
    eng.step(np.array([12, 12]))
    with pytest.raises(IllegalMoveError, match="game 0: action 12 is illegal"):
        eng.step(np.array([12, 0]))
    assert eng.boards[0].sum() == BLACK  # game 0 untouched
    assert eng.boards[1, 0, 0] == WHITE  # game 1's legal move was played
    with pytest.raises(IllegalMoveError, match="outside 0..25"):
        eng.step(np.array([26, -1]))
    eng.step(np.array([-1, -7]))  # negative ids leave the games alone
    assert eng.moves.tolist() == [1, 2]
    with pytest.raises(ValueError, match="shape"):
        eng.step(np.array([0, 1, 2]))
    eng = GoEngine(1, Rules(board_size=5))
    play(eng, "pass", "pass")
    with pytest.raises(IllegalMoveError, match="ended"):
        eng.step(np.array([0]))
    with pytest.raises(ValueError, match="5x5"):
        eng.set_position(0, np.zeros((4, 4)))


def test_refused_move_leaves_every_array_unchanged():
    eng = GoEngine(1, Rules(board_size=5))
    play(eng, "C3")
    before = [a.copy() for a in eng.state]
    with pytest.raises(IllegalMoveError):
        eng.step(np.array([12]))
    for a, b in zip(eng.state, before, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- reference


class ReferenceGo:
    """Go rules the slow, obvious way: flood-fill liberties, a set of seen positions."""

    def __init__(self, n: int):
        self.n = n
        self.board = np.zeros((n, n), np.int8)
        self.to_play = BLACK
        self.seen = {self.board.tobytes()}

    def _nbrs(self, r, c):
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            if 0 <= r + dr < self.n and 0 <= c + dc < self.n:
                yield r + dr, c + dc

    def _chain(self, board, r, c):
        colour, chain, libs, todo = board[r, c], {(r, c)}, set(), [(r, c)]
        while todo:
            p = todo.pop()
            for q in self._nbrs(*p):
                if board[q] == 0:
                    libs.add(q)
                elif board[q] == colour and q not in chain:
                    chain.add(q)
                    todo.append(q)
        return chain, libs

    def after(self, r, c):
        """The board after the player to move plays (r, c), or None if illegal."""
        if self.board[r, c]:
            return None
        b = self.board.copy()
        b[r, c] = self.to_play
        for q in self._nbrs(r, c):
            if b[q] == 3 - self.to_play:
                chain, libs = self._chain(b, *q)
                if not libs:
                    for s in chain:
                        b[s] = 0
        if not self._chain(b, r, c)[1]:
            return None
        if b.tobytes() in self.seen:
            return None
        return b

    def legal(self):
        n = self.n
        out = np.zeros(n * n + 1, bool)
        for p in range(n * n):
            out[p] = self.after(*divmod(p, n)) is not None
        out[n * n] = True
        return out

    def play(self, a):
        if a < self.n * self.n:
            self.board = self.after(*divmod(a, self.n))
            self.seen.add(self.board.tobytes())
        self.to_play = 3 - self.to_play


@pytest.mark.parametrize("n,games", [(5, 40), (7, 15), (9, 4)])
def test_engine_matches_a_reference_implementation_on_random_games(n, games):
    rng = np.random.default_rng(n)
    eng = GoEngine(games, Rules(board_size=n, max_moves=3 * n * n))
    refs = [ReferenceGo(n) for _ in range(games)]
    while not eng.done.all():
        for g, ref in enumerate(refs):
            if not eng.done[g]:
                np.testing.assert_array_equal(eng.legal[g], ref.legal(), err_msg=f"game {g}")
                np.testing.assert_array_equal(eng.boards[g], ref.board)
        actions = eng.random_actions(rng, allow_pass=rng.random() < 0.05)
        eng.step(actions)
        for g, a in enumerate(actions):
            if a >= 0:
                refs[g].play(int(a))


# ----------------------------------------------------------------------------- batch API


def test_batch_equals_one_at_a_time_and_reset_is_selective():
    rng = np.random.default_rng(0)
    batch = GoEngine(3, Rules(board_size=7))
    singles = [GoEngine(1, Rules(board_size=7)) for _ in range(3)]
    for _ in range(60):
        actions = batch.random_actions(rng)
        batch.step(actions)
        for g, s in enumerate(singles):
            s.step(actions[g : g + 1])
    for g, s in enumerate(singles):
        for a, b in zip(batch.state, s.state, strict=True):
            np.testing.assert_array_equal(a[g], b[0])
    batch.reset(np.array([False, True, False]))
    assert batch.moves.tolist()[1] == 0 and batch.moves[0] > 0 and batch.moves[2] > 0
    assert not batch.boards[1].any()


def test_clone_and_pickle_are_independent_copies():
    rng = np.random.default_rng(1)
    eng = GoEngine(2, Rules(board_size=9))
    for _ in range(30):
        eng.step(eng.random_actions(rng))
    twin = eng.clone()
    thawed = pickle.loads(pickle.dumps(eng))
    actions = eng.random_actions(rng)
    for e in (eng, twin, thawed):
        e.step(actions)
    for a, b, c in zip(eng.state, twin.state, thawed.state, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    twin.step(twin.random_actions(rng))
    assert not np.array_equal(twin.state.info, eng.state.info)


def test_engines_of_different_sizes_coexist():
    small, big = GoEngine(1, Rules(board_size=9)), GoEngine(1, Rules(board_size=19))
    play(small, "E5")
    play(big, "K10")
    assert small.boards.shape == (1, 9, 9) and big.boards.shape == (1, 19, 19)
    assert small.boards[0, 4, 4] == BLACK and big.boards[0, 9, 9] == BLACK


def test_observation_planes_history_and_perspective():
    eng = GoEngine(1, Rules(board_size=5))
    play(eng, "A5", "B5", "C5")  # black A5, white B5, black C5; white to move
    obs = eng.observations()[0]  # [17, 5, 5] for white
    assert obs.shape == (17, 5, 5)
    assert obs[0, 0, 1] == 1 and obs[0].sum() == 1  # own (white) stones now
    assert obs[1, 0, 0] == 1 and obs[1, 0, 2] == 1 and obs[1].sum() == 2
    assert obs[3].sum() == 1 and obs[3, 0, 0] == 1  # opponent one move ago: A5 only
    assert obs[2].sum() == 1  # own one move ago: B5
    assert obs[6:16].sum() == 0  # before the game started
    assert (obs[16] == 0).all()  # white to move
    last = eng.observations(channels_last=True)[0]
    np.testing.assert_array_equal(last, obs.transpose(1, 2, 0))


def test_legal_point_agrees_with_the_inlined_legal_mask():
    """``_fill_legal`` inlines the per-point test for speed; ``legal_point`` is the same
    test for search code. They must never drift apart."""
    from rlgo.envs import _kernels as K

    rng = np.random.default_rng(5)
    eng = GoEngine(6, Rules(board_size=5, max_moves=150))
    s, geo = eng.state, eng.geo
    while not eng.done.all():
        for b in np.flatnonzero(~eng.done):
            c = int(eng.to_play[b])
            for p in range(25):
                expect = bool(eng.legal[b, p])
                if s.chains[b, K.BOARD, p] == 0:
                    got = K.legal_point(s.chains[b], s.ghash[b], s.htab[b], geo, s.hash[b], p, c)
                    assert got == expect, (b, p)
        eng.step(eng.random_actions(rng, allow_pass=rng.random() < 0.05))


def _randomly_played(num_games: int, size: int, plies: int, seed: int) -> GoEngine:
    """An engine whose games have each had ``plies`` random moves."""
    rng = np.random.default_rng(seed)
    engine = GoEngine(num_games, Rules(board_size=size))
    for _ in range(plies):
        engine.step(engine.random_actions(rng))
    return engine


def test_copy_game_copies_a_game_between_engines():
    from rlgo.envs import _kernels as K

    src = _randomly_played(3, 7, 20, seed=2)
    dst = GoEngine(2, Rules(board_size=7))
    K.copy_game(src.state, 2, dst.state, 0)
    for a, b in zip(src.state, dst.state, strict=True):
        np.testing.assert_array_equal(a[2], b[0])


def test_engine_copy_game_takes_index_arrays():
    src = _randomly_played(3, 5, 12, seed=3)
    dst = GoEngine(2, Rules(board_size=5))
    dst.copy_game(src, np.array([2, 0]), np.array([0, 1]))  # one copy per field
    for a, b in zip(src.state, dst.state, strict=True):
        np.testing.assert_array_equal(a[[2, 0]], b)
    np.testing.assert_array_equal(dst.legal, src.legal[[2, 0]])


# ----------------------------------------------------------------------------- end reasons


def test_end_reasons_have_one_unique_name_each_and_the_engine_reports_them():
    from rlgo.envs import END_REASON_NAMES, END_REASONS, ILLEGAL_MOVE, RESIGN

    assert len(set(END_REASON_NAMES)) == len(END_REASON_NAMES)
    assert set(END_REASON_NAMES) == {*END_REASONS.values(), ILLEGAL_MOVE, RESIGN}
    passes = GoEngine(1, Rules(board_size=5))
    play(passes, "C3", "pass", "pass")
    capped = GoEngine(1, Rules(board_size=5, max_moves=3))
    play(capped, "A1", "E5", "B1")
    assert passes.done[0] and capped.done[0]
    assert END_REASONS[int(passes.end_reason[0])] == "two_passes"
    assert END_REASONS[int(capped.end_reason[0])] == "move_cap"
