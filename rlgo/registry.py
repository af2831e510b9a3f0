"""Agents by name: the one registry of learners, built-in and third-party.

An agent is a callable ``make(rules, config, net_config, seed, device) -> Learner`` (see
:mod:`rlgo.protocols`) whose ``config`` parameter is annotated with the agent's frozen
config dataclass; the registry reads the class from that annotation. Three ways to name
one:

* a **built-in** name, ``reinforce``, ``mcts``...: every module of :mod:`rlgo.agents` that
  defines a top-level ``make`` (found by reading the package's files, without importing
  them, so listing is cheap); adding a learner to rlgo is adding one file there;
* an **entry point** in the ``rlgo.agents`` group of an installed distribution
  (``[project.entry-points."rlgo.agents"] myagent = "my_package.my_module:make"``);
* a **module path**, ``my_package.my_module:make`` (or ``my_package.my_module``, whose
  ``make`` is taken): imported only because the user named it.

A snapshot or checkpoint file records its agent's name, which rebuilds its player
(:func:`rlgo.evaluation.players.make_player`). A built-in or entry-point name is loaded
as such; a module path stored in a file is imported only when the user names that same
module too (``--agent-module`` on the command line, or a study's ``learner``; compared
by :func:`module_spec`), never because the file names it. Listing agents reads files and
metadata only (no torch import), so the CLI's help can show them.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlgo.errors import RlgoError
from rlgo.protocols import Learner

ENTRY_POINT_GROUP = "rlgo.agents"


class UnknownAgentError(RlgoError, ValueError):
    """An agent name that no built-in module, entry point or importable module provides."""


@dataclass(frozen=True)
class LearnerEntry:
    """The registry's entry for a learner (an agent of a study names one by its `learner`)."""

    name: str
    """The name it was asked for (a built-in name, an entry point or ``module:make``)."""
    make: Callable[..., Learner]
    """``make(rules, config, net_config, seed, device) -> Learner``."""
    config_class: type
    """The frozen config dataclass of its ``config`` parameter."""
    builtin: bool = False
    fast_settings: tuple[str, ...] = ()
    """``--set`` overrides that make it train in seconds on a tiny 5x5 run: its module's
    ``FAST_SETTINGS``, if it declares one. The test suite trains every registered
    learner with them, so a new learner is tested without editing a test."""

    def default_config(self) -> Any:
        return self.config_class()


def builtin_names() -> list[str]:
    """Modules of :mod:`rlgo.agents` that define a top-level ``make`` (read, not imported)."""
    spec = importlib.util.find_spec("rlgo.agents")
    folders = list(spec.submodule_search_locations or []) if spec else []
    names = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.py")):
            if not path.stem.startswith("_") and _defines_make(path):
                names.append(path.stem)
    return sorted(set(names))


def _defines_make(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return False
    return any(isinstance(n, ast.FunctionDef) and n.name == "make" for n in tree.body)


def entry_point_names() -> list[str]:
    return sorted(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def registered() -> list[str]:
    """Every name :func:`get_learner` accepts without a module path."""
    return sorted(set(builtin_names()) | set(entry_point_names()))


def _describe() -> str:
    return (f"registered agents: {', '.join(registered())}; or name a third-party one "
            "as package.module:make")


def is_module_path(name: str) -> bool:
    """``name`` is not registered and reads as a module path (a ``.`` or a ``:``)."""
    name = name.strip()
    return name not in registered() and ("." in name or ":" in name)


def module_spec(name: str) -> str:
    """A module path as ``package.module:make`` (a bare ``package.module`` takes its
    ``make``): the form in which a module named by the user and one stored in a snapshot
    are compared."""
    module, _, attr = name.strip().partition(":")
    return f"{module}:{attr or 'make'}"


def get_learner(name: str, *, allow_module_path: bool = True) -> LearnerEntry:
    """The agent called ``name`` (module docstring). Raises :class:`UnknownAgentError`
    naming the registered agents."""
    name = name.strip()
    if name in builtin_names():
        module = importlib.import_module(f"rlgo.agents.{name}")
        return _agent(name, module.make, builtin=True)
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in eps:
        return _agent(name, eps[name].load())
    if allow_module_path and ("." in name or ":" in name):
        return _agent(name, _import_make(name))
    raise UnknownAgentError(f"unknown agent {name!r}; {_describe()}")


def _import_make(path: str) -> Callable[..., Learner]:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownAgentError(f"cannot import agent module {module_name!r} ({exc}); "
                                f"{_describe()}") from exc
    make = getattr(module, attr or "make", None)
    if not callable(make):
        raise UnknownAgentError(f"{module_name!r} has no callable {attr or 'make'!r}; an "
                                "agent module defines make(rules, config, net_config, seed, "
                                "device)")
    return make


_THIRD_PARTY: set[str] = set()
"""Top-level packages of the third-party agents loaded in this process."""


def third_party_frame(exc: BaseException) -> str | None:
    """``module:line`` of the innermost frame of ``exc``'s traceback that belongs to a
    third-party agent's package (an entry point or ``package.module:make`` loaded here),
    or None: the error came from that learner's code, not from rlgo's."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in _THIRD_PARTY:
            found = f"{module}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _agent(name: str, make: Callable[..., Learner], builtin: bool = False) -> LearnerEntry:
    try:
        hints = typing.get_type_hints(make)
    except Exception as exc:  # noqa: BLE001 - any failure to resolve is the same error
        raise UnknownAgentError(f"agent {name!r}: cannot read make's annotations: {exc}"
                                ) from exc
    config_class = hints.get("config")
    if config_class is None or not dataclasses.is_dataclass(config_class):
        raise UnknownAgentError(f"agent {name!r}: make's 'config' parameter must be "
                                "annotated with a config dataclass")
    module = str(getattr(make, "__module__", "") or "")
    package = module.split(".")[0]
    if not builtin and package and package != "rlgo":
        _THIRD_PARTY.add(package)
    fast = tuple(getattr(sys.modules.get(module), "FAST_SETTINGS", ()))
    return LearnerEntry(name, make, config_class, builtin, fast)


def config_from_dict(cls: type, table: dict[str, Any], where: str) -> Any:
    """A config dataclass from a stored table (lists become tuples). Unknown keys and
    values of the wrong type are a ValueError naming ``where``, the key and the valid
    keys or the type expected; the dataclass then checks the ranges."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ValueError(f"unknown keys {unknown} for {cls.__name__} in {where}; valid "
                         f"keys: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    fixed = {}
    for key, value in table.items():
        value = tuple(value) if isinstance(value, list) else value
        if value == "none" and type(None) in typing.get_args(hints[key]):
            value = None
        if not value_fits(value, hints[key]):
            raise ValueError(f"{where}: {key} = {value!r} is not a {type_name(hints[key])}")
        fixed[key] = float(value) if hints[key] is float else value
    try:
        return cls(**fixed)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def value_fits(value: Any, hint: Any) -> bool:
    """``value`` fits a config annotation: bool, int, float (an int too), str, tuple[...],
    Literal[...], or an optional one of those."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(value_fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(value_fits(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
