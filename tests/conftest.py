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


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian's layout), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A throwaway PostgreSQL server on a Unix socket, for the session; its SQLAlchemy URL.

    Started with initdb and pg_ctl as the ``postgres`` user (the server refuses root).
    Skipped where PostgreSQL is not installed, except in CI, which installs it."""
    import subprocess
    import tempfile

    bin_dir = _postgres_bin()
    if bin_dir is None or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run should apt-get install postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="rlgo-pg-"))  # pytest's own tmp is root-only
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")

    def run(*argv: str) -> None:
        cmd = (["runuser", "-u", "postgres", "--"] if as_root else []) + list(argv)
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-k {sock} -c listen_addresses='' -p 5433", "start")
    run(str(bin_dir / "createdb"), "-h", str(sock), "-p", "5433", "-U", "postgres", "rlgo")
    yield f"postgresql+psycopg://postgres@/rlgo?host={sock}&port=5433"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop")
    shutil.rmtree(root, ignore_errors=True)
