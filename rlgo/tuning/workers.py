"""The workers of a tuning (:mod:`rlgo.tuning.config`): how many trials run, where, and
what becomes of a trial whose worker dies.

**Processes.** :func:`run_tuning` with ``workers > 1`` starts that many processes (never
more than trials are left to run; :func:`rlgo.study.runner.plan_workers`)
(``python -m rlgo.tuning._worker``, logging to ``<out>/logs/worker-<i>.log``) the way
``rlgo study run`` starts its workers (:func:`rlgo.study.runner.run_tasks`): each gets
``max(1, cores // workers)`` threads for numba, torch and BLAS, so that they do not
oversubscribe the cores, and dies with the tuning's process; SIGINT or SIGTERM stops
them (their running trials fail as "interrupted"). With one worker the tuning runs in the
calling process, with its thread settings.

**Exactly ``trials`` trials.** Workers do not run ``study.optimize`` with
``MaxTrialsCallback``: that callback counts finished trials after a trial ends, so N
workers overshoot the total by up to N - 1. A worker creates a trial (``study.ask``) only
while it holds an exclusive lock on ``<out>/optuna.lock``, and only if fewer than
``trials`` trials have started (running or finished, in any state; a trial enqueued with
``study.enqueue_trial`` counts once ``ask`` runs it). So the study ends with exactly
``trials`` trials however many workers share it on one machine, several ``rlgo tune``
commands included. (Workers on several machines sharing a database storage each lock
their own ``out``: there the total can overshoot.)

**Resuming.** Rerunning continues the named study up to ``trials`` in total. Each worker
holds an ``flock`` on its own file under ``<out>/workers/`` for its lifetime and names it
in the user attributes of each trial it runs (``worker``, ``worker_host``,
``worker_lock``); the operating system drops the lock when the process dies, ``kill -9``
included. Before creating a trial, a worker marks FAIL every RUNNING trial of this
machine whose worker's lock is free (``failed_reason`` says so), so the trial a killed
tuning left unfinished counts as a failed one and never hangs RUNNING. Unlike Optuna's
heartbeat (``fail_stale_trials``) this needs no grace period and cannot fail a live
trial; RUNNING trials of other machines are left to their own workers. A resumed tuning
refuses a tuning file whose trials would differ (agent, board, budget, seed, objective,
fixed values or space); ``trials``, the sampler and the pruner may change.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from rlgo.errors import WorkFailed
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import ALLOW_COMMANDS
from rlgo.study.runner import Task, cpu_cores, plan_workers, run_tasks
from rlgo.tuning.config import TuneConfig, check_ladder, load_tune
from rlgo.tuning.objective import objective
from rlgo.tuning.storage import open_study, sampler_for

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STARTED = (*FINISHED, TrialState.RUNNING)
"""States that count towards a tuning's ``trials`` (WAITING ones, enqueued by
``study.enqueue_trial``, are run by the next ``study.ask``)."""


class TuneError(WorkFailed, RuntimeError):
    """A worker process of a tuning exited with an error (its log is named)."""


@contextlib.contextmanager
def _flock(path: Path, blocking: bool = True) -> Iterator[Any]:
    """An exclusive ``flock`` on ``path`` while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _worker_alive(lock_file: Path) -> bool:
    """Whether the process holding ``lock_file`` (a worker's) still holds it."""
    try:
        with _flock(lock_file, blocking=False):
            return False
    except BlockingIOError:
        return True


def fail_orphans(study: optuna.Study, tune: TuneConfig) -> list[int]:
    """Mark FAIL the RUNNING trials of this machine whose worker died (module
    docstring); returns their numbers."""
    failed = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker", "")
        if t.user_attrs.get("worker_host") != host:
            continue  # another machine's, or not yet claimed: its worker decides
        lock_file = Path(t.user_attrs["worker_lock"])
        if lock_file.exists() and _worker_alive(lock_file):
            continue
        # FrozenTrial has no public id; Trial(study, id) is how Optuna rebuilds a trial
        optuna.trial.Trial(study, t._trial_id).set_user_attr(
            "failed_reason", f"its worker {worker} stopped before the trial ended "
            "(killed?); marked failed when the tuning resumed")
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        failed.append(t.number)
    return failed


def _run_trial(study: optuna.Study, trial: optuna.Trial, tune: TuneConfig) -> FrozenTrial:
    """Run ``trial`` and tell the study how it ended."""
    try:
        value = objective(trial, tune)
    except optuna.TrialPruned:
        return study.tell(trial, state=TrialState.PRUNED)
    except KeyboardInterrupt:
        trial.set_user_attr("failed_reason", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as exc:  # noqa: BLE001 - one broken trial must not end the tuning
        log.exception("trial %d failed", trial.number)
        trial.set_user_attr("failed_reason", f"{type(exc).__name__}: {exc}")
        return study.tell(trial, state=TrialState.FAIL)
    if not math.isfinite(value):
        return study.tell(trial, state=TrialState.FAIL)
    return study.tell(trial, value)


def work(tune: TuneConfig, worker: int = 0,
         on_trial: Callable[[FrozenTrial], None] | None = None) -> int:
    """One worker: run trials until the study holds ``tune.trials``; returns how many
    this worker ran (module docstring: locks and orphans)."""
    host = socket.gethostname()
    name = f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    me = tune.out_dir / "workers" / f"{name}.lock"
    ask_lock = tune.out_dir / "optuna.lock"
    ran = 0
    with _flock(me):
        try:
            with _flock(ask_lock):
                study = open_study(tune)
                study.sampler = sampler_for(tune, (worker, len(study.trials)))
            while True:
                with _flock(ask_lock):
                    fail_orphans(study, tune)
                    if len(study.get_trials(deepcopy=False, states=STARTED)) >= tune.trials:
                        return ran
                    trial = study.ask()
                    for key, value in (("worker", name), ("worker_host", host),
                                       ("worker_lock", str(me.resolve()))):
                        trial.set_user_attr(key, value)
                frozen = _run_trial(study, trial, tune)
                ran += 1
                if on_trial is not None:
                    on_trial(frozen)
        finally:
            me.unlink(missing_ok=True)


def _check_out(tune: TuneConfig, study: optuna.Study) -> None:
    """A new study must not inherit the trial folders of a deleted one."""
    trials = tune.out_dir / "trials"
    if not study.trials and trials.exists() and any(trials.iterdir()):
        raise ValueError(f"{trials} holds trials but study {tune.name!r} has none (was "
                         "its storage deleted?); use a new out or delete that folder")


def run_tuning(path: str | Path, workers: int = 1,
               on_trial: Callable[[FrozenTrial], None] | None = None, *,
               allow_commands: bool = False,
               say: Callable[[str], None] | None = None) -> optuna.Study:
    """Run (or resume) the tuning of file ``path`` until its study holds ``trials``
    trials. ``workers > 1`` starts that many processes (module docstring); 1 runs here.
    ``on_trial(frozen_trial)`` is called as trials end (with several workers, within a
    second or so). Raises ValueError for a bad tuning file, ladder or output folder,
    :class:`TuneError` when a worker process fails, and KeyboardInterrupt on SIGINT or
    SIGTERM (the running trials fail as "interrupted"; a rerun goes on).
    ``allow_commands``: the user's ``--allow-commands`` (:attr:`TuneConfig.allow_commands`).
    Never more processes start than trials are left to run; ``say`` gets a note when
    more were asked for than there are cores (default: the log)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    tune = load_tune(path, allow_commands=allow_commands)
    check_ladder(tune)
    with _flock(tune.out_dir / "optuna.lock"):
        study = open_study(tune)
        _check_out(tune, study)
        started = len(study.get_trials(deepcopy=False, states=STARTED))
        # made here, before workers open it at once: two processes creating its tables
        # together can see each other's half-made schema and refuse it as foreign
        MatchDB(tune.db_url).close()
    workers, threads, note = plan_workers(workers, tune.trials - started, cpu_cores())
    if note:
        (say or log.warning)(note)
    if workers == 1:
        work(tune, 0, on_trial)
        return study
    logs = tune.out_dir / "logs"
    tasks = [Task(f"worker {i}", [sys.executable, "-m", "rlgo.tuning._worker",
                                  str(Path(path).resolve()), "--worker", str(i),
                                  "--threads", str(threads),
                                  *([ALLOW_COMMANDS] if allow_commands else [])],
                  logs / f"worker-{i}.log")
             for i in range(workers)]
    seen = {t.number for t in study.get_trials(deepcopy=False, states=FINISHED)}

    def show(_: object) -> None:  # trials that ended since the last look
        for t in study.get_trials(deepcopy=False, states=FINISHED):
            if t.number not in seen:
                seen.add(t.number)
                if on_trial is not None:
                    on_trial(t)

    failed = run_tasks(tasks, workers, threads=threads, show=show, show_every_s=1.0)
    if failed:
        tail = failed[0].log.read_text().strip().splitlines()[-5:]
        raise TuneError(f"{', '.join(t.name for t in failed)} failed; the log "
                          f"{failed[0].log} ends:\n" + "\n".join(tail))
    return study


def worker_main(argv: list[str]) -> int:
    """``python -m rlgo.tuning._worker FILE --worker I --threads T [--allow-commands]``: one
    worker process."""
    import argparse

    import torch

    parser = argparse.ArgumentParser(prog="python -m rlgo.tuning._worker")
    parser.add_argument("path")
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(ALLOW_COMMANDS, action="store_true")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    signal.signal(signal.SIGTERM, _interrupt)  # the running trial fails as "interrupted"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tune = load_tune(args.path, allow_commands=args.allow_commands)
    from rlgo.tuning.report import describe_trial  # the report imports this module

    work(tune, args.worker, lambda t: print(describe_trial(t, tune), flush=True))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
