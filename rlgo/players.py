"""Players from short strings, as typed on the command line (``rlgo arena random gnugo:3``).

=============================  =====================================================
``random``                     uniform over the legal points, the Elo anchor (0)
``rollout:<playouts>``         UCT with random rollouts, e.g. ``rollout:200``
``gnugo:<level>``              GNU Go 3.8 at level 0..10, e.g. ``gnugo:10``
``<checkpoint>[:greedy]``      a trained network playing its most probable move
``<checkpoint>:sample``        the same network sampling from its policy
``<checkpoint>:search=<n>``    the network with n simulations of PUCT tree search per
                               move, playing the most visited move
                               (:class:`rlgo.agents.mcts.MCTSPlayer`)
=============================  =====================================================

A checkpoint's player name is its path as typed, normalised, plus ``:sample`` when it
samples (:func:`rlgo.agents.network_player.checkpoint_player_name`) or ``:search=<n>``
when it searches.
"""

from __future__ import annotations

from pathlib import Path

from rlgo.envs import Rules
from rlgo.protocols import Player

__all__ = ["VALID_FORMS", "PlayerSpecError", "make_player"]

VALID_FORMS = (
    "random",
    "rollout:<playouts>",
    "gnugo:<level 0..10>",
    "<checkpoint.pt>[:greedy|:sample|:search=<simulations>]",
)
"""The player specifications :func:`make_player` accepts, for error messages and help."""

_CHECKPOINT_OPTIONS = ("greedy", "sample")


class PlayerSpecError(ValueError):
    """A player specification is malformed or names no known kind of player."""


def _forms() -> str:
    return "valid forms: " + ", ".join(VALID_FORMS)


def _int_argument(spec: str, value: str, what: str, lo: int, hi: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < lo or (hi is not None and number > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise PlayerSpecError(f"{spec!r}: {what} must be an integer {bound}, got {value!r}")
    return number


def make_player(spec: str, rules: Rules, seed: int = 0) -> Player:
    """The player that ``spec`` names (module docstring), set up for ``rules``.

    Raises:
        PlayerSpecError: malformed spec, unknown name or option (the message lists the
            valid forms).
        CheckpointError: the checkpoint file is missing, corrupt or not an rlgo checkpoint.
        ValueError: the checkpoint was trained on another board size than ``rules``'.
        GnuGoError: GNU Go cannot be started.
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if spec == "random":
        from rlgo.agents.random_player import RandomPlayer

        return RandomPlayer(seed)
    if kind == "rollout":
        from rlgo.agents.rollout_mcts import RolloutMCTSPlayer

        return RolloutMCTSPlayer(_int_argument(spec, arg, "playouts", 1), rules, seed)
    if kind == "gnugo":
        from rlgo.agents.gnugo_player import MAX_LEVEL, GnuGoPlayer

        return GnuGoPlayer(_int_argument(spec, arg, "the level", 0, MAX_LEVEL), rules, seed=seed)
    return _checkpoint_player(spec, rules, seed)


def _split_checkpoint(spec: str) -> tuple[str, list[str]]:
    """(path, options): the longest ``:``-separated prefix that is a file is the path."""
    parts = spec.split(":")
    for cut in range(len(parts), 0, -1):
        if Path(":".join(parts[:cut])).is_file():
            return ":".join(parts[:cut]), parts[cut:]
    return parts[0], parts[1:]


def _checkpoint_player(spec: str, rules: Rules, seed: int) -> Player:
    from rlgo.agents.network_player import NetworkPlayer

    path, options = _split_checkpoint(spec)
    if not Path(path).exists() and "/" not in path and "." not in path:
        raise PlayerSpecError(f"unknown player {spec!r}; {_forms()}")
    simulations = None
    for option in options:
        if option.startswith("search="):
            simulations = _int_argument(spec, option[len("search="):], "search", 1)
        elif option not in _CHECKPOINT_OPTIONS:
            raise PlayerSpecError(f"{spec!r}: unknown checkpoint option {option!r} (known: "
                                  f"{', '.join(_CHECKPOINT_OPTIONS)}, search=<n>); {_forms()}")
    if len(set(options)) > 1:
        raise PlayerSpecError(f"{spec!r}: choose one of :greedy and :sample, or :search=<n> "
                              "alone")
    if simulations is not None:
        from rlgo.agents.mcts import MCTSPlayer

        player = MCTSPlayer.from_checkpoint(path, simulations, seed=seed)
    else:
        player = NetworkPlayer.from_checkpoint(path, greedy="sample" not in options,
                                               seed=seed)
    trained = player.rules
    if trained is not None and trained.board_size != rules.board_size:
        n, m = trained.board_size, rules.board_size
        raise ValueError(f"checkpoint {path} was trained on {n}x{n}; this arena plays {m}x{m}")
    return player
