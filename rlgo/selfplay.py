"""Batched self-play: many games at once on one :class:`~rlgo.envs.GoEngine`.

The learner's player moves for its side(s); an optional opponent (a fixed player or a
past snapshot) moves for the other side, with the learner's colour alternating game by
game. Every move of a real game counts one ``env_step``, whoever made it. Finished games
come back as :class:`~rlgo.protocols.Experience` rows for the learner's moves only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rlgo.envs import GoEngine, Rules
from rlgo.protocols import Experience, Player, Positions


@dataclass
class _Trajectory:
    """Rows recorded in one game slot, learner moves only."""

    obs: list = field(default_factory=list)
    mask: list = field(default_factory=list)
    player: list = field(default_factory=list)
    action: list = field(default_factory=list)
    move: list = field(default_factory=list)
    extras: dict[str, list] = field(default_factory=dict)
    owner: np.ndarray | None = None
    """[N*N] int8 final Tromp-Taylor owner of each point (0 / BLACK / WHITE)."""


@dataclass
class SelfPlayStats:
    """What a call to :meth:`SelfPlay.play` consumed."""

    env_steps: int = 0
    games: int = 0
    nn_evals: int = 0
    black_wins: int = 0
    white_wins: int = 0
    draws: int = 0
    learner_score: float = 0.0
    """Sum over games of the learner's result (+1/-1/0), against the opponent if any."""
    moves_per_game: list[int] = field(default_factory=list)


class SelfPlay:
    """Plays games in ``parallel`` slots until a requested number has finished."""

    def __init__(self, rules: Rules, parallel: int, learner: Player,
                 opponent: Player | None = None, first_game_id: int = 0) -> None:
        self.rules = rules
        self.parallel = parallel
        self.learner = learner
        self.opponent = opponent
        self.next_game_id = first_game_id

    def _learner_colour(self, game_id: int) -> int:
        """0 when the learner plays both colours, else 1 (Black) or 2 (White) alternating."""
        if self.opponent is None:
            return 0
        return 1 if game_id % 2 == 0 else 2

    def play(self, num_games: int) -> tuple[Experience, SelfPlayStats]:
        """Play exactly ``num_games`` games to the end (slots are not refilled past it,
        so short games are not over-represented)."""
        slots = min(self.parallel, num_games)
        eng = GoEngine(slots, self.rules)
        ids = np.array([self._take_id() for _ in range(slots)])
        started = slots
        trajs = [_Trajectory() for _ in range(slots)]
        live = np.ones(slots, bool)
        finished: list[tuple[int, int, float, _Trajectory]] = []  # (id, colour, black_r, traj)
        stats = SelfPlayStats()
        while live.any():
            obs = eng.observations()
            actions = np.full(slots, -1, np.int64)
            colours = np.array([self._learner_colour(i) for i in ids])
            learner_turn = live & ((colours == 0) | (colours == eng.to_play))
            for who, rows in ((self.learner, np.flatnonzero(learner_turn)),
                              (self.opponent, np.flatnonzero(live & ~learner_turn))):
                if len(rows) == 0:
                    continue
                pos = Positions(obs[rows], eng.legal[rows].copy(), eng, rows)
                decision = who.act(pos)
                stats.nn_evals += decision.nn_evals
                actions[rows] = decision.actions
                if who is self.learner:
                    self._record(trajs, rows, pos, eng, decision)
            result = eng.step(actions)
            stats.env_steps += int(live.sum())
            ended = np.flatnonzero(live & result.done)
            owners = eng.owners() if len(ended) else None
            for s in ended:
                trajs[s].owner = owners[s]
                finished.append((int(ids[s]), int(colours[s]), float(result.rewards[s, 0]),
                                 trajs[s]))
                stats.moves_per_game.append(int(eng.moves[s]))
                if started < num_games:
                    eng.reset(np.arange(slots) == s)
                    ids[s] = self._take_id()
                    trajs[s] = _Trajectory()
                    started += 1
                else:
                    live[s] = False
        finished.sort(key=lambda t: t[0])
        for _, colour, black_r, _ in finished:
            stats.games += 1
            stats.black_wins += black_r > 0
            stats.white_wins += black_r < 0
            stats.draws += black_r == 0
            stats.learner_score += black_r if colour != 2 else -black_r
        return self._experience(finished), stats

    def _take_id(self) -> int:
        self.next_game_id += 1
        return self.next_game_id - 1

    @staticmethod
    def _record(trajs, rows, pos: Positions, eng: GoEngine, decision) -> None:
        for j, s in enumerate(rows):
            t = trajs[s]
            t.obs.append(pos.obs[j])
            t.mask.append(pos.mask[j])
            t.player.append(int(eng.to_play[s]))
            t.action.append(int(decision.actions[j]))
            t.move.append(int(eng.moves[s]))
            for k, v in decision.extras.items():
                t.extras.setdefault(k, []).append(v[j])

    def _experience(self, finished) -> Experience:
        n = self.rules.board_size
        cols: dict[str, list] = {k: [] for k in
                                 ("obs", "mask", "player", "action", "move", "game",
                                  "outcome", "reward", "last", "ownership")}
        extras: dict[str, list] = {}
        for game_id, _colour, black_r, t in finished:
            if not t.action:
                continue
            player = np.asarray(t.player, np.int8)
            outcome = np.where(player == 1, black_r, -black_r).astype(np.float32)
            last = np.zeros(len(player), bool)
            for c in (1, 2):  # each colour's final move ends its episode
                idx = np.flatnonzero(player == c)
                if len(idx):
                    last[idx[-1]] = True
            cols["obs"].append(np.stack(t.obs))
            cols["mask"].append(np.stack(t.mask))
            cols["player"].append(player)
            cols["action"].append(np.asarray(t.action, np.int64))
            cols["move"].append(np.asarray(t.move, np.int32))
            cols["game"].append(np.full(len(player), game_id, np.int64))
            cols["outcome"].append(outcome)
            cols["reward"].append(np.where(last, outcome, 0).astype(np.float32))
            cols["last"].append(last)
            owner = t.owner[None, :]
            cols["ownership"].append(np.where(owner == 0, 0, np.where(
                owner == player[:, None], 1, -1)).astype(np.int8))
            for k, v in t.extras.items():
                extras.setdefault(k, []).append(np.stack(v))
        if not cols["action"]:
            a = n * n + 1
            empty = {"obs": np.zeros((0, 17, n, n), np.uint8), "mask": np.zeros((0, a), bool),
                     "player": np.zeros(0, np.int8), "action": np.zeros(0, np.int64),
                     "move": np.zeros(0, np.int32), "game": np.zeros(0, np.int64),
                     "outcome": np.zeros(0, np.float32), "reward": np.zeros(0, np.float32),
                     "last": np.zeros(0, bool), "ownership": np.zeros((0, n * n), np.int8)}
            return Experience(**empty)
        return Experience(**{k: np.concatenate(v) for k, v in cols.items()},
                          extras={k: np.concatenate(v) for k, v in extras.items()})
