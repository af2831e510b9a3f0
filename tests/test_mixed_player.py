"""The mixed player (``mix:<player>:<e>``): the strong player's moves at e = 0, the random
anchor's distribution at e = 1, the share between, seeded, and refused outside [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from rlgo.agents.mixed_player import MixedPlayer
from rlgo.envs import GoEngine, Rules
from rlgo.evaluation.arena import play_match
from rlgo.evaluation.players import PlayerSpecError, make_player, missing_program
from rlgo.protocols import Decision, Positions

RULES = Rules(board_size=5)


class Corner:
    """Always the first legal point; counts the positions it was asked about."""

    name = "corner"

    def __init__(self) -> None:
        self.asked = 0

    def act(self, positions: Positions) -> Decision:
        self.asked += len(positions)
        return Decision(positions.mask.argmax(axis=1).astype(np.int64), nn_evals=len(positions))


def _empty_boards(batch: int) -> Positions:
    eng = GoEngine(batch, RULES)
    games = np.arange(batch)
    return Positions(eng.observations(), eng.legal.copy(), eng, games)


def test_epsilon_zero_is_the_strong_player():
    strong = Corner()
    decision = MixedPlayer(strong, 0.0).act(_empty_boards(500))
    assert (decision.actions == 0).all()  # the empty board's first point, every time
    assert strong.asked == 500 and decision.nn_evals == 500


def test_epsilon_one_is_the_random_anchor():
    strong = Corner()
    actions = MixedPlayer(strong, 1.0, seed=1).act(_empty_boards(25_000)).actions
    assert strong.asked == 0
    counts = np.bincount(actions, minlength=26)
    assert counts[25] == 0  # never passes while a point is legal
    # uniform over the 25 points: 1,000 each, binomial s.d. 31; 5 s.d. either side
    assert counts[:25].min() > 845 and counts[:25].max() < 1_155


def test_the_random_share_is_epsilon():
    strong = Corner()
    actions = MixedPlayer(strong, 0.3, seed=2).act(_empty_boards(20_000)).actions
    # the strong player moves in 70% of the rows; a random move hits its point 1 in 25
    assert abs(strong.asked / 20_000 - 0.7) < 0.015
    assert abs((actions == 0).mean() - (0.7 + 0.3 / 25)) < 0.015


def test_seeded_and_reproducible():
    def moves(seed: int) -> np.ndarray:
        return MixedPlayer(Corner(), 0.5, seed=seed).act(_empty_boards(200)).actions

    assert (moves(3) == moves(3)).all()
    assert not (moves(3) == moves(4)).all()


@pytest.mark.parametrize("epsilon", [-0.1, 1.5, float("nan"), float("inf"), "0.5"])
def test_epsilon_outside_zero_one_is_refused(epsilon):
    with pytest.raises(ValueError, match=r"epsilon must be a number in \[0, 1\]"):
        MixedPlayer(Corner(), epsilon)


def test_spec_builds_names_and_plays():
    player = make_player("mix:rollout:4:0.25", RULES, seed=0)
    assert isinstance(player, MixedPlayer) and player.name == "mix:rollout:4:0.25"
    assert player.strong.name == "rollout:4" and player.epsilon == 0.25
    assert make_player(" mix:random:1 ", RULES).name == "mix:random:1"
    mixed = make_player("mix:rollout:2:0.5", RULES, seed=1)
    result = play_match(mixed, make_player("random", RULES), 4, RULES, seed=0)
    assert result.games == 4


@pytest.mark.parametrize("spec,message", [
    ("mix:gnugo:0:1.5", r"random share must be a number in \[0, 1\], got '1.5'"),
    ("mix:gnugo:0:-0", None),
    ("mix:random:nan", r"got 'nan'"),
    ("mix:random:half", r"got 'half'"),
    ("mix:0.5", "needs a player and a random share"),
    ("mix:", "needs a player and a random share"),
])
def test_malformed_mix_specs_are_refused(spec, message):
    if message is None:  # -0 is 0: the strong player itself
        assert make_player(spec.replace("gnugo:0", "random"), RULES).epsilon == 0.0
        return
    with pytest.raises(PlayerSpecError, match=message):
        make_player(spec, RULES)


def test_missing_program_looks_inside_a_mix(monkeypatch):
    monkeypatch.setattr("rlgo.evaluation.players.shutil.which", lambda _: None)
    assert "GNU Go is not installed" in missing_program("mix:gnugo:0:0.5")
    assert missing_program("mix:random:0.5") is None


def test_a_mix_of_a_program_runs_a_program():
    from rlgo.evaluation.players import refuse_programs, runs_program

    assert runs_program("mix:gtp:/usr/games/gnugo --mode gtp:0.5")
    assert not runs_program("mix:gnugo:0:0.5") and not runs_program("mix:mix:random:0.1:0.2")
    with pytest.raises(PlayerSpecError, match="runs a program"):
        refuse_programs(["random", "mix:gtp:/bin/sh -c x:0.5"], "t.toml [anchors]")
