"""numba's thread pool on busy cores: rlgo's default OpenMP spin count.

The batched kernels run on numba's OpenMP pool (libgomp). By default a libgomp thread that
waits for work spins for about 300,000 iterations before it sleeps; when another process
holds a core, the spinning threads take the time the working one needs, and the engine on
9x9 fell to 0.29-0.34x of its idle speed with one core busy (and to under 0.02x with two
busy neighbours). Measured on the 2-core machine (``rlgo bench contention``, two rounds,
moves/s idle -> one core busy):

=========================  ===================  ======================
numba's default              1.66-1.73M -> 0.51-0.56M   (0.29-0.34x)
OMP_WAIT_POLICY=PASSIVE      1.17-1.22M -> 0.84-0.86M   (0.70-0.72x)
GOMP_SPINCOUNT=1000          1.59-1.76M -> 0.68-0.71M   (0.40-0.44x)
GOMP_SPINCOUNT=10000         1.66-1.80M -> 0.29-0.32M   (0.17-0.18x)
workqueue layer              0.87-0.91M -> 0.61-0.64M   (0.70-0.71x)
one thread                   0.90-0.91M -> 0.88M        (0.96-0.98x)
=========================  ===================  ======================

rlgo sets ``GOMP_SPINCOUNT=1000``: the idle speed of the default and 1.3x its speed with a
core busy. Where cores are shared on purpose (a study's or a search's workers), each
worker instead gets ``cores // workers`` threads, so pools never compete.
"""

from __future__ import annotations

import os

SPIN_COUNT = "1000"
"""``GOMP_SPINCOUNT`` rlgo sets unless the environment already has one."""


def configure() -> None:
    """Set rlgo's OpenMP spin count before numba's pool starts (the first parallel kernel
    call; libgomp reads it once, when loaded). A value the user set is kept; so is the
    pool of a process that has already started it. Called by :class:`GoEngine`."""
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
