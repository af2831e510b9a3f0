"""What every learner shares: the policy-value network, batched tree search, D4
augmentation, episode structure and negamax returns, a bounded replay buffer, the
snapshot and checkpoint files (:mod:`.files`), the helpers for the optional credit
protocol (:mod:`.credit`) and the configs' range checks (:mod:`.checks`). Nothing here
knows of the harness."""

from rlgo.learning.augment import augment
from rlgo.learning.episodes import (
    episode_ids,
    gae,
    n_step_returns,
    n_step_targets,
    successors,
    terminal_rewards,
)
from rlgo.learning.files import CheckpointError, load_file, save_file
from rlgo.learning.network import NetConfig, PolicyValueNet, masked_log_softmax
from rlgo.learning.replay import ReplayBuffer
from rlgo.learning.search import SearchConfig, SearchOutput, run_search

__all__ = ["CheckpointError", "NetConfig", "PolicyValueNet", "ReplayBuffer", "SearchConfig",
           "SearchOutput", "augment", "episode_ids", "gae", "load_file", "masked_log_softmax",
           "n_step_returns", "n_step_targets", "run_search", "save_file", "successors",
           "terminal_rewards"]
