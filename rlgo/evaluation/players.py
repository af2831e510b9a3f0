"""Players from short strings, as typed on the command line (``rlgo arena random gnugo:3``).

=============================  =====================================================
``random``                     uniform over the legal points, the Elo anchor (0)
``rollout:<playouts>``         UCT with random rollouts, e.g. ``rollout:200``
``gnugo:<level>``              GNU Go 3.8 at level 0..10, e.g. ``gnugo:10``
``gnugo-mc:<playouts>``        GNU Go's Monte Carlo move generator with that many
                               playouts per move, boards up to 9x9, e.g.
                               ``gnugo-mc:8000`` (80,000 beat ``gnugo:10`` on 7x7)
``pachi:<playouts>``           Pachi with that many playouts per move on one thread,
                               500 or more (Pachi's minimum), e.g. ``pachi:1000``
                               (:mod:`rlgo.agents.pachi_player`)
``gtp:<command line>``         any GTP engine, its command line split as a shell would
                               (``shlex.split``, but run without one), e.g.
                               ``gtp:/usr/games/gnugo --mode gtp --level 3``
                               (:mod:`rlgo.agents.gtp_player`)
``mix:<player>:<e>``           any other player's move with probability 1 - e, a uniform
                               random legal move with probability e (e in [0, 1]),
                               e.g. ``mix:gnugo:0:0.5`` (:mod:`rlgo.agents.mixed_player`)
``<checkpoint>[:greedy]``      a snapshot or checkpoint of any learner playing its best
                               move (a policy's argmax, a Q-learner's argmax over Q)
``<checkpoint>:sample``        the same snapshot sampling from its policy
``<checkpoint>:search=<n>``    its network with n simulations of PUCT tree search per
                               move, playing the most visited move
                               (:class:`rlgo.agents.search_player.SearchPlayer`)
=============================  =====================================================

A GTP engine plays under the name ``gtp:`` + its command line re-joined by
``shlex.join`` (quoting normalised), so one engine keeps one row of the Elo table.

**Programs named in files.** A ``gtp:`` spec runs the program it names. Typed on the
command line (``rlgo arena``, ``rlgo gtp``, ``rlgo ladder calibrate``) that is the user's
choice; but a spec read from a file (a reference table's anchors, a study's ladder or
league anchors, a config or search file's ``train.eval_ladder``) is data someone may
have shared, so those commands refuse it unless their own command line says
``--allow-commands`` (:func:`refuse_programs`).

A checkpoint's player name is its path as typed, normalised, plus ``:sample`` when it
samples (:func:`rlgo.agents.network_player.checkpoint_player_name`) or ``:search=<n>``
when it searches. The file names its agent, which rebuilds the player
(:func:`snapshot_player`, through :mod:`rlgo.registry`). A learner named by module path
(``package.module:make``) is imported only if the caller passes that module in
``agents``, i.e. the user named it (``--agent-module``, a study's ``learner``); a module
named only inside the file is refused, with the option to name it.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from rlgo.agents.gnugo_player import MAX_LEVEL, GnuGoPlayer
from rlgo.agents.gtp_player import GTPPlayer
from rlgo.agents.mixed_player import MixedPlayer
from rlgo.agents.network_player import checkpoint_player_name
from rlgo.agents.pachi_player import MIN_PLAYOUTS as PACHI_MIN_PLAYOUTS
from rlgo.agents.pachi_player import PachiPlayer, find_pachi
from rlgo.agents.random_player import RandomPlayer
from rlgo.agents.rollout_mcts import RolloutMCTSPlayer
from rlgo.envs import Rules
from rlgo.errors import RlgoError
from rlgo.gtp.client import GNUGO_PATH
from rlgo.learning.files import load_file
from rlgo.learning.network import NetConfig
from rlgo.protocols import Player, describe
from rlgo.registry import (
    LearnerEntry,
    UnknownAgentError,
    config_from_dict,
    get_learner,
    is_module_path,
    module_spec,
)

__all__ = ["ALLOW_COMMANDS", "VALID_FORMS", "PlayerSpecError", "checkpoint_rules",
           "make_player", "refuse_programs", "runs_program"]

VALID_FORMS = (
    "random",
    "rollout:<playouts>",
    "gnugo:<level 0..10>",
    "gnugo-mc:<playouts>",
    "pachi:<playouts>",
    "gtp:<engine command line>",
    "mix:<player>:<random share 0..1>",
    "<checkpoint.pt>[:greedy|:sample|:search=<simulations>]",
)
"""The player specifications :func:`make_player` accepts, for error messages and help."""

_CHECKPOINT_OPTIONS = ("greedy", "sample")

PROGRAM_KINDS = ("gtp",)
"""Spec kinds whose argument is a command line that rlgo runs."""

ALLOW_COMMANDS = "--allow-commands"
"""The command-line flag that lets a file's specs run programs (module docstring)."""


class PlayerSpecError(RlgoError, ValueError):
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


def make_player(spec: str, rules: Rules, seed: int = 0, *, agents: Sequence[str] = ()
                ) -> Player:
    """The player that ``spec`` names (module docstring), set up for ``rules``. ``agents``:
    third-party learner modules (``package.module:make``) the user named, whose snapshots
    may be loaded.

    Raises:
        PlayerSpecError: malformed spec, unknown name or option (the message lists the
            valid forms).
        CheckpointError: the checkpoint file is missing, corrupt or not an rlgo checkpoint.
        UnknownAgentError: the checkpoint's agent is not registered here, or is a module
            path not in ``agents`` (a ValueError).
        ValueError: the checkpoint was trained on another board size than ``rules``', or
            ``gnugo-mc`` on a board over 9x9.
        GTPPlayerError: GNU Go, Pachi or the GTP engine cannot be started or does not
            speak GTP (``GnuGoError`` is the same class).
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if spec == "random":
        return RandomPlayer(seed)
    if kind == "rollout":
        return RolloutMCTSPlayer(_int_argument(spec, arg, "playouts", 1), rules, seed)
    if kind == "gnugo":
        return GnuGoPlayer(_int_argument(spec, arg, "the level", 0, MAX_LEVEL), rules, seed=seed)
    if kind == "gnugo-mc":
        return GnuGoPlayer.monte_carlo(_int_argument(spec, arg, "playouts", 1), rules,
                                       seed=seed)
    if kind == "pachi":
        return PachiPlayer(_int_argument(spec, arg, "playouts", PACHI_MIN_PLAYOUTS), rules,
                           seed=seed)
    if kind == "gtp":
        return GTPPlayer(_command_line(spec, arg), rules, seed=seed)
    if kind == "mix":
        inner, epsilon = _mix_arguments(spec, arg)
        return MixedPlayer(make_player(inner, rules, seed, agents=agents), epsilon, seed)
    return _checkpoint_player(spec, rules, seed, agents)


def _mix_arguments(spec: str, arg: str) -> tuple[str, float]:
    """(the strong player's spec, the random share) of ``mix:<player>:<e>``."""
    inner, _, value = arg.rpartition(":")
    if not inner.strip():
        raise PlayerSpecError(f"{spec!r}: mix: needs a player and a random share, e.g. "
                              "mix:gnugo:0:0.5")
    try:
        epsilon = float(value)
    except ValueError:
        epsilon = math.nan
    if not 0.0 <= epsilon <= 1.0:  # NaN fails too
        raise PlayerSpecError(f"{spec!r}: the random share must be a number in [0, 1], "
                              f"got {value!r}")
    return inner.strip(), epsilon


def runs_program(spec: str) -> bool:
    """Whether ``spec`` runs a program it names (:data:`PROGRAM_KINDS`), as opposed to a
    built-in player, a built-in engine at a fixed path or a checkpoint file; a ``mix:``
    runs one when its strong player does."""
    kind, _, arg = spec.strip().partition(":")
    if kind == "mix":
        return runs_program(arg.rpartition(":")[0])
    return kind in PROGRAM_KINDS


def refuse_programs(specs: Iterable[str], where: str, allowed: bool = False) -> None:
    """PlayerSpecError naming ``where`` (the file and key the specs were read from) for
    the first spec of ``specs`` that runs a program, unless ``allowed`` (the user said
    :data:`ALLOW_COMMANDS`; module docstring)."""
    found = [s for s in specs if runs_program(s)]
    if found and not allowed:
        raise PlayerSpecError(
            f"{where} names {found[0]!r}, which runs a program: a spec read from a file "
            f"is data, so rlgo runs it only when the command line says {ALLOW_COMMANDS} "
            "(read the file first, then rerun with it)")


def missing_program(spec: str) -> str | None:
    """Why the engine that a built-in engine spec (``gnugo``, ``gnugo-mc``, ``pachi``, or a
    ``mix:`` of one) plays through cannot run on this machine, or None when it is installed
    or ``spec`` names no such engine. A check of the executable only: it does not start
    it."""
    kind, _, arg = spec.strip().partition(":")
    if kind == "mix":
        return missing_program(arg.rpartition(":")[0])
    if kind in ("gnugo", "gnugo-mc") and shutil.which(GNUGO_PATH) is None:
        return f"GNU Go is not installed ({GNUGO_PATH}; apt-get install gnugo)"
    if kind == "pachi":
        path = find_pachi()
        if path is None or shutil.which(path) is None:
            return f"Pachi is not installed ({path or 'no pachi on the PATH'}; set RLGO_PACHI)"
    return None


def _command_line(spec: str, text: str) -> list[str]:
    try:
        args = shlex.split(text)
    except ValueError as exc:  # an unclosed quote
        raise PlayerSpecError(f"{spec!r}: cannot split the command line: {exc}") from None
    if not args:
        raise PlayerSpecError(f"{spec!r}: gtp: needs the engine's command line, e.g. "
                              "gtp:/usr/games/gnugo --mode gtp --level 3")
    return args


def checkpoint_rules(spec: str) -> Rules | None:
    """The rules the checkpoint that ``spec`` names was trained under (its board size is
    the only one its network plays), or None when ``spec`` names no checkpoint file.
    Raises CheckpointError for a file that is not a readable checkpoint."""
    path, _ = _split_checkpoint(spec.strip())
    if not Path(path).is_file():
        return None
    return Rules(**load_file(path)["rules"])


def _split_checkpoint(spec: str) -> tuple[str, list[str]]:
    """(path, options): the longest ``:``-separated prefix that is a file is the path."""
    parts = spec.split(":")
    for cut in range(len(parts), 0, -1):
        if Path(":".join(parts[:cut])).is_file():
            return ":".join(parts[:cut]), parts[cut:]
    return parts[0], parts[1:]


def _checkpoint_player(spec: str, rules: Rules, seed: int, agents: Sequence[str]) -> Player:
    path, options = _split_checkpoint(spec)
    if not Path(path).exists() and "/" not in path and "." not in path:
        raise PlayerSpecError(f"unknown player {spec!r}; {_forms()}")
    simulations = 0
    for option in options:
        if option.startswith("search="):
            simulations = _int_argument(spec, option[len("search="):], "search", 1)
        elif option not in _CHECKPOINT_OPTIONS:
            raise PlayerSpecError(f"{spec!r}: unknown checkpoint option {option!r} (known: "
                                  f"{', '.join(_CHECKPOINT_OPTIONS)}, search=<n>); {_forms()}")
    if len(set(options)) > 1:
        raise PlayerSpecError(f"{spec!r}: choose one of :greedy and :sample, or :search=<n> "
                              "alone")
    greedy = "sample" not in options
    norm = os.path.normpath(path)
    if simulations:
        name = f"{norm}:search={simulations}"
        described = {"path": norm, "search": simulations, "gumbel": False}
    else:
        name = checkpoint_player_name(path, greedy)
        described = {"path": norm, "greedy": greedy}
    player, trained = snapshot_player(path, name=name, greedy=greedy, search=simulations,
                                      seed=seed, agents=agents)
    describe(player, described)
    if trained.board_size != rules.board_size:
        n, m = trained.board_size, rules.board_size
        raise ValueError(f"checkpoint {path} was trained on {n}x{n}; this arena plays {m}x{m}")
    return player


def snapshot_player(path: str | Path, *, name: str, greedy: bool = True, search: int = 0,
                    seed: int = 0, agents: Sequence[str] = ()) -> tuple[Player, Rules]:
    """The player of a snapshot or checkpoint file (on the CPU), and the rules it was
    trained under: the file's agent rebuilds it (:meth:`Learner.snapshot_player`), a
    third-party module only if it is among ``agents`` (:func:`snapshot_agent`).

    Raises CheckpointError (unreadable file), UnknownAgentError (its agent is not
    registered here, or a module not named) or ValueError (weights that do not fit, search
    asked of a learner without a policy-value network)."""
    payload = load_file(path)
    agent = snapshot_agent(str(payload["agent"]), path, agents)
    rules = Rules(**payload["rules"])
    config = config_from_dict(agent.config_class, dict(payload["agent_config"]), str(path))
    net_config = config_from_dict(NetConfig, dict(payload["net_config"]), str(path))
    learner = agent.make(rules, config, net_config, 0, "cpu")
    player = learner.snapshot_player(payload["weights"], name=name, greedy=greedy,
                                     search=search, seed=seed)
    return player, rules


def snapshot_agent(stored: str, path: str | Path, agents: Sequence[str] = ()) -> LearnerEntry:
    """The learner that rebuilds a snapshot whose file names ``stored``: a registered
    one, or a module path (``package.module:make``) that is also among ``agents``, the
    modules the user named; a module named only by the file is never imported."""
    if not is_module_path(stored):
        return get_learner(stored, allow_module_path=False)
    spec = module_spec(stored)
    if spec not in {module_spec(a) for a in agents}:
        raise UnknownAgentError(
            f"{path} was trained by the third-party learner {stored!r}, which rlgo imports "
            f"only when you name it: add --agent-module {spec} (in a study, the learner of "
            "one of its agents)")
    return get_learner(spec)
