"""Range checks shared by the config dataclasses: one error format for every field.

Each config's ``__post_init__`` calls :func:`check_config` with the fields that must be
positive, non-negative, in [0, 1] or one of a few choices (only checks that tie two fields
together are written out beside it); every float field is also checked to be finite
(a NaN learning rate or an infinite coefficient is never what was meant, and fails much
later, or silently, if let through). The error names the config, the field, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any


def check_config(cfg: Any, *, positive: Iterable[str] = (), non_negative: Iterable[str] = (),
                 unit: Iterable[str] = (), choices: Mapping[str, Iterable[Any]] | None = None,
                 ) -> None:
    """ValueError unless every float field of ``cfg`` is finite (None passes), the
    ``positive`` fields are > 0, the ``non_negative`` ones >= 0, the ``unit`` ones in
    [0, 1] and each field of ``choices`` one of its values."""
    name = type(cfg).__name__
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name}.{f.name} must be a finite number, got {value}")
    rules = [(positive, lambda v: v > 0, "> 0"), (non_negative, lambda v: v >= 0, ">= 0"),
             (unit, lambda v: 0 <= v <= 1, "in [0, 1]")]
    for fields, ok, allowed in rules:
        for field in fields:
            value = getattr(cfg, field)
            if value is not None and not ok(value):
                raise ValueError(f"{name}.{field} must be {allowed}, got {value}")
    for field, allowed_values in (choices or {}).items():
        allowed_values = tuple(allowed_values)
        if getattr(cfg, field) not in allowed_values:
            raise ValueError(f"{name}.{field} must be one of "
                             f"{', '.join(map(str, allowed_values))}, got "
                             f"{getattr(cfg, field)!r}")
