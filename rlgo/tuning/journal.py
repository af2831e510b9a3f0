"""The journal file a tuning's Optuna study is stored in (``<out>/optuna.journal``,
Optuna's :class:`~optuna.storages.journal.JournalFileBackend`): one JSON record a line,
appended under Optuna's lock.

**A torn last record.** A process killed (or a disk filled) in the middle of an append
leaves a last line that is cut short. Optuna reads past it, but its next append joins
the new record to the torn one, and from then on every read of the file fails
(``Expecting ':' delimiter``). So before a study is opened, :func:`set_aside_torn_tail`
looks at the last line under Optuna's own lock (no writer is then in the middle of a
record): when it is not a whole JSON record, the file as it was is copied to
``optuna.journal.torn-<time>`` and the torn bytes are cut off, with a note naming both.
The trial whose record was torn is then RUNNING with no live worker, and the tuning
marks it failed as it does for a killed worker (:mod:`rlgo.tuning.workers`).

A journal whose earlier records are not JSON (not a journal, or damaged in the middle)
is not repaired: it is a ValueError naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from optuna.storages.journal import JournalFileSymlinkLock

__all__ = ["set_aside_torn_tail"]


def set_aside_torn_tail(path: str | Path) -> str:
    """Cut a torn last record off the journal at ``path`` (module docstring); returns a
    note saying what was done, or "" when the journal is whole (or missing). Raises
    ValueError naming the file when a record before the last is not JSON."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return ""
    lock = JournalFileSymlinkLock(str(path))  # Optuna's: its appends take the same one
    lock.acquire()
    try:
        data = path.read_bytes()
        tail = _torn_tail(data, path)
        if not tail:
            return ""
        copy = _free_name(path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}"))
        shutil.copyfile(path, copy)
        with open(path, "r+b") as f:
            f.truncate(len(data) - len(tail))
            f.flush()
            os.fsync(f.fileno())
    finally:
        lock.release()
    return (f"{path}: its last record was cut short ({len(tail)} bytes; a crash or a full "
            f"disk during a write?): the file as it was is kept as {copy.name} and the torn "
            "record is removed, so the tuning goes on from the records before it")


def _torn_tail(data: bytes, path: Path) -> bytes:
    """The bytes of a torn last record of ``data``, or b"" when the last record is
    whole; ValueError naming ``path`` when an earlier record is not JSON, or when the
    torn tail does not start like a record (then the file is no journal)."""
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail: bytes after the last newline
    if not tail and complete and not _is_record(complete[-1]):
        tail = complete.pop() + b"\n"  # a whole line that is not a record: torn too
    for number, line in enumerate(complete, start=1):
        if not _is_record(line):
            raise ValueError(f"{path} is not a readable Optuna journal: record {number} is "
                             "not JSON; move the file away to start the tuning anew")
    if tail and not tail.startswith(b"{"):
        raise ValueError(f"{path} is not a readable Optuna journal: it does not hold JSON "
                         "records; move the file away to start the tuning anew")
    return tail


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return False


def _free_name(path: Path) -> Path:
    """``path``, or ``path`` with ``-1``, ``-2``... appended if it exists."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate
