"""rlgo: how reinforcement-learning algorithms learn Go, measured."""

__version__ = "0.1.0"
__all__ = ["__version__"]
