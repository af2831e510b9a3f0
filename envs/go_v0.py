"""Go as a PettingZoo AEC environment, over the compiled engine.

>>> from rlgo.envs import go_v0
>>> env = go_v0.env(board_size=9, komi=7.5)
>>> env.reset(seed=0)
>>> for agent in env.agent_iter():
...     obs, reward, termination, truncation, info = env.last()
...     action = None if termination or truncation else int(obs["action_mask"].argmax())
...     env.step(action)

Agents ``black_0`` (moves first) and ``white_0``. Action ``r * N + c`` puts a stone on row
r (0 at the top), column c; action ``N * N`` passes (PettingZoo's go_v5 ids).

Observation, for the agent asked (``observe(agent)``), a dict:

* ``"observation"``: [N, N, 17] uint8 planes (channels last). For t = 0..7, plane 2t holds
  the agent's own stones t moves ago and plane 2t+1 the opponent's (all zero before the
  first move); plane 16 is all 1 when the agent is Black. uint8 rather than go_v5's bool:
  it is what ``GoEngine.observations`` gives the training harness, so a network sees the
  same arrays in training and here.
* ``"action_mask"``: [N*N+1] int8, 1 for a legal action. Only the agent to move gets a
  non-zero mask. Once the game is over it holds pass alone (the action to send is then
  None), so a masked softmax never divides by zero.

Each call returns fresh arrays: keeping an observation is safe.

Rewards: 0 during the game; at the end +1 to the winner, -1 to the loser, 0 to both when
the Tromp-Taylor score (Black minus White minus komi) is exactly 0.

The game ends with ``terminations`` True for both agents, either on two consecutive
passes or on the move cap (``max_moves``, default 2 N^2, passes included). The capped
game is scored like a finished one, so it is a termination too, not a truncation: Go has
no time limit in its rules; the cap is part of this environment's rules (it is a
"rules" field the engine applies) and the value of the final position is known, so
bootstrapping past it would be wrong. ``truncations`` stay False.

``infos[agent]`` is ``{}`` during the game; at the end both hold ``end_reason``
(``"two_passes"``, ``"move_cap"`` or ``"illegal_move"``), ``score`` (Black minus White
minus komi, float), ``winner`` (an agent name or None for a draw) and ``moves``.

Illegal moves (occupied point, suicide, positional superko, an id outside 0..N*N):

* ``raw_env`` raises :class:`~rlgo.envs.engine.IllegalMoveError` (a ValueError) and the
  state is unchanged: search code can try a move and recover.
* ``env()`` applies PettingZoo's convention for classic games (TerminateIllegalWrapper):
  the offender gets -1, the other agent 0, the game ends (``end_reason``
  ``"illegal_move"``). An id outside the action space is a bug, not a move, and raises
  (AssertOutOfBoundsWrapper); stepping before ``reset`` raises and stepping after all
  agents are done warns (OrderEnforcingWrapper). These conventions are built into the
  class rather than stacked as the three wrappers because the wrappers cost about 20 us
  of Python per step, three times a whole step of ``env()`` (random play on 9x9: ~35,000
  steps/s wrapped, ~150,000 built in, go_v5 ~10,000). ``wrapped_env()`` builds the
  literal wrapper stack for anyone who wants it.
  Unlike TerminateIllegalWrapper we do not also set ``truncations`` on an illegal move:
  the game ended by its rules, it was not cut short.

Render modes: ``"ansi"`` returns the board as text with GTP coordinates, the last move in
parentheses; ``"rgb_array"`` returns an [H, W, 3] uint8 picture
(:func:`rlgo.envs.render.draw_board`).

The environment holds no module-level state: environments of different sizes coexist.
It supports ``copy.deepcopy`` and ``pickle`` (a copy continues identically), which tree
search needs; go_v5 supports neither.
"""

from __future__ import annotations

import warnings
from operator import index as _index
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from rlgo.envs import _kernels as K
from rlgo.envs.coords import action_to_gtp, action_to_rowcol
from rlgo.envs.engine import END_REASONS, ILLEGAL_MOVE, GoEngine, IllegalMoveError, Rules
from rlgo.envs.render import draw_board
from rlgo.envs.text import format_board

__all__ = ["env", "raw_env", "wrapped_env"]

AGENTS = ("black_0", "white_0")
_COLOUR = {"black_0": K.BLACK, "white_0": K.WHITE}
_OTHER = {"black_0": "white_0", "white_0": "black_0"}
_PER_GAME = frozenset({"agent_selection", "rewards", "terminations", "truncations", "infos",
                       "_cumulative_rewards", "_s", "_geo", "_r"})


def env(**kwargs: Any) -> raw_env:
    """The environment with PettingZoo's classic-game conventions (see the module
    docstring): an illegal move loses the game instead of raising."""
    return raw_env(illegal_move="lose", **kwargs)


def wrapped_env(**kwargs: Any) -> AECEnv:
    """``raw_env`` inside PettingZoo's own wrapper stack, as ``go_v5.env()`` builds it.
    Same behaviour as :func:`env`, slower (each wrapper adds Python calls per step)."""
    e = raw_env(**kwargs)
    e = wrappers.TerminateIllegalWrapper(e, illegal_reward=-1)
    e = wrappers.AssertOutOfBoundsWrapper(e)
    return wrappers.OrderEnforcingWrapper(e)


class raw_env(AECEnv):  # noqa: N801 - PettingZoo's module convention
    """Go, one game, two agents. See the module docstring for the conventions."""

    metadata = {
        "name": "go_v0",
        "render_modes": ["ansi", "rgb_array"],
        "is_parallelizable": False,
        "render_fps": 2,
    }

    def __init__(self, board_size: int = 9, komi: float | None = None,
                 max_moves: int | None = None, superko: bool = True,
                 render_mode: str | None = None, illegal_move: str = "raise"):
        """``komi`` None takes the engine's default for the size (7.5 on 9x9 and 19x19);
        ``max_moves`` None means 2 N^2. ``illegal_move`` is ``"raise"`` (raw_env) or
        ``"lose"`` (env(): PettingZoo's TerminateIllegal convention)."""
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} "
                             f"or None, got {render_mode!r}")
        if illegal_move not in ("raise", "lose"):
            raise ValueError(f"illegal_move must be 'raise' or 'lose', got {illegal_move!r}")
        self.rules = Rules(board_size=board_size, komi=komi, max_moves=max_moves,
                           superko=superko)
        self.render_mode = render_mode
        self.illegal_move = illegal_move
        n = self.rules.board_size
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self.observation_spaces = {a: spaces.Dict({
            "observation": spaces.Box(0, 1, (n, n, K.NUM_PLANES), np.uint8),
            "action_mask": spaces.Box(0, 1, (n * n + 1,), np.int8),
        }) for a in AGENTS}
        self.action_spaces = {a: spaces.Discrete(n * n + 1) for a in AGENTS}
        self._engine: GoEngine | None = None
        self._ended = True  # routes step() to the slow path until reset()
        self._mask_mode = K.MASK_PASS  # of the agent to move: K.MASK_PASS once the game is over
        self._has_reset = False
        self._end_reason = ""
        self.np_random, self.np_random_seed = seeding.np_random(None)

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Dict:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    @property
    def engine(self) -> GoEngine:
        """The underlying one-game engine (read its views; step through the env)."""
        if self._engine is None:
            raise RuntimeError("call reset() first")
        return self._engine

    # ------------------------------------------------------------------ AEC API
    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """A new game, Black to move. ``seed`` seeds ``np_random`` and the action spaces
        (the game itself has no randomness)."""
        if seed is not None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
            for i, a in enumerate(AGENTS):
                self.action_spaces[a].seed(seed + i)
        if self._engine is None:
            self._engine = GoEngine(1, self.rules)
            self._bind()
        else:
            K.reset_single(self._s, self._geo)
        self.agents = list(AGENTS)
        self.agent_selection = AGENTS[0]
        self.rewards = {a: 0.0 for a in AGENTS}
        self._cumulative_rewards = {a: 0.0 for a in AGENTS}
        self.terminations = {a: False for a in AGENTS}
        self.truncations = {a: False for a in AGENTS}
        self.infos = {a: {} for a in AGENTS}
        self._skip_agent_selection = None
        self._ended, self._mask_mode = False, K.MASK_LEGAL
        self._end_reason = ""
        self._has_reset = True

    def _bind(self) -> None:
        """Cache what the hot path passes to the kernels (rebuilt after unpickling)."""
        eng = self._engine
        self._s, self._geo = tuple(eng.state), tuple(eng.geo)
        self._r = np.zeros(2, np.float32)
        n = self.rules.board_size
        self._obs_shape = (n, n, K.NUM_PLANES)
        self._mask_len = n * n + 1

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        obs = np.empty(self._obs_shape, np.uint8)
        mask = np.empty(self._mask_len, np.int8)
        mode = self._mask_mode if agent == self.agent_selection else K.MASK_NONE
        K.observe_single(self._s, _COLOUR[agent], mode, obs, mask)
        return {"observation": obs, "action_mask": mask}

    def step(self, action: int | None) -> None:
        if self._ended:  # game over or not started: PettingZoo's dead-step protocol
            return self._step_ended(action)
        try:
            a = _index(action)
        except TypeError:
            raise TypeError(f"action must be an integer in 0..{self._mask_len - 1}, "
                            f"got {action!r}") from None
        code = K.play_single(self._s, a, self._geo, self._r)
        if code > 0:
            return self._refuse(a, code)
        self.agent_selection = _OTHER[self.agent_selection]
        if code == K.ENDED:
            self._finish(END_REASONS[int(self._engine.end_reason[0])])

    def agent_iter(self, max_iter: int = 2**63):
        if not self._has_reset:
            raise RuntimeError("call reset() before agent_iter()")
        return super().agent_iter(max_iter)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the per-game attributes before reset().
        if name in _PER_GAME:
            raise AttributeError(f"{name} cannot be accessed before reset()")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _step_ended(self, action: int | None) -> None:
        if not self._has_reset:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            warnings.warn("step() called after all agents are done; call reset()",
                          stacklevel=3)
            return None
        self._was_dead_step(action)

    def _refuse(self, a: int, code: int) -> None:
        n = self.rules.board_size
        if code == K.OUT_OF_RANGE:  # a bug in the caller, never a move
            raise IllegalMoveError(f"action {a} is outside the action space 0..{n * n}")
        if self.illegal_move == "raise":
            raise IllegalMoveError(
                f"{self.agent_selection} cannot play {action_to_gtp(a, n)} (action {a}): "
                "occupied, suicide or positional superko; the state is unchanged")
        offender = self.agent_selection
        self.rewards = {agent: 0.0 for agent in AGENTS}
        self.rewards[offender] = -1.0
        self._cumulative_rewards[offender] = 0.0
        self.agent_selection = _OTHER[offender]
        self._end(ILLEGAL_MOVE, winner=_OTHER[offender])

    def _finish(self, reason: str) -> None:
        """Score the game the engine just ended."""
        black = float(self._r[0])
        self.rewards = {"black_0": black, "white_0": -black}
        winner = None if black == 0 else ("black_0" if black > 0 else "white_0")
        self._end(reason, winner)

    def _end(self, reason: str, winner: str | None) -> None:
        self._ended, self._end_reason, self._mask_mode = True, reason, K.MASK_PASS
        self.terminations = {a: True for a in AGENTS}
        self._accumulate_rewards()
        score = float(self._engine.scores()[0])
        moves = int(self._engine.moves[0])
        self.infos = {a: {"end_reason": reason, "score": score, "winner": winner,
                          "moves": moves} for a in AGENTS}

    # ------------------------------------------------------------------ rendering
    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            warnings.warn("render() called without a render_mode", stacklevel=2)
            return None
        eng = self.engine
        n = self.rules.board_size
        board = eng.boards[0]
        last = int(eng.state.info[0, K.LAST_MOVE])
        last_rc = None if last < 0 else action_to_rowcol(last, n)
        if self.render_mode == "rgb_array":
            return draw_board(board, last_rc)
        header = f"move {int(eng.moves[0])}, " + (
            f"game over ({self._end_reason})"
            if self._ended else f"{self.agent_selection} to play")
        if last >= 0:
            header += f", last move {action_to_gtp(last, n)}"
        return header + "\n" + format_board(board, last_rc)

    def close(self) -> None:
        """Nothing to release: rendering draws with numpy only."""

    # ------------------------------------------------------------------ copies
    def __getstate__(self) -> dict:
        d = self.__dict__.copy()
        for k in ("_s", "_geo", "_r"):  # the engine's arrays, rebound by _bind()
            d.pop(k, None)
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        if self._engine is not None:
            self._bind()

    def __str__(self) -> str:
        return self.metadata["name"]
