"""What a new user meets first on the command line: where outputs go, what the tables
print, what the help says."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rlgo.cli import app
from rlgo.envs import Rules
from rlgo.evaluation import reference
from rlgo.evaluation.reference import ReferenceTable

# ----------------------------------------------------------------- ladder calibrate


@pytest.fixture
def fake_calibration(monkeypatch):
    """``calibrate`` replaced by one that returns a fixed table at once; records calls."""
    calls = []

    def calibrate(specs, rules, db, **kwargs):
        calls.append(list(specs))
        return ReferenceTable(rules.board_size, float(rules.komi),
                              {"random": (0.0, 0.0), "rollout:4": (120.0, 30.0)}, games=8)

    monkeypatch.setattr(reference, "calibrate", calibrate)
    return calls


def test_calibrate_writes_under_runs_by_default_and_leaves_the_committed_table(
        tmp_path, monkeypatch, fake_calibration):
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "studies" / "anchors" / "5x5.toml"
    committed.parent.mkdir(parents=True)
    committed.write_text("the committed 2,550-game table\n")
    args = ["ladder", "calibrate", "random", "rollout:4", "-n", "5", "--db",
            f"sqlite:///{tmp_path / 'c.sqlite'}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "wrote runs/anchors/5x5.toml (8 games)" in res.output
    assert committed.read_text() == "the committed 2,550-game table\n"
    written = ReferenceTable.load(tmp_path / "runs/anchors/5x5.toml", Rules(board_size=5))
    assert written.anchors["rollout:4"] == (120.0, 30.0)
    again = CliRunner().invoke(app, args)  # the default file exists now: refused too
    assert again.exit_code == 2 and "runs/anchors/5x5.toml exists" in again.output
    assert len(fake_calibration) == 1


def test_calibrate_replaces_an_existing_table_only_with_replace(tmp_path, fake_calibration):
    table = tmp_path / "5x5.toml"
    table.write_text("an earlier table\n")
    args = ["ladder", "calibrate", "random", "rollout:4", "-n", "5", "--db",
            f"sqlite:///{tmp_path / 'c.sqlite'}", "--out", str(table)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert f"{table} exists; pass --replace to overwrite it" in res.output
    assert table.read_text() == "an earlier table\n" and fake_calibration == []  # no game
    res = CliRunner().invoke(app, [*args, "--replace"])
    assert res.exit_code == 0, res.output
    assert set(ReferenceTable.load(table).anchors) == {"random", "rollout:4"}


# ----------------------------------------------------------------- ladder rate


def test_ladder_rate_refuses_a_snapshot_of_another_komi_than_the_table(tmp_path):
    from rlgo.training import build_trainer

    trainer = build_trainer("reinforce", 5, 50, 0, tmp_path / "run",
                            ["net.blocks=1", "net.channels=8", "eval.every=0",
                             "train.komi=0.5", "train.parallel_games=4",
                             "train.games_per_iteration=4"], progress=False)
    trainer.fit()
    snapshot = trainer.run.snapshot_files()[-1]
    anchors = {"random": (0.0, 0.0), "rollout:2": (40.0, 20.0)}
    other = ReferenceTable(5, 24.5, anchors).save(tmp_path / "komi24.toml")
    same = ReferenceTable(5, 0.5, anchors).save(tmp_path / "komi05.toml")
    args = ["ladder", "rate", str(snapshot), "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
            "--max-games", "4", "--round-games", "2", "--reference"]
    res = CliRunner().invoke(app, [*args, str(other)])
    assert res.exit_code == 2
    assert (f"{snapshot} was trained with komi 0.5 and {other} is calibrated at komi 24.5"
            in res.output)
    res = CliRunner().invoke(app, [*args, str(same)])
    assert res.exit_code == 0, res.output
    assert "Elo after 4 games" in res.output


# ----------------------------------------------------------------- rlgo elo


def test_elo_table_shows_bounds_without_a_point_and_unlinked_players_without_nan(tmp_path):
    """random 1-1 against A; B won both its games, against A; C beat D twice, linked to
    no one. B's record is saturated: > A's rating, the prior's point only in --json."""
    import json

    from rlgo.evaluation.matchdb import GameRecord, MatchDB

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    db = MatchDB(url)
    for name in ("random", "A", "B", "C", "D"):
        db.add_player(name, "test")
    results = [("random", "A", "B"), ("A", "random", "B"), ("B", "A", "B"), ("A", "B", "W"),
               ("C", "D", "B"), ("D", "C", "W")]
    db.add_games([GameRecord(black, white, 5, 24.5, winner) for black, white, winner in results])
    rows = {r["player"]: r for r in json.loads(
        CliRunner().invoke(app, ["elo", "--db", url, "--json"]).output)}
    a = rows["A"]["elo"]
    assert rows["B"]["bound"] == ">" and rows["B"]["bound_elo"] == a and rows["B"]["elo"] > a
    assert rows["C"]["elo"] is None and rows["D"]["elo"] is None
    res = CliRunner().invoke(app, ["elo", "--db", url])
    assert res.exit_code == 0, res.output
    assert "nan" not in res.output and "inf" not in res.output and "NaN" not in res.output
    b_row = next(line for line in res.output.splitlines() if line.split()[:1] == ["B"])
    assert b_row.split()[1:6] == [">", f"{a:.1f}", "-", "-", "-"]  # no error, no interval
    assert (f"B: won every game, so its rating is only > {a:.1f}, the strongest opponent it met; "
            f"the prior places it at {rows['B']['elo']:.1f} (elo in --json)") in res.output
    c_row = next(line for line in res.output.splitlines() if line.split()[:1] == ["C"])
    assert c_row.split()[1:5] == ["-", "-", "-", "-"]
    assert "C: no chain of games links it to the anchor" in res.output


# ----------------------------------------------------------------- --set lists


@pytest.mark.parametrize("value", ['["random","rollout:8"]', "[ 'random', 'rollout:8' ]",
                                   "random,rollout:8", " random , rollout:8 "])
def test_a_list_setting_takes_a_toml_array_or_commas(value):
    from rlgo.evaluation import EvalConfig
    from rlgo.training.config import apply_overrides

    cfg = apply_overrides({"eval": EvalConfig()}, [f"eval.ladder={value}"])["eval"]
    assert cfg.ladder == ("random", "rollout:8")


@pytest.mark.parametrize("value, message", [
    ('["random","rollout:8"', "is not a TOML array"),
    ('["random", 8]', "every item must be a str"),
    ('"random","rollout:8"', "brackets or quotes outside a TOML array"),
])
def test_a_list_setting_that_does_not_parse_is_refused_not_split(value, message):
    from rlgo.evaluation import EvalConfig
    from rlgo.training.config import apply_overrides

    with pytest.raises(ValueError, match=message) as err:
        apply_overrides({"eval": EvalConfig()}, [f"eval.ladder={value}"])
    assert """write --set eval.ladder='["random", "rollout:8"]'""" in str(err.value)


# ----------------------------------------------------------------- help and bench texts


def _commands(group, path=()):
    """(argv path, click command) of every command under ``group``."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_help_text_shows_its_table_names_and_no_issue_numbers():
    import re

    import typer

    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        written = " ".join([command.help or "", *(getattr(p, "help", None) or ""
                                                 for p in command.params)])
        shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output
        for table in set(re.findall(r"\[[a-z_]+\]", written)):
            assert table in shown, f"rlgo {' '.join(path)} --help loses {table}"
            checked += 1
        assert not re.search(r"issue \d", shown, re.IGNORECASE), path
    assert checked >= 4  # [train], [learner], [net] of train, [credit] of analyze credit


def test_bench_tables_print_the_9x9_targets_only_for_a_9x9_row():
    from rlgo.bench.contention import format_contention_table
    from rlgo.bench.env import format_env_table
    from rlgo.bench.mcts import format_mcts_table

    mcts = [{"impl": "network", "board_size": 5, "evals_per_s": 1000.0, "batch": 64},
            {"impl": "search", "board_size": 5, "evals_per_s": 800.0, "batch": 64,
             "simulations": 64}]
    assert "target" not in format_mcts_table(mcts)
    nine = [{**r, "board_size": 9} for r in mcts]
    assert "target (9x9): search >= 0.75x network" in format_mcts_table(mcts + nine)
    env = [{"impl": "rlgo-batched", "board_size": 5, "steps_per_s": 1e6}]
    assert "target" not in format_env_table(env)
    assert "target (rlgo-batched, 9x9)" in format_env_table([{**env[0], "board_size": 9}])
    contention = format_contention_table([{"setting": "default", "idle": 10.0,
                                           "contended": 5.0, "ratio": 0.5}])
    assert "issue" not in contention


# ----------------------------------------------------------------- study progress


def test_study_progress_never_cuts_a_number_into_a_wrong_unit(tmp_path, monkeypatch, capsys):
    import types

    from rlgo.study.runner import Task, fit_fields, progress_printer
    from rlgo.training.runs import Counters, RunDir

    run = RunDir(tmp_path / "run")
    run.open_metrics(keep_rows=0)
    run.log(Counters(env_steps=12_345, games=100, wall_s=3.0),
            {"charts/games_per_s": 5.0, "eval/elo": 100.0})
    monkeypatch.setenv("COLUMNS", "80")
    show = progress_printer(types.SimpleNamespace(budget="env_steps", amount=150_000))
    show([Task("train ppo-s0", [], tmp_path / "log", run.path)])
    line = capsys.readouterr().out.strip()
    assert "8.2% of budget" in line and "12,345 env steps" in line and "Elo    100" in line
    fields = ["train ppo-s0 running ", " 8.2% of budget", "  12,345 env steps"]
    assert fit_fields(fields, 40) == "train ppo-s0 running  8.2% of budget"
    assert fit_fields(fields, 10) == "train ppo-"
    assert fit_fields(fields, None) == "".join(fields)
