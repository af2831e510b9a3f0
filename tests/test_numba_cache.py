"""numba's on-disk cache never runs code compiled from an older ``_kernels.py``.

numba stamps a cached function with its own file's source only, so a caller in another
file keeps the kernels it was compiled with. Each test builds a two-file package in a
temporary folder (a kernel ``f`` in ``_kernels.py``, a caller ``g`` in ``caller.py``),
runs it in a fresh interpreter, edits ``f`` and runs it again, with and without
:mod:`rlgo.envs._numba_cache` (copied in, as it imports nothing from rlgo).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlgo.envs import _numba_cache
from rlgo.envs.threads import SPIN_COUNT

KERNELS = '''{install}
from numba import njit


@njit(cache=True)
def f():
    return {value}
'''
CALLER = '''from numba import njit
from pkg._kernels import f


@njit(cache=True)
def g():
    return f() + 100
'''
OUTSIDE = '''from numba import njit


@njit(cache=True)
def h():
    return 3
'''
INSTALL = "from pkg._numba_cache import install_cache_locator\ninstall_cache_locator()\n"
RUN = """
import json
from outside import h
from pkg import _kernels, caller
print(json.dumps({
    "f": _kernels.f(), "g": caller.g(), "h": h(),
    "g_hits": sum(caller.g.stats.cache_hits.values()),
    "locators": [type(fn._cache._impl.locator).__name__ for fn in (_kernels.f, caller.g, h)],
}))
"""


def write_kernels(pkg: Path, value: int, install: bool) -> None:
    (pkg / "_kernels.py").write_text(KERNELS.format(install=INSTALL if install else "",
                                                    value=value))


def build(tmp_path: Path, install: bool) -> Path:
    """tmp/tree/pkg/{_numba_cache,_kernels,caller}.py; tmp/outside/outside.py."""
    pkg = tmp_path / "tree" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(_numba_cache.__file__, pkg / "_numba_cache.py")
    write_kernels(pkg, 1, install)
    (pkg / "caller.py").write_text(CALLER)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "outside.py").write_text(OUTSIDE)
    return pkg


def run(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an edit within the same second must be seen
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "tree"), str(tmp_path / "outside")])
    out = subprocess.run([sys.executable, "-c", RUN], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("install", [True, False], ids=["rlgo_locator", "numba_default"])
def test_editing_the_kernels_recompiles_their_callers(tmp_path, install):
    pkg = build(tmp_path, install)
    first = run(tmp_path)
    assert (first["f"], first["g"], first["g_hits"]) == (1, 101, 0)
    assert list(pkg.glob("__pycache__/caller.g-*.nbi"))  # g was cached on disk
    write_kernels(pkg, 20, install)
    second = run(tmp_path)
    assert second["f"] == 20
    if install:
        assert second["g"] == 120 and second["g_hits"] == 0
        assert second["locators"] == ["KernelAwareLocator", "KernelAwareLocator",
                                      "InTreeCacheLocator"]  # code outside the tree untouched
        third = run(tmp_path)  # and an unchanged tree is still served from the cache
        assert (third["g"], third["g_hits"]) == (120, 1)
    else:
        # The bug this locator fixes: g is served from the cache with the old f inside.
        assert second["g"] == 101 and second["g_hits"] == 1
        assert "KernelAwareLocator" not in second["locators"]


def test_rlgo_kernels_and_their_callers_are_stamped_with_the_kernels_source():
    from rlgo.envs import _kernels

    locator = _kernels.place._cache._impl.locator
    assert isinstance(locator, _numba_cache.KernelAwareLocator)
    digest = hashlib.sha256(Path(_kernels.__file__).read_bytes()).digest()
    assert locator.get_source_stamp()[1] == digest


def test_an_unreadable_kernel_file_falls_back_to_numbas_locator(tmp_path, monkeypatch):
    py_file = Path(_numba_cache.__file__)
    monkeypatch.setattr(_numba_cache.KernelAwareLocator, "dependencies",
                        (str(tmp_path / "missing.py"),))
    assert _numba_cache.KernelAwareLocator.from_function(write_kernels, str(py_file)) is None


def test_the_engine_sets_rlgos_openmp_spin_count_unless_the_user_did():
    import os
    import subprocess
    import sys

    code = ("import os\nfrom rlgo.envs import GoEngine\nGoEngine(2)\n"
            "print(os.environ['GOMP_SPINCOUNT'])")
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    ours = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()
    theirs = subprocess.run([sys.executable, "-c", code], env={**env, "GOMP_SPINCOUNT": "7"},
                            capture_output=True, text=True, check=True).stdout.strip()
    assert (ours, theirs) == (SPIN_COUNT, "7")
