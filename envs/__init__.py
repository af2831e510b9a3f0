"""Go for reinforcement learning: a batched compiled engine, a PettingZoo AEC env and a
Gymnasium single-agent env."""

from rlgo.envs.engine import GoEngine, IllegalMoveError, Rules, StepResult, default_komi

__all__ = ["GoEngine", "IllegalMoveError", "Rules", "StepResult", "default_komi"]
