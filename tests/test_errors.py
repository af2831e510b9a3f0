"""The command line's one error handler (rlgo.cli._Commands, rlgo.errors): each kind of
error a user can act on ends in one line with its exit status, wherever it is raised."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from rlgo.cli import _Commands, app
from rlgo.errors import Interrupted, RlgoError, WorkFailed
from rlgo.evaluation.matchdb import MatchDBError
from rlgo.learning.files import CheckpointError
from rlgo.study.config import StudyFileError
from rlgo.study.runner import StudyFailed
from rlgo.tuning.workers import TuneError


def _app_raising(exc: BaseException) -> typer.Typer:
    """A two-level app like rlgo's (a command inside a sub-group) whose command raises."""
    root = typer.Typer(cls=_Commands)
    sub = typer.Typer()
    root.add_typer(sub, name="sub")

    @sub.command("go")
    def go() -> None:
        raise exc

    @root.command("other")
    def other() -> None:  # two commands, so that "sub go" is a path
        pass

    return root


@pytest.mark.parametrize(("exc", "line", "code"), [
    (ValueError("komi must be finite"), "error: komi must be finite", 2),
    (StudyFileError("bad table [x]"), "error: bad table [x]", 2),
    (CheckpointError("damaged"), "error: damaged", 2),
    (MatchDBError("foreign database"), "error: foreign database", 2),
    (StudyFailed("2 runs failed"), "error: 2 runs failed", 1),
    (TuneError("worker 1 failed"), "error: worker 1 failed", 1),
    (WorkFailed("disk full"), "error: disk full", 1),
    (Interrupted("rerun to resume"), "interrupted: rerun to resume", 130),
    (KeyboardInterrupt(), "interrupted", 130),
])
def test_each_error_ends_in_one_line_with_its_status(exc, line, code):
    res = CliRunner().invoke(_app_raising(exc), ["sub", "go"])
    assert res.exit_code == code
    assert res.output.strip().splitlines() == [line]


def test_every_user_facing_error_class_is_an_rlgo_error():
    from rlgo.agents.gtp_player import GTPPlayerError
    from rlgo.evaluation.players import PlayerSpecError
    from rlgo.gtp.client import EngineDiedError
    from rlgo.protocols import CannotSearchError
    from rlgo.registry import UnknownAgentError
    from rlgo.training.runs import RunLockedError

    for cls in (GTPPlayerError, PlayerSpecError, EngineDiedError, CannotSearchError,
                UnknownAgentError, RunLockedError, CheckpointError, StudyFileError,
                MatchDBError, StudyFailed, TuneError):
        assert issubclass(cls, RlgoError), cls


def test_another_exception_is_not_taken_for_bad_input():
    with pytest.raises(ZeroDivisionError):
        CliRunner().invoke(_app_raising(ZeroDivisionError("a bug")), ["sub", "go"],
                           catch_exceptions=False)


def test_rlgo_commands_report_through_it(tmp_path):
    res = CliRunner().invoke(app, ["bench", "mcts", "--precision", "float16"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: --precision must be one of auto, float32, bfloat16, " \
        "got 'float16'"
    res = CliRunner().invoke(app, ["elo", "--db", f"sqlite:///{tmp_path / 'none.sqlite'}"])
    assert res.exit_code == 2 and res.output.startswith("error: ")
