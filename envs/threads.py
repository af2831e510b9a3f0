"""numba's thread pool on busy cores: rlgo's default OpenMP spin count.

The batched kernels run on numba's OpenMP pool (libgomp). By default a libgomp thread that
waits for work spins for about 300,000 iterations before it sleeps; when another process
holds a core, the spinning threads take the time the working one needs. A low spin count
keeps the engine fast beside a busy core but makes every wake-up a sleep and a futex call,
which costs its idle speed. Measured on the 2-core machine (2026-12-03, quiet, two rounds
of ``rlgo bench contention`` with these settings, the rows from 5000 to 1500 in a second
sitting; moves/s on 9x9 at batch 512, idle -> one core busy):

=========================  ===========  ==========  ===========
setting                    idle         one busy    ratio
=========================  ===========  ==========  ===========
GOMP_SPINCOUNT=300000      1.42-1.44M   0.14-0.15M  0.10x
GOMP_SPINCOUNT=30000       1.40-1.45M   0.23-0.27M  0.17-0.18x
GOMP_SPINCOUNT=10000       1.42-1.47M   0.36-0.38M  0.26x
GOMP_SPINCOUNT=5000        1.30-1.39M   0.45M       0.33-0.35x
GOMP_SPINCOUNT=3000        1.31-1.47M   0.52-0.57M  0.38-0.40x
GOMP_SPINCOUNT=2000        1.33-1.38M   0.57M       0.41-0.43x
GOMP_SPINCOUNT=1500        1.29-1.31M   0.61-0.62M  0.46-0.48x
GOMP_SPINCOUNT=1000        0.99-1.07M   0.61-0.64M  0.60-0.61x
OMP_WAIT_POLICY=PASSIVE    1.01-1.04M   0.62-0.63M  0.60-0.61x
one thread                 0.70M        0.69-0.70M  0.99-1.00x
=========================  ===========  ==========  ===========

rlgo sets ``GOMP_SPINCOUNT=2000``: within a few percent of the idle speed of numba's
default and about 4x its speed with a core busy (the 0.4x target with one core busy,
met at the margin; below 2000 the idle speed falls, above it the busy one). From
2026-11-26 to 2026-12-03 it was 1000, which cost a third of the idle speed: ``rlgo bench
env`` on 9x9 fell from 2.5x OpenSpiel to 1.6-1.7x. The benchmark of the 2026-11-23 commit
gave the same numbers as today's under either spin count (1.38M and 0.93M moves/s against
1.39M and 0.98M), so the spin count, not the kernels, made the difference.

Where cores are shared on purpose (a study's or a search's workers), each worker instead
gets ``cores // workers`` threads, so pools never compete.
"""

from __future__ import annotations

import os

SPIN_COUNT = "2000"
"""``GOMP_SPINCOUNT`` rlgo sets unless the environment already has one."""


def configure() -> None:
    """Set rlgo's OpenMP spin count before numba's pool starts (the first parallel kernel
    call; libgomp reads it once, when loaded). A value the user set is kept; so is the
    pool of a process that has already started it. Called by :class:`GoEngine`."""
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
