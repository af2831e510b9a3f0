"""The judge: action values Q*(s, a) of positions from a strong, fixed player, the ground
truth that credit assignment is measured against (:mod:`rlgo.analysis.credit`).

For a position s, every legal action a is played and the position reached is searched
with the judge's network (``simulations`` PUCT simulations each, batched over all the
children of many positions); ``Q*(s, a) = -V(s_a)``, the child's search value negated
(negamax: the child's value is for the opponent, who moves there), or, when a ends the
game, its Tromp-Taylor result for the mover (+1 / -1 / 0). Values are expected results in
[-1, 1] for the player to move at s.

Judging costs ``legal moves x simulations`` network evaluations per position, so values
are cached in a SQLite file keyed by the judge and the **full game state** (:func:`state_key`):
the board, the planes of the last 8 positions (the network sees them), the player to
move, passes and move count (the move cap), and the set of positions seen (positional
superko): two states with the same stones but a different history get different keys.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rlgo.envs._kernels as K
from rlgo.envs import GoEngine, Rules
from rlgo.learning.checks import check_config
from rlgo.learning.search import EvaluateFn, SearchConfig, run_search

CHUNK = 512
"""Child positions searched at once (the trees of a chunk are held in memory together)."""


def state_key(engine: GoEngine, g: int) -> bytes:
    """A digest of everything that decides the future of game ``g`` and what a network
    sees of it (module docstring)."""
    s, rules = engine.state, engine.rules
    h = hashlib.sha256()
    h.update(f"{rules.board_size}|{rules.komi!r}|{rules.superko}|{rules.max_moves}|".encode())
    h.update(s.chains[g, K.BOARD].astype(np.int8).tobytes())
    h.update(s.hist[g].tobytes())
    h.update(s.info[g, [K.TO_PLAY, K.PASSES, K.MOVES, K.DONE]].astype(np.int32).tobytes())
    seen = np.sort(s.htab[g][s.htab[g] != 0])
    h.update(seen.tobytes())
    return h.digest()


def replay(records: Sequence[np.ndarray], rules: Rules) -> GoEngine:
    """An engine whose game i is the position after ``records[i]`` (actions from the empty
    board); raises ValueError on an illegal action."""
    engine = GoEngine(max(1, len(records)), rules)
    one = GoEngine(1, rules)
    for i, record in enumerate(records):
        one.reset()
        for t, a in enumerate(record):
            if not one.legal[0, int(a)]:
                raise ValueError(f"record {i}: action {int(a)} at move {t} is illegal")
            one.step(np.array([int(a)]))
        engine.copy_game(one, 0, i)
    return engine


class JudgeCache:
    """Q* rows in a SQLite file: (judge id, state key) -> float32 [A] (NaN illegal)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS judge_values (judge TEXT NOT NULL, "
                         "state BLOB NOT NULL, q BLOB NOT NULL, PRIMARY KEY (judge, state))")
        self._db.commit()

    def get(self, judge: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = list(keys[i:i + 500])
            rows = self._db.execute(
                f"SELECT state, q FROM judge_values WHERE judge = ? AND state IN "
                f"({','.join('?' * len(part))})", [judge, *part]).fetchall()
            found.update({bytes(k): np.frombuffer(q, np.float32).copy() for k, q in rows})
        return found

    def put(self, judge: str, values: dict[bytes, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO judge_values VALUES (?, ?, ?)",
                [(judge, k, v.astype(np.float32).tobytes()) for k, v in values.items()])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM judge_values").fetchone()[0])

    def close(self) -> None:
        self._db.close()


@dataclass
class Judge:
    """Action values from ``evaluate`` with ``simulations`` simulations per child
    position (module docstring). ``name`` identifies the judge in the cache: two judges
    with the same name must give the same values."""

    rules: Rules
    evaluate: EvaluateFn
    simulations: int
    name: str
    cache: JudgeCache | None = None
    search: SearchConfig = SearchConfig()
    nn_evals: int = 0
    """Network evaluations spent so far (cache hits cost none)."""

    def __post_init__(self) -> None:
        check_config(self, positive=("simulations",))

    @property
    def cache_id(self) -> str:
        return f"{self.name}|sims={self.simulations}|{self.search!r}"

    def action_values(self, engine: GoEngine, games: np.ndarray) -> np.ndarray:
        """[B, A] float32 Q*(s, a) of the positions ``engine``'s games ``games``, for the
        player to move; NaN on illegal actions (a finished game's row is all NaN)."""
        games = np.asarray(games, np.int64)
        keys = [state_key(engine, int(g)) for g in games]
        known = self.cache.get(self.cache_id, keys) if self.cache is not None else {}
        out = np.full((len(games), self.rules.num_actions), np.nan, np.float32)
        todo = [i for i, k in enumerate(keys) if k not in known]
        for i, k in enumerate(keys):
            if k in known:
                out[i] = known[k]
        if todo:
            fresh = self._judge(engine, games[todo])
            out[todo] = fresh
            if self.cache is not None:
                self.cache.put(self.cache_id, {keys[i]: fresh[j] for j, i in enumerate(todo)})
        return out

    def _judge(self, engine: GoEngine, games: np.ndarray) -> np.ndarray:
        rules = self.rules
        out = np.full((len(games), rules.num_actions), np.nan, np.float32)
        parent, action = np.nonzero(engine.legal[games])  # a finished game has no legal move
        for start in range(0, len(parent), CHUNK):
            rows = slice(start, start + CHUNK)
            kids = GoEngine(len(parent[rows]), rules)
            kids.copy_game(engine, games[parent[rows]], np.arange(kids.num_games))
            mover = kids.to_play.copy()
            result = kids.step(action[rows].astype(np.int64))
            over = result.done
            q = np.where(mover == K.BLACK, result.rewards[:, 0],
                         result.rewards[:, 1]).astype(np.float32)  # a game it ended
            live = np.flatnonzero(~over)
            if len(live):
                found = run_search(kids, live, self.evaluate, self.search, self.simulations)
                q[live] = -found.value
                self.nn_evals += found.nn_evals
            out[parent[rows], action[rows]] = q
        return out


def oracle_advantage(q: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """A*(s, a) = Q*(s, a) - sum_b pi(b|s) Q*(s, b): how much better than the policy's
    own average at s the judge finds each action (NaN where Q* is)."""
    baseline = np.nansum(policy * np.nan_to_num(q), axis=1, keepdims=True)
    return (q - baseline).astype(np.float32)
