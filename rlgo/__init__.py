"""rlgo: how reinforcement-learning algorithms learn Go, measured.

Packages: :mod:`rlgo.envs` (the game), :mod:`rlgo.agents` (learners and fixed players);
modules here form the harness: :mod:`rlgo.protocols`, :mod:`rlgo.network`,
:mod:`rlgo.selfplay`, :mod:`rlgo.train`, :mod:`rlgo.runs`, :mod:`rlgo.checkpoint`,
:mod:`rlgo.arena`, :mod:`rlgo.matchdb`, :mod:`rlgo.elo`, :mod:`rlgo.ladder`,
:mod:`rlgo.players`, :mod:`rlgo.gtp`, :mod:`rlgo.bench`, :mod:`rlgo.cli`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
