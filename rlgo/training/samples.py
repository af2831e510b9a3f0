"""Self-play games saved as SGF, so a user can open what the learner practised on.

At every evaluation the trainer writes the first ``train.sgf_samples`` games that ended in
the latest iteration to ``<out>/games/step_<env_steps>_game_<id>.sgf``. Each move carries a
comment with what the learner's decision recorded for it, where it recorded anything:
the search's top moves and their weights (the MCTS learner's training target), the
network's value of the position and the search's value (from the mover's view).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sgfmill import sgf

from rlgo.envs import Rules
from rlgo.envs.coords import action_to_gtp
from rlgo.envs.sgf import game_to_sgf, result_string
from rlgo.protocols import Experience
from rlgo.training.selfplay import SelfPlayStats

TOP_MOVES = 3
"""Moves of the search target listed in each comment."""


def sample_path(folder: Path, env_steps: int, game: int) -> Path:
    return folder / f"step_{env_steps:012d}_game_{game}.sgf"


def write_sgf_samples(folder: Path, env_steps: int, rules: Rules, batch: Experience,
                      stats: SelfPlayStats, count: int, player: str) -> list[Path]:
    """Write up to ``count`` of ``stats.finished``'s games (module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for game, actions, score in stats.finished[:count]:
        text = game_to_sgf(actions, rules, black=player, white=player,
                           result=result_string(score),
                           comment=f"rlgo self-play, game {game}, after {env_steps} env steps")
        comments = _comments(batch, game, rules)
        if comments:
            text = _with_comments(text, comments)
        path = sample_path(folder, env_steps, game)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        paths.append(path)
    return paths


def _comments(batch: Experience, game: int, rules: Rules) -> dict[int, str]:
    """Move index -> comment, from the decision extras recorded for that move."""
    rows = np.flatnonzero(batch.game == game)
    out = {}
    for r in rows:
        parts = []
        weight = batch.extras.get("policy_weight")
        if "policy" in batch.extras and (weight is None or weight[r] > 0):  # a full search
            target = batch.extras["policy"][r]
            top = np.argsort(-target)[:TOP_MOVES]
            parts.append("search: " + ", ".join(
                f"{action_to_gtp(int(a), rules.board_size)} {target[a]:.2f}"
                for a in top if target[a] > 0))
        for key, label in (("value", "value"), ("search_value", "search value")):
            if key in batch.extras:
                parts.append(f"{label} {float(batch.extras[key][r]):+.2f}")
        if parts:
            out[int(batch.move[r])] = "; ".join(parts)
    return out


def _with_comments(text: str, comments: dict[int, str]) -> str:
    """``text`` with comment ``comments[i]`` on the node of move i (0-based)."""
    game = sgf.Sgf_game.from_string(text)
    for i, node in enumerate(game.get_main_sequence()[1:]):
        if i in comments:
            node.set("C", comments[i])
    return game.serialise().decode("utf-8")
