"""Measurements of how learners learn (``rlgo analyze credit``: credit assignment against a
judge, information per sample and per FLOP). It reads runs and snapshots; it may import
:mod:`rlgo.study` (for its figures' style) and every layer below it."""
