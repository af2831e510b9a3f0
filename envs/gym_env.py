"""Go as a Gymnasium single-agent env: the agent plays one colour, a fixed policy the other.

>>> import gymnasium
>>> env = gymnasium.make("rlgo/Go-v0", board_size=5, opponent="random")
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(12)

The id is registered by :func:`register_envs` (called on ``import rlgo.envs``).

* Observation: [N, N, 17] uint8 planes from the agent's point of view, as in the AEC env
  (:mod:`rlgo.envs.go_v0`): for t = 0..7, plane 2t the agent's stones t moves ago, plane
  2t+1 the opponent's; plane 16 all 1 when the agent plays Black.
* Action: Discrete(N*N+1); ``r * N + c`` is row r (0 at the top), column c; N*N passes.
* Legal actions: :meth:`GoGymEnv.action_masks` ([N*N+1] bool, the hook sb3-contrib's
  MaskablePPO calls) and ``info["action_mask"]``. Once the game is over the mask holds
  pass alone, so a masked softmax never divides by zero.
* Reward: 0 during the game, then +1 win, -1 loss, 0 draw (score exactly 0), for the agent.
* End: ``terminated`` on two consecutive passes or at the move cap (scored: the cap is part
  of the rules, see go_v0), or on an illegal action; ``truncated`` is always False.
  ``info`` then holds ``end_reason``, ``score`` (Black minus White minus komi),
  ``winner`` ("black", "white" or None) and ``moves`` (both colours' moves played).
* Illegal action (occupied, suicide, superko): with ``illegal_action="lose"`` (default)
  the agent loses the game, reward -1 and ``end_reason`` ``"illegal_move"``, so that
  algorithms without masks can learn the rules and the env checker's unmasked random
  actions are valid input; with ``"raise"`` it raises
  :class:`~rlgo.envs.engine.IllegalMoveError` and the state is unchanged. An id outside
  the action space always raises.
* Opponent: ``"random"`` plays a uniformly random legal point and passes only when no point
  is legal (the usual playout policy: a random opponent that passes hands its groups
  away), or any callable ``(obs, mask, rng) -> action`` with ``obs`` [N, N, 17] uint8 from
  the opponent's point of view, ``mask`` [N*N+1] bool and ``rng`` the env's
  ``np_random`` (so ``reset(seed=...)`` makes the games reproducible). An illegal
  opponent action raises.
* ``agent_colour``: ``"black"``, ``"white"`` or ``"alternate"`` (Black on the first reset
  and on every seeded reset, then switching at every reset);
  ``reset(options={"agent_colour": "white"})`` overrides it for one game.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import index as _index
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from rlgo.envs import _kernels as K
from rlgo.envs.coords import action_to_gtp, action_to_rowcol
from rlgo.envs.engine import END_REASONS, ILLEGAL_MOVE, GoEngine, IllegalMoveError, Rules
from rlgo.envs.render import draw_board
from rlgo.envs.text import format_board

__all__ = ["ENV_ID", "GoGymEnv", "Opponent", "register_envs"]

ENV_ID = "rlgo/Go-v0"
Opponent = Callable[[np.ndarray, np.ndarray, np.random.Generator], int]
_COLOURS = {"black": K.BLACK, "white": K.WHITE}
_NAMES = {K.BLACK: "black", K.WHITE: "white"}


def register_envs() -> None:
    """Register ``rlgo/Go-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="rlgo.envs.gym_env:GoGymEnv")


def random_opponent(obs: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> int:
    """A uniformly random legal point; pass only when no point is legal."""
    return int(K.sample_legal(mask, False, rng.random()))


class GoGymEnv(gymnasium.Env):
    """One colour of a Go game against a fixed opponent policy (see the module docstring)."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}

    def __init__(self, board_size: int = 9, komi: float | None = None,
                 max_moves: int | None = None, superko: bool = True,
                 opponent: str | Opponent = "random", agent_colour: str = "black",
                 illegal_action: str = "lose", render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} "
                             f"or None, got {render_mode!r}")
        if agent_colour not in ("black", "white", "alternate"):
            raise ValueError(f"agent_colour must be 'black', 'white' or 'alternate', "
                             f"got {agent_colour!r}")
        if illegal_action not in ("lose", "raise"):
            raise ValueError(f"illegal_action must be 'lose' or 'raise', got {illegal_action!r}")
        if opponent == "random":
            opponent = random_opponent
        elif not callable(opponent):
            raise ValueError(f"opponent must be 'random' or a callable (obs, mask, rng) -> "
                             f"action, got {opponent!r}")
        self.rules = Rules(board_size=board_size, komi=komi, max_moves=max_moves,
                           superko=superko)
        self.opponent = opponent
        self.agent_colour = agent_colour
        self.illegal_action = illegal_action
        self.render_mode = render_mode
        n = self.rules.board_size
        self.observation_space = spaces.Box(0, 1, (n, n, K.NUM_PLANES), np.uint8)
        self.action_space = spaces.Discrete(n * n + 1)
        self._engine = GoEngine(1, self.rules)
        self._s, self._geo = tuple(self._engine.state), tuple(self._engine.geo)
        self._r = np.zeros(2, np.float32)
        self._mask = np.zeros(n * n + 1, np.bool_)
        self._me = K.BLACK
        self._games = 0
        self._over = True
        self._end_reason = ""

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:  # a seeded reset replays the same games, colours included
            self._games = 0
        colour = (options or {}).get("agent_colour", self.agent_colour)
        if colour == "alternate":
            colour = "black" if self._games % 2 == 0 else "white"
        if colour not in _COLOURS:
            raise ValueError(f"agent_colour must be 'black', 'white' or 'alternate', "
                             f"got {colour!r}")
        self._games += 1
        self._me = _COLOURS[colour]
        K.reset_single(self._s, self._geo)
        self._over, self._end_reason = True, ""  # until the opening move, if any, is made
        if self._me == K.WHITE:
            self._opponent_move()  # if it raises, step() asks for reset() again
        self._over = False
        return self._observe(), self._info()

    def step(self, action: int):
        if self._over:
            raise RuntimeError("the game is over: call reset()")
        a = _index(action)
        saved = [x.copy() for x in (*self._s, self._r)]  # to undo if the opponent fails
        code = K.play_single(self._s, a, self._geo, self._r)
        if code == K.OUT_OF_RANGE:
            raise IllegalMoveError(f"action {a} is outside the action space "
                                   f"0..{self.rules.pass_action}")
        if code > 0:
            if self.illegal_action == "raise":
                raise IllegalMoveError(
                    f"{action_to_gtp(a, self.rules.board_size)} (action {a}) is illegal: "
                    "occupied, suicide or positional superko; the state is unchanged")
            return self._end(ILLEGAL_MOVE, -1.0)
        if code != K.ENDED:
            code = self._opponent_move_or_undo(saved)
        if code == K.ENDED:
            reason = END_REASONS[int(self._engine.end_reason[0])]
            return self._end(reason, float(self._r[self._me - 1]))
        return self._observe(), 0.0, False, False, self._info()

    def action_masks(self) -> np.ndarray:
        """[N*N+1] bool legal actions of the agent (pass alone once the game is over)."""
        return self._mask.copy()

    @property
    def engine(self) -> GoEngine:
        """The one-game engine (read its views; step through the env)."""
        return self._engine

    # ------------------------------------------------------------------ internals
    def _observe(self, colour: int | None = None, mask_mode: int = K.MASK_LEGAL) -> np.ndarray:
        """Planes for ``colour`` (the agent's by default); ``self._mask`` becomes that
        colour's legal actions. Every step ends with the agent's, which action_masks()
        returns."""
        obs = np.empty(self.observation_space.shape, np.uint8)
        colour = self._me if colour is None else colour
        K.observe_single(self._s, colour, mask_mode, obs, self._mask)
        return obs

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self._mask.copy(), "agent_colour": _NAMES[self._me]}

    def _opponent_move_or_undo(self, saved: list[np.ndarray]) -> int:
        """:meth:`_opponent_move`; if the opponent raises, the agent's move is taken back
        (the state is as before :meth:`step`, the agent to move) and the error goes on."""
        try:
            return self._opponent_move()
        except BaseException:
            for live, old in zip((*self._s, self._r), saved, strict=True):
                live[...] = old
            self._observe()  # the agent's legal actions again
            raise

    def _opponent_move(self) -> int:
        """Let the opponent play one move; returns K.play_single's code (0 or K.ENDED)."""
        obs = self._observe(3 - self._me)
        action = _index(self.opponent(obs, self._mask.copy(), self.np_random))
        code = K.play_single(self._s, action, self._geo, self._r)
        if code > 0:
            raise IllegalMoveError(f"the opponent policy returned an illegal action {action}")
        return code

    def _end(self, reason: str, reward: float):
        self._over, self._end_reason = True, reason
        score = float(self._engine.scores()[0])
        winner = None if score == 0 else ("black" if score > 0 else "white")
        if reason == ILLEGAL_MOVE:
            winner = _NAMES[3 - self._me]
        obs = self._observe(mask_mode=K.MASK_PASS)  # also after an illegal move
        info = self._info() | {"end_reason": reason, "score": score, "winner": winner,
                               "moves": int(self._engine.moves[0])}
        return obs, reward, True, False, info

    # ------------------------------------------------------------------ rendering
    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode")
            return None
        n = self.rules.board_size
        board = self._engine.boards[0]
        last = int(self._engine.state.info[0, K.LAST_MOVE])
        last_rc = None if last < 0 else action_to_rowcol(last, n)
        if self.render_mode == "rgb_array":
            return draw_board(board, last_rc)
        header = (f"move {int(self._engine.moves[0])}, agent plays {_NAMES[self._me]}, "
                  + (f"game over ({self._end_reason})" if self._over else "game on"))
        if last >= 0:
            header += f", last move {action_to_gtp(last, n)}"
        return header + "\n" + format_board(board, last_rc)

    # ------------------------------------------------------------------ copies
    def __getstate__(self) -> dict:
        d = self.__dict__.copy()
        d.pop("_s"), d.pop("_geo")  # tuples of the engine's arrays, rebound on load
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._s, self._geo = tuple(self._engine.state), tuple(self._engine.geo)
