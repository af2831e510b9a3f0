"""Keep numba's on-disk cache of rlgo's functions in step with the Go kernels.

Why: numba compiles the kernels a function calls into that function's own machine code,
and stamps each cache entry with the source of the function's own file only. So after an
edit of ``envs/_kernels.py``, a cached function in another file that calls the kernels
(tree search, rollouts) would go on running the old kernels, silently: a wrong result,
not an error.

How: :func:`install_cache_locator` puts :class:`KernelAwareLocator` first in numba's list
of cache locators. For a function defined in rlgo's source tree it takes the locator numba
would have picked (same cache directory, so ``NUMBA_CACHE_DIR`` still applies) and adds to
its source stamp the SHA-256 of ``_kernels.py``. numba rebuilds an entry whose stamp
differs, so any edit of the kernels recompiles every rlgo function once. A function
outside rlgo's tree, or a kernel file that cannot be read, gets numba's own locator
unchanged. Setting ``NUMBA_CACHE_LOCATOR_CLASSES`` replaces numba's list, and this
locator with it, unless the variable names it.

The guarantee holds for numba code that calls only the kernels of ``_kernels.py`` across
files (through :mod:`rlgo.envs.kernels`), and for calls within one file. A compiled
function that calls a compiled function of a third file is not covered: list that file in
:attr:`KernelAwareLocator.dependencies`.

This module imports nothing from rlgo and does no work at import; files are hashed when
numba first asks for a stamp, once per file version.
"""

from __future__ import annotations

import functools
import hashlib
import os

from numba.core import caching

_HERE = os.path.dirname(os.path.abspath(__file__))


@functools.cache
def _digest(path: str, mtime_ns: int, size: int) -> bytes:
    """SHA-256 of a file's bytes; the (mtime, size) arguments make an edited file a new key."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def _file_digest(path: str) -> bytes:
    st = os.stat(path)
    return _digest(path, st.st_mtime_ns, st.st_size)


class KernelAwareLocator(caching._CacheLocator):
    """numba's usual locator for a function, with the kernels' source in its stamp."""

    root: str = os.path.dirname(_HERE)
    """Functions in files under this folder are rlgo's: the repository in an editable
    install (``rlgo/``, ``envs/``, ``agents/``, ``studies/``...), ``site-packages/rlgo``
    otherwise."""
    dependencies: tuple[str, ...] = (os.path.join(_HERE, "_kernels.py"),)
    """Files whose source every rlgo function's cache entry depends on."""

    def __init__(self, base: caching._CacheLocator, depends_on: bytes):
        self._base = base
        self._depends_on = depends_on

    @classmethod
    def from_function(cls, py_func, py_file):
        if not cls._owns(py_file):
            return None
        try:
            depends_on = b"".join(_file_digest(p) for p in cls.dependencies)
        except OSError:
            return None  # numba's own locator takes the function
        for other in caching.CacheImpl._locator_classes:
            if issubclass(other, KernelAwareLocator):
                continue
            base = other.from_function(py_func, py_file)
            if base is not None:
                return cls(base, depends_on)
        return None

    @classmethod
    def _owns(cls, py_file: str) -> bool:
        return os.path.abspath(py_file).startswith(cls.root + os.sep)

    def get_source_stamp(self):
        return (self._base.get_source_stamp(), self._depends_on)

    def get_cache_path(self):
        return self._base.get_cache_path()

    def ensure_cache_path(self):
        self._base.ensure_cache_path()

    def get_disambiguator(self):
        return self._base.get_disambiguator()


def install_cache_locator() -> None:
    """Put :class:`KernelAwareLocator` first in numba's cache locators (idempotent).

    Must run before the first ``@njit(cache=True)`` of rlgo code is decorated: numba picks
    a function's locator at decoration. ``_kernels.py`` calls it at the top.
    """
    classes = caching.CacheImpl._locator_classes  # shared by numba's every cache kind
    if KernelAwareLocator not in classes:
        classes.insert(0, KernelAwareLocator)
