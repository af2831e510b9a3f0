"""The harness that trains any learner: batched self-play, the loop (learn, evaluate,
checkpoint, resume), run directories, sample games as SGF, configs and ``--set``."""

from rlgo.training.config import RunConfigs, TrainConfig, apply_overrides, read_config_file
from rlgo.training.loop import (
    Trainer,
    build_trainer,
    load_run_configs,
    resolve_configs,
)
from rlgo.training.runs import COUNTERS, Counters, RunDir, load_metrics
from rlgo.training.selfplay import SelfPlay, SelfPlayStats

__all__ = ["COUNTERS", "Counters", "RunConfigs", "RunDir", "SelfPlay", "SelfPlayStats",
           "TrainConfig", "Trainer", "apply_overrides", "build_trainer", "load_metrics",
           "load_run_configs", "read_config_file", "resolve_configs"]
