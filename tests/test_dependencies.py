"""What a fresh machine installs is what the code needs: every imported package is declared
in pyproject.toml (checked by deptry), and every declared one is pinned in the lock that
`.ci/run` installs from (.ci/constraints.txt, made by .ci/lock) at a version it allows."""

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
# Pinned by .ci/run itself (the CPU build, installed first), so left out of the lock.
PINNED_BY_CI_RUN = {"torch"}


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in extras for r in extra]
    return [r for r in reqs if canonicalize_name(r.name) != "rlgo"]


def _locked(text: str) -> dict[str, Version]:
    """``name==version`` lines of a pip-compile style file (comments and hashes skipped)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0])] = Version(version.split(";")[0].strip())
    return pins


def _unpinned(declared: list[Requirement], locked: dict[str, Version]) -> list[str]:
    """Declared requirements that the lock misses or pins outside their specifier."""
    problems = []
    for req in declared:
        name = canonicalize_name(req.name)
        if name in PINNED_BY_CI_RUN:
            continue
        if name not in locked:
            problems.append(f"{req.name}: not in the lock")
        elif not req.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{req.name}: locked at {locked[name]}, outside {req.specifier}")
    return problems


def test_every_imported_package_is_declared():
    result = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_declared_package_is_pinned_in_the_lock():
    locked = _locked((ROOT / ".ci" / "constraints.txt").read_text())
    assert _unpinned(_declared(), locked) == []


def test_a_stale_lock_is_caught():
    lock = "numpy==1.25.0\n    # via rlgo\npandas[parquet]==2.2.3 ; python_version >= '3.11'\n"
    locked = _locked(lock)
    assert locked == {"numpy": Version("1.25.0"), "pandas": Version("2.2.3")}
    declared = [Requirement("numpy>=1.26"), Requirement("pandas>=2.0"), Requirement("numba")]
    assert _unpinned(declared, locked) == ["numpy: locked at 1.25.0, outside >=1.26",
                                           "numba: not in the lock"]
