"""Snapshots of a learner named by module path (``package.module:make``): the file
records the module, and arena, gtp, ladder rate and a study's league load it when the
user names that module, and only then."""

from __future__ import annotations

import shutil
import sys

import pytest
from typer.testing import CliRunner

from rlgo.cli import app
from rlgo.evaluation.reference import ReferenceTable
from rlgo.learning.files import load_file
from rlgo.registry import is_module_path, module_spec
from rlgo.study.config import load_study
from rlgo.study.league import pairings, play_pairing
from rlgo.training import build_trainer

MODULE = "first_hour_agent"
"""A third-party learner module: rlgo's REINFORCE under another name, outside rlgo."""


@pytest.fixture
def snapshot(tmp_path, monkeypatch):
    """A snapshot trained by ``first_hour_agent:make``; the module is then forgotten, so
    that whatever imports it again is seen."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / f"{MODULE}.py").write_text(
        "from rlgo.agents.reinforce import ReinforceConfig, make  # noqa: F401\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    trainer = build_trainer(f"{MODULE}:make", 5, 50, 0, tmp_path / "run",
                            ["net.blocks=1", "net.channels=8", "eval.every=0",
                             "train.parallel_games=4", "train.games_per_iteration=4"],
                            progress=False)
    trainer.fit()
    sys.modules.pop(MODULE, None)
    return trainer.run.snapshot_files()[-1]


def test_module_specs_compare_a_module_with_and_without_its_make():
    assert module_spec("pkg.mod") == module_spec(" pkg.mod:make ") == "pkg.mod:make"
    assert module_spec("mod") == "mod:make" and module_spec("pkg.mod:build") == "pkg.mod:build"
    assert is_module_path("pkg.mod") and is_module_path("mod:make")
    assert not is_module_path("reinforce") and not is_module_path("mod")


def test_the_snapshot_records_the_module_and_arena_loads_it_only_when_named(
        snapshot, tmp_path):
    assert load_file(snapshot)["agent"] == f"{MODULE}:make"
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    args = ["arena", str(snapshot), "random", "--games", "2", "-n", "5", "--db", db]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert (f"was trained by the third-party learner '{MODULE}:make', which rlgo imports only "
            f"when you name it: add --agent-module {MODULE}:make") in refused.output
    assert MODULE not in sys.modules  # the file's module name was not imported
    played = CliRunner().invoke(app, [*args, "--agent-module", MODULE, "--json"])
    assert played.exit_code == 0, played.output
    assert '"games": 2' in played.output


def test_gtp_and_ladder_rate_load_it_when_named(snapshot, tmp_path):
    refused = CliRunner().invoke(app, ["gtp", str(snapshot)], input="quit\n")
    assert refused.exit_code == 2 and f"add --agent-module {MODULE}:make" in refused.output
    served = CliRunner().invoke(app, ["gtp", str(snapshot), "--agent-module", f"{MODULE}:make"],
                                input="boardsize 5\ngenmove b\nquit\n")
    assert served.exit_code == 0, served.output
    assert "genmove Black: " in served.output and "?" not in served.output  # a move, no error
    table = ReferenceTable(board_size=5, komi=24.5, anchors={"random": (0.0, 0.0),
                                                             "rollout:2": (40.0, 20.0)})
    path = table.save(tmp_path / "5x5.toml")
    args = ["ladder", "rate", str(snapshot), "--reference", str(path), "--db",
            f"sqlite:///{tmp_path / 'm.sqlite'}", "--max-games", "4", "--round-games", "2"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and f"add --agent-module {MODULE}:make" in refused.output
    rated = CliRunner().invoke(app, [*args, "--agent-module", f"{MODULE}:make"])
    assert rated.exit_code == 0, rated.output
    assert "Elo after 4 games" in rated.output


STUDY = f"""
[study]
name = "modules"
board_size = 5
budget = "env_steps"
amount = 50
seeds = [0]
out = "{{out}}"

[evaluation]
every = 50
ladder = ["random"]

[league]
games = 2
anchors = ["random"]

[agents.mine]
learner = "{MODULE}:make"
"""


def test_a_study_league_plays_the_snapshots_of_its_module_learner(snapshot, tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(out=tmp_path / "study"))
    study = load_study(path)
    run = study.out_dir / "runs" / "mine-s0" / "snapshots"
    run.mkdir(parents=True)
    shutil.copy(snapshot, run / snapshot.name)
    listed = pairings(study)
    assert [(p.a.agent, p.b.name) for p in listed] == [("mine", "random")]
    assert play_pairing(study, 0, listed) == 2
