"""Batched self-play: many games at once on one :class:`~rlgo.envs.GoEngine`.

The learner's player moves for its side(s); an optional opponent (a fixed player or a
past snapshot) moves for the other side in a share of the games (``opponent_share``),
with the learner's colour alternating between those games. A game may start from ``k``
uniformly random legal moves, ``k`` drawn from 0..``opening_moves`` per game (random
openings / mid-game starts: more varied positions for learners without search). Every
move of a real game counts one ``env_step``, whoever made it, opening moves included.
Finished games come back as :class:`~rlgo.protocols.Experience` rows for the learner's
moves only.

Recording is vectorised: each batched step appends one block of rows (the positions the
learner moved in), and the blocks are sorted into (game, move) order and given their
outcomes, episode ends and ownership targets with array operations once the games end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rlgo.agents.random_player import random_legal_actions
from rlgo.envs import GoEngine, Rules
from rlgo.learning.episodes import successors
from rlgo.protocols import Decision, Experience, Player, Positions


@dataclass
class SelfPlayStats:
    """What a call to :meth:`SelfPlay.play` consumed."""

    env_steps: int = 0
    games: int = 0
    nn_evals_act: int = 0
    """Network evaluations of the learner's moves (search included)."""
    nn_evals_opponent: int = 0
    """Network evaluations of the opponent's moves."""
    black_wins: int = 0
    white_wins: int = 0
    draws: int = 0
    opponent_games: int = 0
    """Games the learner played against the opponent (the others are self-play)."""
    learner_score: float = 0.0
    """Sum of the learner's results (+1/-1/0) in its games against the opponent."""
    moves_per_game: list[int] = field(default_factory=list)
    finished: list[tuple[int, np.ndarray, float]] = field(default_factory=list)
    """(game id, actions from the empty board, Black's score minus White's with komi) of
    every finished game, in the order they ended: what SGF samples are written from."""


@dataclass
class _Recorder:
    """Blocks of learner rows, one per batched step, and the results of ended games."""

    blocks: list[dict[str, np.ndarray]] = field(default_factory=list)
    ended_ids: list[np.ndarray] = field(default_factory=list)
    black_result: list[np.ndarray] = field(default_factory=list)
    owners: list[np.ndarray] = field(default_factory=list)

    def record(self, pos: Positions, eng: GoEngine, ids: np.ndarray, decision: Decision
               ) -> None:
        rows = pos.games
        self.blocks.append({"obs": pos.obs, "mask": pos.mask,
                            "player": eng.to_play[rows].astype(np.int8),
                            "action": np.asarray(decision.actions, np.int64),
                            "move": eng.moves[rows].astype(np.int32),
                            "game": ids[rows].astype(np.int64),
                            **{f"x:{k}": v for k, v in decision.extras.items()}})

    def end(self, game_ids: np.ndarray, black_result: np.ndarray, owners: np.ndarray) -> None:
        """Games ``game_ids`` [k] ended with Black's results [k] and final owners [k, N*N]."""
        self.ended_ids.append(game_ids.copy())
        self.black_result.append(black_result)
        self.owners.append(owners)


class SelfPlay:
    """Plays games in ``parallel`` slots until a requested number has finished."""

    def __init__(self, rules: Rules, parallel: int, learner: Player,
                 opponent: Player | None = None, first_game_id: int = 0, *,
                 opponent_share: float = 1.0, opening_moves: int = 0,
                 rng: np.random.Generator | None = None) -> None:
        if not 0.0 <= opponent_share <= 1.0:
            raise ValueError(f"opponent_share must lie in [0, 1], got {opponent_share}")
        if not 0 <= opening_moves < rules.num_points:
            raise ValueError(f"opening_moves must lie in 0..{rules.num_points - 1}, "
                             f"got {opening_moves}")
        self.rules = rules
        self.parallel = parallel
        self.learner = learner
        self.opponent = opponent
        self.opponent_share = opponent_share if opponent is not None else 0.0
        self.opening_moves = opening_moves
        self.rng = rng if rng is not None else np.random.default_rng(first_game_id)
        self.next_game_id = first_game_id

    def _start(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For new games ``ids``: the learner's colour (0 both, else 1 Black in even
        games, 2 White in odd) and the number of random opening moves."""
        if self.opponent_share >= 1.0:
            versus = np.ones(len(ids), bool)
        else:
            versus = self.rng.random(len(ids)) < self.opponent_share
        colour = np.where(versus, np.where(ids % 2 == 0, 1, 2), 0).astype(np.int8)
        opening = self.rng.integers(0, self.opening_moves + 1, len(ids))
        return colour, opening

    def play(self, num_games: int) -> tuple[Experience, SelfPlayStats]:
        """Play exactly ``num_games`` games to the end (slots are not refilled past it,
        so short games are not over-represented)."""
        slots = min(self.parallel, num_games)
        eng = GoEngine(slots, self.rules)
        ids = np.arange(self.next_game_id, self.next_game_id + slots, dtype=np.int64)
        self.next_game_id += slots
        colours, opening = self._start(ids)
        started = slots
        live = np.ones(slots, bool)
        rec, stats = _Recorder(), SelfPlayStats()
        while live.any():
            obs = eng.observations()
            actions = np.full(slots, -1, np.int64)
            random = live & (opening > 0)
            if random.any():
                actions[random] = random_legal_actions(eng.legal[random], self.rng)
                opening[random] -= 1
            learner_turn = live & ~random & ((colours == 0) | (colours == eng.to_play))
            for who, rows in ((self.learner, np.flatnonzero(learner_turn)),
                              (self.opponent, np.flatnonzero(live & ~random & ~learner_turn))):
                if len(rows) == 0:
                    continue
                pos = Positions(obs[rows], eng.legal[rows].copy(), eng, rows)
                decision = who.act(pos)
                actions[rows] = decision.actions
                if who is self.learner:
                    stats.nn_evals_act += decision.nn_evals
                    rec.record(pos, eng, ids, decision)
                else:
                    stats.nn_evals_opponent += decision.nn_evals
            result = eng.step(actions)
            stats.env_steps += int(live.sum())
            ended = np.flatnonzero(live & result.done)
            if len(ended) == 0:
                continue
            black_r = result.rewards[ended, 0].astype(np.float64)
            rec.end(ids[ended], black_r, eng.owners()[ended])
            scores = eng.scores()
            stats.finished += [(int(ids[i]), eng.actions(i), float(scores[i])) for i in ended]
            _count(stats, black_r, colours[ended], eng.moves[ended])
            restart = ended[: max(0, num_games - started)]
            live[ended[len(restart):]] = False
            if len(restart):
                eng.reset(np.isin(np.arange(slots), restart))
                ids[restart] = np.arange(self.next_game_id, self.next_game_id + len(restart))
                self.next_game_id += len(restart)
                colours[restart], opening[restart] = self._start(ids[restart])
                started += len(restart)
        return self._experience(rec), stats

    def _experience(self, rec: _Recorder) -> Experience:
        if not rec.blocks:
            return empty_experience(self.rules.board_size)
        cols = {k: np.concatenate([b[k] for b in rec.blocks]) for k in rec.blocks[0]}
        order = np.lexsort((cols["move"], cols["game"]))
        cols = {k: v[order] for k, v in cols.items()}
        ended = np.concatenate(rec.ended_ids).astype(np.int64)
        sort = np.argsort(ended)
        which = sort[np.searchsorted(ended, cols["game"], sorter=sort)]
        player = cols["player"]
        black_r = np.concatenate(rec.black_result).astype(np.float32)[which]
        outcome = np.where(player == 1, black_r, -black_r).astype(np.float32)
        nxt, _ = successors(cols["game"], player, cols["move"], per_player=True)
        last = nxt < 0
        owner = np.concatenate(rec.owners)[which]
        ownership = np.where(owner == 0, 0, np.where(owner == player[:, None], 1, -1))
        return Experience(
            obs=cols["obs"], mask=cols["mask"], player=player, action=cols["action"],
            reward=np.where(last, outcome, 0).astype(np.float32), outcome=outcome,
            last=last, game=cols["game"], move=cols["move"],
            ownership=ownership.astype(np.int8),
            extras={k[2:]: v for k, v in cols.items() if k.startswith("x:")})


def _count(stats: SelfPlayStats, black_r: np.ndarray, colour: np.ndarray,
           moves: np.ndarray) -> None:
    """Add finished games (Black's results, the learner's colours, their lengths)."""
    stats.games += len(black_r)
    stats.black_wins += int((black_r > 0).sum())
    stats.white_wins += int((black_r < 0).sum())
    stats.draws += int((black_r == 0).sum())
    versus = colour != 0
    stats.opponent_games += int(versus.sum())
    stats.learner_score += float(np.where(colour == 2, -black_r, black_r)[versus].sum())
    stats.moves_per_game.extend(int(m) for m in moves)


def empty_experience(board_size: int) -> Experience:
    """An Experience with no rows, every field with its shape and dtype."""
    n, a = board_size, board_size * board_size + 1
    return Experience(obs=np.zeros((0, 17, n, n), np.uint8), mask=np.zeros((0, a), bool),
                      player=np.zeros(0, np.int8), action=np.zeros(0, np.int64),
                      reward=np.zeros(0, np.float32), outcome=np.zeros(0, np.float32),
                      last=np.zeros(0, bool), game=np.zeros(0, np.int64),
                      move=np.zeros(0, np.int32), ownership=np.zeros((0, n * n), np.int8))
