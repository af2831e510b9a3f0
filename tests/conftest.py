"""Shared test helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

GNUGO = Path("/usr/games/gnugo")


def gnugo_path() -> str | None:
    return str(GNUGO) if GNUGO.exists() else shutil.which("gnugo")


@pytest.fixture
def gnugo() -> str:
    path = gnugo_path()
    if path is None:
        if os.environ.get("CI"):  # CI installs it: a missing engine there is a failure
            pytest.fail("GNU Go is not installed; .ci/run should apt-get install gnugo")
        pytest.skip("GNU Go is not installed (apt-get install gnugo)")
    return path
