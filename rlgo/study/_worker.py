"""``python -m rlgo.study._worker FILE --worker I --threads T``: one worker process of a
search, started by :func:`rlgo.study.workers.run_search`."""

import sys

from rlgo.study.workers import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
