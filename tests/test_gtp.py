"""The GTP client: parsing, errors, timeouts, deaths and restarts against a fake engine
written in Python, then one round trip with the real GNU Go."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from rlgo.gtp import client as gtp
from rlgo.gtp.client import (
    EngineDiedError,
    EngineTimeoutError,
    GTPEngine,
    GTPError,
    gnugo_args,
    normalise_colour,
    parse_score,
)

# A scripted GTP engine. It answers with the command's id like a real engine, keeps a log
# of the commands it saw (the answer to ``history``) and misbehaves on request.
FAKE_ENGINE = textwrap.dedent(
    """
    import sys, time

    ignore_quit = "--ignore-quit" in sys.argv
    seen = []
    print("fake engine starting", file=sys.stderr, flush=True)
    for raw in sys.stdin:
        words = raw.split()
        if not words:
            continue
        ident = words.pop(0) if words[0].isdigit() else ""
        name, args = words[0], words[1:]
        def answer(text, ok=True, end="\\n\\n"):
            sys.stdout.write(("=" if ok else "?") + ident + (" " + text if text else "") + end)
            sys.stdout.flush()
        if name == "hang":
            print("about to hang on purpose", file=sys.stderr, flush=True)
            time.sleep(3600)
        elif name == "die":
            print("fatal: told to die", file=sys.stderr, flush=True)
            sys.exit(3)
        elif name == "quit":
            if ignore_quit:
                time.sleep(3600)
            answer("")
            break
        elif name == "fail":
            answer("no can do", ok=False)
        elif name == "multi":
            answer("line one\\nline two\\nline three")
        elif name == "crlf":
            answer("windows", end="\\r\\n\\r\\n")
        elif name == "history":
            answer(" | ".join(seen))
        elif name == "genmove":
            seen.append(" ".join(words))
            answer("d4")
        else:
            seen.append(" ".join(words))
            answer(" ".join(args))
    """
)


@pytest.fixture
def fake_args(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_gtp.py"
    script.write_text(FAKE_ENGINE)
    return [sys.executable, str(script)]


@pytest.fixture
def fake(fake_args: list[str]):
    with GTPEngine(fake_args, timeout=10) as eng:
        yield eng


# ----------------------------------------------------------------------------- protocol


def test_answers_are_parsed_one_and_several_lines(fake: GTPEngine):
    assert fake.send("echo hello world") == "hello world"
    assert fake.send("multi") == "line one\nline two\nline three"
    assert fake.send("crlf") == "windows"
    assert fake.send("   echo   spaced   out  ") == "spaced out"


def test_a_question_mark_answer_raises_gtp_error_and_the_session_goes_on(fake: GTPEngine):
    with pytest.raises(GTPError, match="no can do") as info:
        fake.send("fail")
    assert info.value.command == "fail"
    assert info.value.message == "no can do"
    assert fake.send("echo still here") == "still here"


def test_genmove_is_upper_case_and_remembered_as_a_move(fake: GTPEngine):
    assert fake.genmove("b") == "D4"
    assert "genmove black" in fake.send("history")


def test_empty_and_multi_line_commands_are_refused_or_flattened(fake: GTPEngine):
    with pytest.raises(ValueError):
        fake.send("   ")
    assert fake.send("echo a\nb") == "a b"


# ----------------------------------------------------------------------------- failures


def test_a_hung_engine_times_out_naming_the_command_and_its_stderr(fake: GTPEngine):
    fake.send("echo warm")
    with pytest.raises(EngineTimeoutError) as info:
        fake.send("hang", timeout=0.5)
    err = info.value
    assert err.command == "hang"
    assert "no answer within 0.5 s" in str(err)
    assert "about to hang on purpose" in err.stderr_tail
    assert not fake.alive  # killed: a late answer would desynchronise the stream
    with pytest.raises(EngineDiedError, match="restart"):
        fake.send("echo anyone")


def test_a_dying_engine_reports_its_exit_status_and_stderr(fake: GTPEngine):
    with pytest.raises(EngineDiedError) as info:
        fake.send("die")
    err = info.value
    assert not isinstance(err, EngineTimeoutError)
    assert err.command == "die"
    assert "exit status 3" in str(err)
    assert "fatal: told to die" in str(err)
    assert not fake.alive


def test_restart_replays_the_setup_and_the_moves(fake: GTPEngine):
    fake.boardsize(9)
    fake.komi(7.5)
    fake.komi(6.5)  # only the latest komi is replayed
    fake.clear_board()
    fake.play("b", "E5")
    fake.play("white", "C3")
    fake.undo()
    fake.play("w", "D4")
    old_pid = fake.pid
    with pytest.raises(EngineDiedError):
        fake.send("die")
    fake.restart()
    assert fake.pid != old_pid
    assert fake.send("history") == "boardsize 9 | komi 6.5 | play black E5 | play white D4"
    fake.restart(replay_moves=False)
    assert fake.send("history") == "boardsize 9 | komi 6.5"


def test_restart_after_a_timeout_resumes(fake: GTPEngine):
    fake.boardsize(5)
    with pytest.raises(EngineTimeoutError):
        fake.send("hang", timeout=0.3)
    fake.restart()
    assert fake.send("history") == "boardsize 5"
    assert fake.send("echo ok") == "ok"


def test_close_kills_an_engine_that_ignores_quit(fake_args: list[str]):
    eng = GTPEngine([*fake_args, "--ignore-quit"], timeout=10)
    assert eng.alive
    eng.close(timeout=0.3)
    assert not eng.alive
    eng.close()  # idempotent


def test_context_manager_closes_the_engine(fake_args: list[str]):
    with GTPEngine(fake_args) as eng:
        assert eng.send("echo in") == "in"
    assert not eng.alive


def test_a_missing_program_fails_at_start(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        GTPEngine([str(tmp_path / "no-such-engine")])


# ----------------------------------------------------------------------------- helpers


def test_colours_and_scores():
    assert normalise_colour("B") == normalise_colour("black") == "black"
    assert normalise_colour("w") == "white"
    with pytest.raises(ValueError):
        normalise_colour("red")
    assert parse_score("B+3.5") == 3.5
    assert parse_score("W+0.5") == -0.5
    assert parse_score("0") == 0.0
    with pytest.raises(ValueError):
        parse_score("Black wins")


def test_gnugo_command_line_uses_rlgo_rules():
    args = gnugo_args(level=3, path="/x/gnugo", capture_all_dead=True, never_resign=True)
    assert args[:2] == ["/x/gnugo", "--mode"]
    for flag in ("--chinese-rules", "--positional-superko", "--capture-all-dead",
                 "--never-resign"):
        assert flag in args
    assert args[args.index("--level") + 1] == "3"
    assert "--capture-all-dead" not in gnugo_args()


# ----------------------------------------------------------------------------- GNU Go


@pytest.mark.gnugo
def test_gnugo_round_trip(gnugo: str):
    with gtp.gnugo(level=1, board_size=9, komi=7.5, path=gnugo) as eng:
        assert "all_legal" in eng.list_commands()
        eng.play("black", "E5")
        eng.play("white", "pass")
        assert eng.list_stones("black") == ["E5"]
        assert eng.list_stones("white") == []
        legal = eng.all_legal("black")
        assert len(legal) == 80 and "E5" not in legal
        assert eng.is_legal("white", "D4") and not eng.is_legal("white", "E5")
        with pytest.raises(GTPError, match="illegal move"):
            eng.play("white", "E5")
        reply = eng.genmove("black")
        assert reply == "pass" or reply in legal
        parse_score(eng.final_score())
        before = (eng.list_stones("black"), eng.list_stones("white"))
        eng.restart()  # a fresh process, same board
        assert (eng.list_stones("black"), eng.list_stones("white")) == before
        assert eng.send("query_boardsize") == "9"
        assert float(eng.send("get_komi")) == 7.5
