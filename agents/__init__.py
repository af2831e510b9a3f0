"""Learners and fixed opponents."""

__all__: list[str] = []
