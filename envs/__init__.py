"""Go for reinforcement learning: a batched compiled engine (:class:`GoEngine`), a
PettingZoo AEC env (:mod:`rlgo.envs.go_v0`) and a Gymnasium single-agent env registered
as ``rlgo/Go-v0``. Search code calls the compiled kernels through
:mod:`rlgo.envs.kernels`. Beside them: GTP coordinates (:mod:`.coords`), ASCII boards
(:mod:`.text`), SGF in and out (:mod:`.sgf`), board pictures (:mod:`.render`) and the
thread pool's settings on busy cores (:mod:`.threads`)."""

from rlgo.envs import go_v0
from rlgo.envs.engine import (
    END_REASON_NAMES,
    END_REASONS,
    ILLEGAL_MOVE,
    RESIGN,
    GoEngine,
    IllegalMoveError,
    Rules,
    StepResult,
    default_komi,
)
from rlgo.envs.gym_env import GoGymEnv, register_envs

register_envs()

__all__ = ["END_REASONS", "END_REASON_NAMES", "GoEngine", "GoGymEnv", "ILLEGAL_MOVE",
           "IllegalMoveError", "RESIGN", "Rules", "StepResult", "default_komi", "go_v0",
           "register_envs"]
