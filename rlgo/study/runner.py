"""``rlgo study run``: train every (agent, seed) of a study, play the league, report.

::

    runs/<study>/
      study.toml           a copy of the study file as last run
      matches.sqlite       every game of the study: every run's evaluations and the league
      configs/<run>.toml   each run's full config (rlgo train --config takes it)
      runs/<run>/          each run's directory (rlgo.training.runs), <run> = <agent>-s<seed>
      logs/<task>.log      output of each worker process
      results.csv ...      the report (rlgo.study.report)

Each run is one ``rlgo train --config configs/<run>.toml --out runs/<run>`` process, and
the league is played by ``workers`` ``python -m rlgo.study.league`` processes sharing its
pairings; at most ``workers`` processes run at once, and never more than there are runs
or pairings to play (:func:`plan_workers`). Every worker is given ``cores // processes``
threads (numba, torch and BLAS), at least one, so workers never oversubscribe the cores
when ``workers`` is at most the cores: numba's thread pool collapses when they do. More
workers than cores is allowed, with a note: they share the cores, one thread each.

Resume: a rerun skips finished runs, resumes the others from their checkpoints (their
games after the checkpoint are deleted and replayed) and replays unfinished league
pairings (:mod:`rlgo.study.league`), so a killed study loses nothing and counts no game
twice. SIGINT or SIGTERM stops the workers (they resume on the next run) and exits 130.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rlgo.errors import WorkFailed
from rlgo.evaluation.arena import StopOnSignals
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.players import ALLOW_COMMANDS
from rlgo.study.config import StudyConfig, load_study, run_configs
from rlgo.study.league import pairings
from rlgo.training.config import dump_toml
from rlgo.training.loop import finished


@dataclass
class Task:
    """One worker process."""

    name: str
    argv: list[str]
    log: Path
    run_dir: Path | None = None
    """The training run it advances (for the progress display), if any."""
    returncode: int | None = None
    started: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class StudyFailed(WorkFailed, RuntimeError):
    """Some worker processes failed; the message names them and their logs."""


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def plan_workers(requested: int, tasks: int, cores: int) -> tuple[int, int, str]:
    """(processes, threads per process, a note or "") for ``tasks`` tasks, at most
    ``requested`` at once, on ``cores`` cores: never more processes than tasks, never a
    process with no thread, and a note when more processes than cores were asked for
    (they then share cores, each with one thread)."""
    if requested < 1:
        raise ValueError(f"workers must be >= 1, got {requested}")
    processes = max(1, min(requested, tasks))
    note = (f"workers = {requested} exceeds this machine's {cores} cores: {processes} "
            "processes will share them, one thread each, and run slower than with "
            f"workers = {cores}" if processes > cores else "")
    return processes, max(1, cores // processes), note


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a worker: ``threads`` threads for numba, torch and BLAS."""
    n = str(max(1, threads))
    return {**os.environ, "NUMBA_NUM_THREADS": n, "OMP_NUM_THREADS": n,
            "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}


def write_run_configs(study: StudyConfig) -> dict[str, Path]:
    """Each run's full config as a file under ``configs/``; returns run name -> file."""
    folder = study.out_dir / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for agent, seed, run in study.run_names():
        path = folder / f"{run}.toml"
        text = dump_toml(run_configs(study, agent, seed).to_tables())
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        files[run] = path
    return files


def training_tasks(study: StudyConfig, debug: bool = False) -> list[Task]:
    """A task for every run not yet finished (``debug``: each ``rlgo --debug train``, so
    that an error's traceback goes to the run's log)."""
    files = write_run_configs(study)
    tasks = []
    for agent, seed, run in study.run_names():
        out = study.out_dir / "runs" / run
        train = run_configs(study, agent, seed).train
        if finished(out, train):
            continue
        argv = [sys.executable, "-m", "rlgo.cli", *(["--debug"] if debug else []), "train",
                "--config", str(files[run]),
                "--out", str(out), "--no-progress", *_passed_on(study)]
        tasks.append(Task(f"train {run}", argv, study.out_dir / "logs" / f"{run}.log", out))
    return tasks


def _passed_on(study: StudyConfig) -> list[str]:
    """Flags of the study's command line that its workers take too."""
    return [ALLOW_COMMANDS] if study.allow_commands else []


def league_tasks(study: StudyConfig, study_file: Path, workers: int) -> list[Task]:
    """``workers`` processes (at most one per pairing), each playing its share of the
    league's pairings."""
    if study.league_games == 0:
        return []
    workers = max(1, min(workers, len(pairings(study))))
    return [Task(f"league {k + 1}/{workers}",
                 [sys.executable, "-m", "rlgo.study.league", str(study_file.resolve()), str(k),
                  str(workers), *_passed_on(study)],
                 study.out_dir / "logs" / f"league_{k + 1}_of_{workers}.log")
            for k in range(workers)]


def run_tasks(tasks: Sequence[Task], workers: int, *, threads: int,
              show: Callable[[Sequence[Task]], None] | None = None,
              poll_s: float = 0.5, show_every_s: float = 5.0) -> list[Task]:
    """Run ``tasks``, at most ``workers`` at once; returns those that failed. SIGINT or
    SIGTERM terminates the running ones (they resume next time) and raises
    KeyboardInterrupt."""
    pending, running, failed = list(tasks), [], []
    last_show = 0.0
    with StopOnSignals() as stop:
        try:
            while pending or running:
                if stop():
                    raise KeyboardInterrupt("stop requested")
                while pending and len(running) < workers:
                    running.append(_start(pending.pop(0), threads))
                for task in list(running):
                    code = task.process.poll() if task.process is not None else 0
                    if code is not None:
                        task.returncode = code
                        running.remove(task)
                        if code != 0:
                            failed.append(task)
                if show is not None and time.time() - last_show >= show_every_s:
                    show(list(tasks))
                    last_show = time.time()
                time.sleep(poll_s)
        except KeyboardInterrupt:
            _stop(running)
            raise
    if show is not None:
        show(list(tasks))
    return failed


def _start(task: Task, threads: int) -> Task:
    """Start ``task``'s process, its output appended to its log."""
    task.log.parent.mkdir(parents=True, exist_ok=True)
    with open(task.log, "ab") as log:
        task.process = subprocess.Popen(task.argv, stdout=log, stderr=subprocess.STDOUT,
                                        env=worker_env(threads), preexec_fn=_die_with_parent)
    task.started = time.time()
    return task


def _die_with_parent() -> None:
    """In a worker, before it starts: ask Linux to send it SIGTERM when the study process
    dies, even by SIGKILL, so that no orphan keeps a run locked (elsewhere: nothing)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(running: Sequence[Task]) -> None:
    """Terminate the running workers (each resumes from its last checkpoint)."""
    for task in running:
        if task.process is not None:
            task.process.terminate()
    for task in running:
        if task.process is not None:
            try:
                task.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                task.process.kill()


def latest_row(run_dir: Path) -> dict[str, float]:
    """Counters of the last metrics row of a run, and its latest ``eval/elo`` (read from
    the end of ``metrics.csv`` only)."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        header = f.readline().decode()
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 200_000))
        tail = f.read().decode(errors="replace").splitlines()[1:]
    rows = list(csv.DictReader(io.StringIO(header + "\n".join(tail))))
    if not rows:
        return {}
    out = {k: float(v) for k, v in rows[-1].items() if k not in ("metric", "value") and v}
    elo = [r for r in rows if r.get("metric") == "eval/elo"]
    if elo:
        out["elo"] = float(elo[-1]["value"])
    rates = [r for r in rows if r.get("metric") == "charts/games_per_s"]
    if rates:
        out["games_per_s"] = float(rates[-1]["value"])
    return out


def fit_fields(fields: Sequence[str], width: int | None) -> str:
    """The leading ``fields`` that fit in ``width`` columns, whole (a number is never cut
    into another: ``12,345 env steps`` must not read ``12,345 s``); all with no width.
    The first field always shows, cut to the width."""
    if width is None:
        return "".join(fields)
    line = fields[0][:width]
    for field_ in fields[1:]:
        if len(line) + len(field_) > width:
            break
        line += field_
    return line


def progress_printer(study: StudyConfig) -> Callable[[Sequence[Task]], None]:
    """A ``show`` for :func:`run_tasks`: one line per run (state, budget spent, games/s,
    latest Elo), redrawn in place on a terminal."""
    unit = {"env_steps": "env_steps", "nn_evals": "nn_evals", "wall_s": "wall_s"}[study.budget]
    tty = sys.stdout.isatty()

    def show(tasks: Sequence[Task]) -> None:
        width = shutil.get_terminal_size().columns if tty else None
        lines = []
        for task in tasks:
            state = ("done" if task.returncode == 0 else "FAILED" if task.returncode
                     else "running" if task.process else "waiting")
            fields = [f"{task.name:<32} {state:<8}"]
            if task.run_dir is not None:
                row = latest_row(task.run_dir)
                if row:
                    spent = row.get(unit, 0.0) / study.amount
                    fields += [f" {min(spent, 1.0):6.1%} of budget",
                               f"  {row.get('env_steps', 0):>9,.0f} env steps",
                               f"  {row.get('games_per_s', float('nan')):6.1f} games/s",
                               f"  Elo {row.get('elo', float('nan')):6.0f}"]
            lines.append(fit_fields(fields, width))
        text = "\n".join(lines)
        if tty:
            print(f"\x1b[{len(lines)}F\x1b[J" if show.drawn else "", end="")  # type: ignore[attr-defined]
            show.drawn = True  # type: ignore[attr-defined]
        print(text + ("" if tty else "\n"), flush=True)

    show.drawn = False  # type: ignore[attr-defined]
    return show


def run_tasks_on_ray(tasks: Sequence[Task], *, threads: int, address: str | None = None,
                     show: Callable[[Sequence[Task]], None] | None = None,
                     poll_s: float = 1.0) -> list[Task]:
    """Like :func:`run_tasks`, each task a Ray task (``threads`` CPUs each) running the
    same command on whichever node Ray picks; returns the failed ones. ``address``: the
    cluster's (None starts or joins a local instance). Paths in the commands must mean the
    same on every node (a shared filesystem) and the match database must be a server
    they all reach."""
    try:
        import ray
    except ImportError as exc:
        raise StudyFailed("the ray backend needs Ray: pip install 'rlgo[ray]'") from exc

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=threads, max_retries=0)(_run_command)
    cwd = os.getcwd()
    refs = {remote.remote(t.argv, str(t.log), worker_env(threads), cwd): t for t in tasks}
    for task in tasks:
        task.started = time.time()
    pending, failed = list(refs), []
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=poll_s)
            for ref in done:
                task = refs[ref]
                try:
                    task.returncode = int(ray.get(ref))
                except Exception:  # the task's node died, or Ray cancelled it
                    task.returncode = -1
                if task.returncode != 0:
                    failed.append(task)
            if show is not None:
                show(list(tasks))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return failed


def _to_stderr(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


def _run_command(argv: list[str], log: str, env: dict[str, str], cwd: str) -> int:
    """A Ray task's body: run one worker command, its output appended to ``log``."""
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                              cwd=cwd, check=False).returncode


def run_study(study_file: str | Path, workers: int | None = None, show: bool = True,
              backend: str = "local", address: str | None = None, *,
              allow_commands: bool = False, debug: bool = False,
              say: Callable[[str], None] | None = None) -> StudyConfig:
    """Train every run, play the league, write the report (module docstring).
    ``backend``: "local" (processes here) or "ray" (Ray tasks; ``address`` the cluster's).
    ``allow_commands``: the user's ``--allow-commands`` (anchors that run programs);
    ``debug``: ``rlgo --debug`` (the training workers get it too).
    ``say`` gets notes (more workers than cores; default: stderr).
    Raises StudyFileError for a bad study file, StudyFailed if a worker failed (the report
    is still written for what finished), KeyboardInterrupt when stopped."""
    from rlgo.study.report import write_report

    study_file = Path(study_file)
    study = load_study(study_file, allow_commands=allow_commands)
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    if workers is not None and workers < 0:
        raise ValueError(f"--workers must be >= 0 (0: one per core), got {workers}")
    study.out_dir.mkdir(parents=True, exist_ok=True)
    MatchDB(study.db_url).close()  # created here, before workers open it at once
    shutil.copyfile(study_file, study.out_dir / "study.toml")
    n = workers if workers is not None else study.workers
    n = n or cpu_cores()
    printer = progress_printer(study) if show else None
    notes: set[str] = set()

    def run(tasks: list[Task]) -> list[Task]:
        processes, threads, note = plan_workers(n, len(tasks), cpu_cores())
        if note and note not in notes:
            notes.add(note)
            (say or _to_stderr)(note)
        if backend == "ray":
            return run_tasks_on_ray(tasks, threads=threads, address=address, show=printer)
        return run_tasks(tasks, processes, threads=threads, show=printer)

    failed = run(training_tasks(study, debug))
    if not failed:
        failed = run(league_tasks(study, study_file, n))
    write_report(study)
    if failed:
        names = "; ".join(f"{t.name} (exit {t.returncode}, log {t.log})" for t in failed)
        raise StudyFailed(f"{len(failed)} worker(s) failed: {names}")
    return study
