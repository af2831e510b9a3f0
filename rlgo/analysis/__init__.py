"""Measurements of how learners learn (credit assignment, information per sample). It
reads runs and snapshots and may import every layer above :mod:`rlgo.study`."""
