"""``python -m rlgo.tuning._worker FILE --worker I --threads T``: one worker process of a
tuning, started by :func:`rlgo.tuning.workers.run_tuning`."""

import sys

from rlgo.tuning.workers import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
