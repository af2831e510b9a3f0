"""The errors a user can act on.

Every error rlgo raises for bad input or a failed outside part (a study file, a
checkpoint, a match database, a GTP engine, a worker process) is a :class:`RlgoError`,
or a ``ValueError`` from a config's validation. The command line catches both in one
place (:mod:`rlgo.cli`) and prints ``error: <message>`` with :attr:`RlgoError.exit_code`
(2 for bad input, 1 for work that failed part way, 130 for an interrupt); anything else
that escapes is a bug, reported as one.
"""

from __future__ import annotations

from typing import ClassVar


class RlgoError(Exception):
    """An error whose message tells the user what went wrong and what to do."""

    exit_code: ClassVar[int] = 2
    """The command line's exit status: 2 bad input, 1 work that failed part way."""
    label: ClassVar[str] = "error"
    """The word the command line prints before the message."""


class WorkFailed(RlgoError):
    """Work started and failed part way (a worker process, a full disk); what was
    finished is kept, and the message says how to go on."""

    exit_code = 1


class Interrupted(RlgoError):
    """Ctrl-C or SIGTERM stopped a command; the message says what was kept and how to
    resume."""

    exit_code = 130
    label = "interrupted"
