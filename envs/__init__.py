"""Go for reinforcement learning: a batched compiled engine (:class:`GoEngine`), a
PettingZoo AEC env (:mod:`rlgo.envs.go_v0`) and a Gymnasium single-agent env registered
as ``rlgo/Go-v0``."""

from rlgo.envs import go_v0
from rlgo.envs.engine import GoEngine, IllegalMoveError, Rules, StepResult, default_komi
from rlgo.envs.gym_env import GoGymEnv, register_envs

register_envs()

__all__ = ["GoEngine", "GoGymEnv", "IllegalMoveError", "Rules", "StepResult", "default_komi",
           "go_v0", "register_envs"]
