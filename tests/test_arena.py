"""Arena: exact colour alternation, stored games that replay to their score, batching of
network players across games, and the player specifications of ``make_player``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rlgo.agents.network_player import NetworkPlayer
from rlgo.agents.random_player import RandomPlayer, random_legal_actions
from rlgo.envs import END_REASONS, Rules
from rlgo.envs.engine import BLACK
from rlgo.envs.sgf import replay_sgf
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import PlayerSpecError, make_player
from rlgo.learning.files import CheckpointError, rules_to_dict, save_file
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.protocols import Decision, Positions

RULES = Rules(board_size=5)
TINY = NetConfig(blocks=1, channels=8, value_hidden=8)


class Recorder:
    """Wraps a player and logs every call: (games, colours to move, batch size)."""

    def __init__(self, inner, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def act(self, positions: Positions) -> Decision:
        games = positions.games.copy()
        self.calls.append((games, positions.engine.to_play[games].copy()))
        return self.inner.act(positions)


@pytest.fixture
def db(tmp_path) -> MatchDB:
    with MatchDB(f"sqlite:///{tmp_path / 'matches.sqlite'}") as database:
        yield database


def tiny_checkpoint(path, board_size: int = 5):
    net = PolicyValueNet(board_size, TINY)
    return save_file(path, {
        "kind": "snapshot", "agent": "reinforce", "agent_config": {}, "counters": {},
        "rules": rules_to_dict(Rules(board_size=board_size)),
        "net_config": dataclasses.asdict(TINY), "weights": net.state_dict(),
    })


# ----------------------------------------------------------------------------- colours


@pytest.mark.parametrize("games", [4, 5])
def test_colours_alternate_exactly(games, db):
    alice, bob = Recorder(RandomPlayer(1), "alice"), Recorder(RandomPlayer(2), "bob")
    summary = play_match(alice, bob, games, RULES, db)

    for player, black_games in ((alice, 0), (bob, 1)):
        for played, colour in player.calls:
            assert ((played % 2 == black_games) == (colour == BLACK)).all()
    rows = db.games()
    assert list(rows["black"]) == ["alice" if i % 2 == 0 else "bob" for i in range(games)]
    assert list(rows["white"]) == ["bob" if i % 2 == 0 else "alice" for i in range(games)]
    assert [t["match_game"] for t in rows["tags"]] == list(range(games))
    # the odd game's extra Black goes to a, and the summary says so
    assert summary.a_black.games == (games + 1) // 2
    assert summary.a_white.games == games // 2
    assert summary.games == games == summary.wins + summary.losses + summary.draws


def test_self_play_asks_once_per_step(db):
    me = Recorder(RandomPlayer(3), "me")
    play_match(me, me, 4, RULES, db)
    moves = db.games()["moves"].to_numpy()
    assert len(me.calls) == moves.max()
    # step k: one call with every game still going, both colours together
    assert [len(games) for games, _ in me.calls] == [
        int((moves > k).sum()) for k in range(moves.max())]


# ----------------------------------------------------------------------------- storage


def test_stored_games_replay_to_their_score(db):
    summary = play_match(RandomPlayer(4), RandomPlayer(5, name="random-5"), 6, RULES, db,
                         tags={"purpose": "test"}, run="unit", env_steps=123)
    rows = db.games()
    assert list(rows["id"]) == list(summary.game_ids)
    for row in rows.itertuples():
        engine, actions = replay_sgf(row.sgf)
        assert engine.done[0]
        assert len(actions) == row.moves
        assert float(engine.scores()[0]) == pytest.approx(row.score)
        assert row.winner == ("B" if row.score > 0 else "W" if row.score < 0 else "draw")
        assert row.end_reason in END_REASONS.values()
        assert (row.board_size, row.komi) == (5, RULES.komi)
        assert f"PB[{row.black}]" in row.sgf and f"PW[{row.white}]" in row.sgf
        assert row.tags["purpose"] == "test" and row.tags["match_games"] == 6
        assert (row.run, row.env_steps) == ("unit", 123)


def test_random_vs_random_end_to_end_is_reproducible(db):
    def match():
        return play_match(make_player("random", RULES, seed=7),
                          RandomPlayer(8, name="random-8"), 8, RULES, db)

    first, second = match(), match()
    assert first.games == 8 and first.a_black.games == first.a_white.games == 4
    assert sum(first.end_reasons.values()) == 8
    assert first.nn_evals == {"random": 0, "random-8": 0}
    sgf = db.games()["sgf"].tolist()
    assert sgf[:8] == sgf[8:]
    assert first.to_dict()["wins"] == second.wins


def test_the_summary_names_players_in_full(db):
    long = RandomPlayer(3, name="runs/quickstart/runs/mcts-s0@150309:search=32")
    text = play_match(long, RandomPlayer(4), 2, RULES, db).format()
    assert f"{long.name} as B" in text and f"{long.name} as W" in text


class FirstLegal:
    """Deterministic: always the first legal point (pass when none)."""

    name = "first-legal"

    def act(self, positions: Positions) -> Decision:
        return Decision(positions.mask.argmax(1).astype(np.int64))


def test_random_openings_pair_games_and_make_deterministic_players_differ(db):
    rules = Rules(board_size=5, komi=0.5)
    same = play_match(FirstLegal(), _Named(FirstLegal(), "first-b"), 6, rules)
    assert same.distinct_games == 1 and same.opening_moves == 0  # one game six times
    summary = play_match(FirstLegal(), _Named(FirstLegal(), "first-b"), 6, rules, db,
                         opening_moves=3, seed=5)
    assert summary.opening_moves == 3 and summary.distinct_games == 3
    rows = db.games().sort_values("id")
    games = [replay_sgf(sgf)[1] for sgf in rows.sgf]
    for j in range(3):  # a pair shares its opening and swaps colours
        assert games[2 * j][:3] == games[2 * j + 1][:3]
        assert rows.black.iloc[2 * j] == rows.white.iloc[2 * j + 1]
        assert rules.pass_action not in games[2 * j][:3]
    assert len({tuple(g[:3]) for g in games}) == 3
    assert (rows.tags.map(lambda t: t["opening_moves"]) == 3).all()
    again = play_match(FirstLegal(), _Named(FirstLegal(), "first-b"), 6, rules,
                       opening_moves=3, seed=5)
    assert again.to_dict()["score"] == summary.score  # reproducible from the seed
    assert "3 distinct games (each pair from its own 3 random opening moves)" in \
        summary.format()
    with pytest.raises(ValueError, match="opening_moves"):
        play_match(FirstLegal(), RandomPlayer(0), 2, rules, opening_moves=25)


class _Named:
    def __init__(self, inner, name: str) -> None:
        self.inner, self.name = inner, name

    def act(self, positions: Positions) -> Decision:
        return self.inner.act(positions)


def test_random_player_passes_only_when_forced():
    rng = np.random.default_rng(0)
    mask = np.zeros((3, 10), bool)
    mask[0, [2, 5, 9]] = True   # two points and pass
    mask[1, 9] = True           # only pass
    mask[2, [0, 9]] = True
    draws = np.stack([random_legal_actions(mask, rng) for _ in range(400)])
    assert set(draws[:, 0]) == {2, 5}
    assert set(draws[:, 1]) == {9}
    assert set(draws[:, 2]) == {0}
    assert 0.4 < (draws[:, 0] == 2).mean() < 0.6


def test_illegal_decision_is_reported_and_nothing_stored(db):
    class Stubborn:
        name = "stubborn"

        def act(self, positions):
            return Decision(np.zeros(len(positions), np.int64))  # point 0, again and again

    with pytest.raises(ValueError, match="stubborn chose illegal action 0 in game"):
        play_match(Stubborn(), RandomPlayer(0), 2, RULES, db)
    assert len(db.games()) == 0
    with pytest.raises(ValueError, match="at least one game"):
        play_match(RandomPlayer(0), RandomPlayer(1), 0, RULES)


# ----------------------------------------------------------------------------- networks


def test_network_player_is_batched_across_games(db):
    net = PolicyValueNet(5, TINY)
    player = Recorder(NetworkPlayer(net, "net"))
    summary = play_match(player, RandomPlayer(0), 6, RULES, db)

    # Games advance in lockstep, so at step k it is Black everywhere (k even) or White
    # everywhere: one call per step with every live game where it has that colour.
    stored = db.games()  # in the order the games ended: put them in match order
    stored = stored.iloc[np.argsort([t["match_game"] for t in stored.tags])]
    moves = stored["moves"].to_numpy()
    expected = [[i for i in range(6) if moves[i] > k and (i % 2 == 0) == (k % 2 == 0)]
                for k in range(moves.max())]
    assert [list(games) for games, _ in player.calls] == [e for e in expected if e]
    assert [len(g) for g, _ in player.calls[:2]] == [3, 3]
    # every position it moved in was one network evaluation
    net_moves = sum((m + 1) // 2 if i % 2 == 0 else m // 2 for i, m in enumerate(moves))
    assert summary.nn_evals["net"] == net.evals == net_moves
    assert summary.nn_evals["random"] == 0


def test_network_player_decisions_and_seeds():
    from rlgo.envs import GoEngine

    engine = GoEngine(3, RULES)
    positions = Positions(engine.observations(), engine.legal.copy(), engine, np.arange(3))
    net = PolicyValueNet(5, TINY)
    greedy = NetworkPlayer(net, "g").act(positions)
    assert greedy.nn_evals == 3 and greedy.actions.shape == (3,)
    assert greedy.extras["logp"].shape == greedy.extras["value"].shape == (3,)
    samples = [NetworkPlayer(net, "s", greedy=False, seed=9).act(positions).actions
               for _ in range(2)]
    assert (samples[0] == samples[1]).all()
    with pytest.raises(ValueError, match="plays 5x5, not 9x9"):
        nine = GoEngine(1, Rules(board_size=9))
        NetworkPlayer(net, "g").act(Positions(nine.observations(), nine.legal, nine,
                                              np.arange(1)))


# ----------------------------------------------------------------------------- make_player


def test_make_player_builds_each_kind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_checkpoint(tmp_path / "runs" / "net.pt")
    assert make_player("random", RULES).name == "random"
    assert make_player("rollout:4", RULES).name == "rollout:4"
    greedy = make_player("runs/./net.pt", RULES)
    assert (greedy.name, greedy.greedy) == ("runs/net.pt", True)
    assert make_player("runs/net.pt:greedy", RULES).name == "runs/net.pt"
    sample = make_player("runs/net.pt:sample", RULES, seed=3)
    assert (sample.name, sample.greedy) == ("runs/net.pt:sample", False)


@pytest.mark.parametrize("spec, message", [
    ("randm", "unknown player 'randm'; valid forms: random, rollout:<playouts>"),
    ("gnugo:11", "level must be an integer 0..10, got '11'"),
    ("gnugo:strong", "level must be an integer 0..10"),
    ("gnugo", "level must be an integer 0..10, got ''"),
    ("rollout:0", "playouts must be an integer >= 1"),
    ("rollout:many", "playouts must be an integer >= 1"),
])
def test_make_player_rejects_bad_specs(spec, message):
    with pytest.raises(PlayerSpecError, match=message):
        make_player(spec, RULES)


def test_make_player_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        make_player(str(tmp_path / "missing.pt"), RULES)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        make_player(str(corrupt), RULES)
    nine = tiny_checkpoint(tmp_path / "nine.pt", board_size=9)
    with pytest.raises(ValueError, match="trained on 9x9; this arena plays 5x5"):
        make_player(str(nine), RULES)
    five = tiny_checkpoint(tmp_path / "five.pt")
    with pytest.raises(PlayerSpecError, match="unknown checkpoint option 'fast'"):
        make_player(f"{five}:fast", RULES)
    with pytest.raises(PlayerSpecError, match="search must be an integer"):
        make_player(f"{five}:search=0", RULES)
    assert make_player(f"{five}:search=32", RULES).name == f"{five}:search=32"
    with pytest.raises(PlayerSpecError, match="one of :greedy and :sample"):
        make_player(f"{five}:greedy:sample", RULES)


def test_an_interrupted_match_keeps_the_games_it_finished(db):
    class PassesInGameZero:
        """Random moves, but passes in game 0 (which so ends after two moves); with
        ``impatient``, Ctrl-C once a game has ended."""

        def __init__(self, name: str, seed: int, impatient: bool = False) -> None:
            self.name, self.inner, self.impatient = name, RandomPlayer(seed), impatient

        def act(self, positions):
            if self.impatient and positions.engine.done.any():
                raise KeyboardInterrupt
            actions = self.inner.act(positions).actions.copy()
            actions[positions.games == 0] = RULES.pass_action
            return Decision(actions)

    with pytest.raises(KeyboardInterrupt):
        play_match(PassesInGameZero("impatient", 3, impatient=True),
                   PassesInGameZero("patient", 4), 8, RULES, db)
    stored = db.games()
    assert len(stored) == 1 and stored.tags[0]["match_game"] == 0  # the game that ended
    engine, actions = replay_sgf(stored.sgf[0])
    assert engine.done[0] and len(actions) == 2 and stored.tags[0]["match_games"] == 8


def test_should_stop_ends_a_match_between_moves_keeping_finished_games(db):
    asked = []

    def stop_after_ten_moves() -> bool:
        asked.append(True)
        return len(asked) > 10

    class PassesInGameZero(RandomPlayer):
        def act(self, positions):
            actions = super().act(positions).actions.copy()
            actions[positions.games == 0] = RULES.pass_action
            return Decision(actions)

    with pytest.raises(KeyboardInterrupt, match="stop requested"):
        play_match(PassesInGameZero(1), PassesInGameZero(2, name="other"), 4, RULES, db,
                   should_stop=stop_after_ten_moves)
    assert len(asked) == 11  # asked once before each move, stopped before the eleventh
    assert db.games(with_sgf=False).tags[0]["match_game"] == 0 and len(db.games()) == 1


def test_rlgo_arena_on_sigterm_reports_what_it_stored(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    proc = subprocess.Popen([sys.executable, "-m", "rlgo.cli", "arena", "rollout:400",
                             "rollout:400", "--games", "40", "-n", "5", "--db", url],
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "m.sqlite").exists():
        time.sleep(0.1)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    kept = len(MatchDB(url).games(with_sgf=False))
    assert proc.returncode == 130, err  # stopped midway (the match takes far longer)
    assert f"the {kept} games that had finished are stored" in err
