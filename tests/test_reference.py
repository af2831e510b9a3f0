"""The fixed Elo scale: reference tables, rating against fixed anchors, adaptive
match-making on a synthetic population with known strengths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlgo.envs import Rules
from rlgo.evaluation.elo import ELO_PER_NAT, expected_score
from rlgo.evaluation.reference import ReferenceTable, adaptive_rating, rate_against

ANCHORS = {"random": (0.0, 0.0), "a200": (200.0, 20.0), "a400": (400.0, 20.0),
           "a600": (600.0, 25.0), "a800": (800.0, 25.0), "a1000": (1000.0, 30.0),
           "a1500": (1500.0, 40.0)}
TABLE = ReferenceTable(board_size=7, komi=8.5, anchors=ANCHORS, command="test", games=0)


def test_rating_against_fixed_opponents_by_hand():
    # 3 wins and 1 loss against a player at 0, no prior: p = 3/4, theta = ln 3 nats
    r = rate_against([(0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 0.0)], prior_games=0.0)
    assert r.elo == pytest.approx(ELO_PER_NAT * math.log(3))  # 190.8
    assert r.stderr == pytest.approx(ELO_PER_NAT / math.sqrt(4 * 0.75 * 0.25))  # 200.6
    assert r.bound == ""
    draws = rate_against([(100.0, 0.5)] * 6, prior_games=0.0)
    assert draws.elo == pytest.approx(100.0)


def test_rating_converges_on_records_far_from_their_opponents():
    # Losing every game to the strongest 7x7 anchor and to random (a fresh network's
    # first evaluation): pure Newton from the opponents' mean overshot until the
    # curvature underflowed (a ZeroDivisionError that stopped a study's runs).
    low = rate_against([(2471.0, 0.0)] * 10 + [(0.0, 0.0)] * 10)
    assert (low.bound, low.bound_elo) == ("<", 0.0) and -2000 < low.elo < 0
    high = rate_against([(0.0, 1.0)] * 10 + [(2471.0, 1.0)] * 10)
    assert (high.bound, high.bound_elo) == (">", 2471.0) and 2471 < high.elo < 4500
    # a mixed record: the maximum of the log posterior, found on a fine grid
    results = [(1861.0, 0.0)] * 20 + [(0.0, 1.0)] * 20 + [(361.0, 0.5)] * 3
    grid = np.linspace(-1000.0, 3000.0, 400_001)
    opp = np.array([r[0] for r in results])[:, None]
    score = np.array([r[1] for r in results])[:, None]
    p = expected_score(grid[None, :], opp)
    centre = opp.mean()
    log_post = (score * np.log(p) + (1 - score) * np.log1p(-p)).sum(0) + 2.0 * (
        0.5 * np.log(expected_score(grid, centre)) + 0.5 * np.log1p(-expected_score(grid,
                                                                                    centre)))
    assert rate_against(results).elo == pytest.approx(grid[np.argmax(log_post)], abs=0.05)


def test_a_saturated_record_against_fixed_opponents_is_a_bound():
    r = rate_against([(0.0, 1.0), (400.0, 1.0), (200.0, 1.0)])
    assert (r.bound, r.bound_elo) == (">", 400.0)
    r = rate_against([(300.0, 0.0), (500.0, 0.0)])
    assert (r.bound, r.bound_elo) == ("<", 300.0)


def _simulated(true_elo: float, seed: int):
    rng = np.random.default_rng(seed)

    def play(anchor: str, games: int) -> list[float]:
        p = expected_score(true_elo, ANCHORS[anchor][0])
        return [float(x) for x in rng.random(games) < p]

    return play


@pytest.mark.parametrize("true_elo", [150.0, 700.0, 1200.0])
def test_adaptive_match_making_brackets_the_player_and_reaches_the_target(true_elo):
    hits = 0
    for seed in range(10):
        out = adaptive_rating(TABLE, _simulated(true_elo, seed), target_stderr=50.0,
                              max_games=600, round_games=10)
        r = out.rating
        assert r.stderr <= 50.0 and r.bound == ""
        hits += abs(r.elo - true_elo) <= 2 * r.stderr
        played = {a: len(s) for a, s in out.played.items()}
        near = sum(n for a, n in played.items() if abs(ANCHORS[a][0] - true_elo) <= 300)
        assert near >= 0.7 * sum(played.values())  # informative opponents, not far ones
    assert hits >= 8  # ~95% coverage expected


def test_a_player_beyond_the_strongest_anchor_ends_as_a_bound():
    out = adaptive_rating(TABLE, _simulated(5000.0, 0), max_games=200)
    assert (out.rating.bound, out.rating.bound_elo) == (">", 1500.0)
    assert "a1500" in out.played and out.rating.games < 200  # stopped: nothing above


def test_anchors_whose_engine_is_not_installed_are_left_out_of_the_match_making(
        tmp_path, monkeypatch):
    from rlgo.evaluation.players import missing_program
    from rlgo.evaluation.reference import leaving_out, playable_here

    monkeypatch.setenv("RLGO_PACHI", str(tmp_path / "no-pachi-here"))
    assert "Pachi is not installed" in missing_program("pachi:500")
    assert missing_program("rollout:32") is None and missing_program("random") is None
    assert missing_program("gnugo:0") is None  # installed here and in CI
    table = ReferenceTable(board_size=7, komi=8.5, anchors={
        **ANCHORS, "pachi:500": (2000.0, 90.0), "pachi:2000": (2100.0, 95.0)})
    here, missing = playable_here(table)
    assert here.anchors == ANCHORS and set(missing) == {"pachi:500", "pachi:2000"}
    note = leaving_out(missing)
    assert "pachi:500, pachi:2000 (Pachi is not installed" in note and "RLGO_PACHI" in note
    # a strong player meets the strongest anchor left and ends as a bound, never Pachi
    out = adaptive_rating(here, _simulated(5000.0, 0), max_games=200)
    assert (out.rating.bound, out.rating.bound_elo) == (">", 1500.0)
    assert not any(a.startswith("pachi") for a in out.played)
    assert playable_here(TABLE) == (TABLE, {})


def test_reference_tables_round_trip_and_refuse_another_board(tmp_path):
    path = TABLE.save(tmp_path / "7x7.toml")
    again = ReferenceTable.load(path, Rules(board_size=7, komi=8.5))
    assert again.anchors.keys() == ANCHORS.keys() and again.command == "test"
    assert again.anchors["a600"] == (600.0, 25.0)
    with pytest.raises(ValueError, match="calibrates 7x7 with komi 8.5, not 9x9"):
        ReferenceTable.load(path, Rules(board_size=9))
    with pytest.raises(ValueError, match="not 7x7 with komi 0.5"):
        ReferenceTable.load(path, Rules(board_size=7, komi=0.5))
    path.write_text(path.read_text().replace("version = 1", "version = 9"))
    with pytest.raises(ValueError, match="version 9"):
        ReferenceTable.load(path)
    (tmp_path / "bad.toml").write_text("[anchors]\n")
    with pytest.raises(ValueError, match="not an rlgo reference table"):
        ReferenceTable.load(tmp_path / "bad.toml")


def test_a_run_evaluated_on_a_reference_table_logs_a_fixed_scale_rating(tmp_path,
                                                                         monkeypatch):
    from rlgo.training import build_trainer, load_metrics

    table = ReferenceTable(board_size=5, komi=0.5, anchors={
        "random": (0.0, 0.0), "rollout:2": (60.0, 20.0), "rollout:8": (200.0, 25.0)})
    path = table.save(tmp_path / "5x5.toml")
    sets = ["net.blocks=1", "net.channels=8", "train.parallel_games=8",
            "train.games_per_iteration=8", "eval.every=200", "eval.games=4",
            f"eval.reference={path}", "eval.max_games=12",
            "eval.target_stderr=10", "train.komi=0.5"]
    build_trainer("reinforce", 5, 300, 0, tmp_path / "run", sets, progress=False).fit()
    m = load_metrics(tmp_path / "run")
    games = m[m.metric == "eval/games"].value
    assert len(games) == 3 and (games == 12).all()  # steps 0, 200, end; target out of reach
    assert m[m.metric == "eval/elo_stderr"].value.notna().all()
    assert m.metric.str.match(r"eval/vs_(random|rollout:\d)/score").any()
    with_pachi = ReferenceTable(board_size=5, komi=0.5, anchors={
        **table.anchors, "pachi:500": (900.0, 50.0)}).save(tmp_path / "pachi.toml")
    monkeypatch.setenv("RLGO_PACHI", str(tmp_path / "no-pachi-here"))
    with pytest.warns(UserWarning, match="leaving out anchors .* pachi:500"):
        build_trainer("reinforce", 5, 100, 0, tmp_path / "pachi", [
            *sets[:6], f"eval.reference={with_pachi}", *sets[7:]], progress=False).fit()
    m = load_metrics(tmp_path / "pachi")
    assert not m.metric.str.contains("pachi").any() and m.metric.eq("eval/elo").any()
    wrong = ReferenceTable(board_size=7, komi=8.5, anchors={"random": (0.0, 0.0),
                                                           "rollout:2": (60.0, 20.0)})
    bad = wrong.save(tmp_path / "7x7.toml")
    with pytest.raises(ValueError, match="calibrates 7x7"):
        build_trainer("reinforce", 5, 300, 0, tmp_path / "bad",
                      [*sets[:-3], f"eval.reference={bad}", "train.komi=0.5"],
                      progress=False).fit()


@pytest.mark.parametrize("name, size, komi", [("5x5", 5, 0.5), ("7x7", 7, 8.5),
                                             ("9x9", 9, 7.5), ("9x9_seed1", 9, 7.5),
                                             ("7x7_v3", 7, 8.5), ("7x7_v4", 7, 8.5)])
def test_the_committed_reference_tables_load_and_are_ordered(name, size, komi):
    from pathlib import Path

    path = Path(__file__).parents[1] / "studies" / "anchors" / f"{name}.toml"
    table = ReferenceTable.load(path, Rules(board_size=size, komi=komi))
    assert table.anchors["random"] == (0.0, 0.0) and table.games >= 900
    rollouts = [table.anchors[f"rollout:{n}"][0] for n in (8, 32, 128)]
    assert rollouts == sorted(rollouts)  # more playouts, stronger
    assert "calibrate" in table.command
    if "gnugo-mc:40000" in table.anchors:  # the Monte Carlo anchors spread the top
        top = [table.anchors[a][0] for a in ("gnugo:10", "gnugo-mc:8000", "gnugo-mc:40000")]
        assert top == sorted(top) and top[-1] - top[0] > 200
    if size == 9:  # random to Pachi: the mixed players bridge rollout:512 to GNU Go 0
        chain = [table.anchors[a][0] for a in (
            "mix:gnugo:0:0.35", "mix:gnugo:0:0.25", "mix:gnugo:0:0.15", "mix:gnugo:0:0.07",
            "gnugo:0", "gnugo:10", "pachi:500", "pachi:2000")]
        assert chain == sorted(chain) and table.anchors["rollout:512"][0] < chain[4]


def test_rlgo_ladder_calibrate_and_rate_end_to_end(tmp_path):
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    table = tmp_path / "5x5.toml"
    cli = [sys.executable, "-m", "rlgo.cli", "ladder"]
    done = subprocess.run([*cli, "calibrate", "random", "rollout:1", "rollout:4", "-n", "5",
                           "--komi", "0.5", "--games", "8", "--db", db, "--out", str(table)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = ReferenceTable.load(table, Rules(board_size=5, komi=0.5))
    assert set(loaded.anchors) == {"random", "rollout:1", "rollout:4"} and loaded.games == 24
    rated = subprocess.run([*cli, "rate", "rollout:2", "--reference", str(table), "--db", db,
                            "--max-games", "20", "--round-games", "4"],
                           capture_output=True, text=True, timeout=300)
    assert rated.returncode == 0 and "Elo after 20 games" in rated.stdout, rated.stderr
    no_zero = subprocess.run([*cli, "calibrate", "rollout:1", "rollout:4", "-n", "5",
                              "--db", db, "--out", str(tmp_path / "x.toml")],
                             capture_output=True, text=True, timeout=300)
    assert no_zero.returncode == 2 and "must include random" in no_zero.stderr
    again = subprocess.run([*cli, "calibrate", "random", "rollout:1", "-n", "5", "--komi",
                            "0.5", "--db", db, "--out", str(tmp_path / "y.toml")],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already holds 24 calibration games" in again.stderr


def test_calibration_links_must_rest_on_games_not_on_sweeps():
    import pandas as pd

    from rlgo.evaluation.reference import linked_groups

    def games(pairs):  # (black, white, winners...)
        return pd.DataFrame([(b, w, x) for b, w, results in pairs for x in results],
                            columns=["black", "white", "winner"])

    specs = ["random", "rollout:8", "rollout:512", "gnugo:0", "gnugo:10"]
    # 9x9 as measured: GNU Go 0 swept rollout:512; the GNU Go levels split games
    swept = games([("random", "rollout:8", "BWW"), ("rollout:8", "rollout:512", "BWWW"),
                   ("rollout:512", "gnugo:0", "WWWW"), ("gnugo:0", "rollout:512", "BBBB"),
                   ("gnugo:0", "gnugo:10", "BWWW")])
    assert linked_groups(swept, specs) == [["random", "rollout:8", "rollout:512"],
                                          ["gnugo:0", "gnugo:10"]]
    # one game won by rollout:512 (or a draw) links the groups
    linked = pd.concat([swept, games([("rollout:512", "gnugo:0", ["draw"])])])
    assert linked_groups(linked, specs) == [specs]


def _calibration_moves(db) -> list[tuple[str, str, str]]:
    games = db.games(run="calibration")
    moves = games.sgf.str.replace(r"DT\[[^]]*\]", "", regex=True)  # not the date
    return sorted(zip(games.black, games.white, moves, strict=True))


def test_a_killed_calibration_resumes_to_the_same_games_and_a_table_extends_upwards(
        tmp_path, monkeypatch):
    import rlgo.evaluation.reference as reference
    from rlgo.evaluation.matchdb import MatchDB

    rules = Rules(board_size=5, komi=0.5)
    specs = ["random", "rollout:1", "rollout:4"]
    straight = MatchDB(f"sqlite:///{tmp_path / 'straight.sqlite'}")
    whole = reference.calibrate(specs, rules, straight, games=6)

    killed = MatchDB(f"sqlite:///{tmp_path / 'killed.sqlite'}")
    real_play, calls = reference.play_match, []

    def play_then_die(*args, **kwargs):  # the second pairing loses 4 games to a kill
        calls.append(kwargs["tags"]["calibration"])
        summary = real_play(*args, **kwargs)
        if len(calls) == 2:
            ids = killed.games(run="calibration").id.tolist()[-4:]
            killed.delete_games(run="calibration", ids=ids)
            raise KeyboardInterrupt
        return summary

    monkeypatch.setattr(reference, "play_match", play_then_die)
    with pytest.raises(KeyboardInterrupt):
        reference.calibrate(specs, rules, killed, games=6)
    assert len(killed.games(run="calibration")) == 6 + 2
    monkeypatch.setattr(reference, "play_match", real_play)
    said = []
    resumed = reference.calibrate(specs, rules, killed, games=6, progress=said.append)
    assert resumed.anchors == whole.anchors and resumed.games == 18
    assert said[0] == "1 of 3 pairings already played, kept; 2 games of a pairing cut " \
                      "short removed"
    assert said[1].startswith("random vs rollout:4: +") and "(6 games," in said[1]
    assert _calibration_moves(killed) == _calibration_moves(straight)

    before = straight.games(run="calibration").id.tolist()
    calls.clear()
    monkeypatch.setattr(reference, "play_match", lambda *a, **k: (
        calls.append(k["tags"]["calibration"]), real_play(*a, **k))[1])
    taller = reference.calibrate([*specs, "rollout:16"], rules, straight, games=6)
    assert [c.split(",")[0] for c in calls] == ["rollout:1#1 vs rollout:16#3",
                                                "rollout:4#2 vs rollout:16#3"]
    assert straight.games(run="calibration").id.tolist()[:18] == before
    assert taller.games == 30 and set(taller.anchors) == {*specs, "rollout:16"}

    with pytest.raises(ValueError, match="holds 18 calibration games of 5x5 komi 0.5 that "
                                         "this calibration would not play"):
        reference.calibrate(specs, rules, killed, games=6, seed=1)
    with pytest.raises(ValueError, match="listed twice"):
        reference.calibrate([*specs, "rollout:1"], rules, killed, games=6)
    # a bad anchor at the end of the list fails before the first game, not after the rest
    fresh = MatchDB(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    with pytest.raises(ValueError, match="Monte Carlo mode plays boards up to 9x9"):
        reference.calibrate([*specs, "gnugo-mc:100"], Rules(board_size=13), fresh, games=6)
    assert len(fresh.games()) == 0


def test_comparing_two_calibrations_anchor_by_anchor(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app
    from rlgo.evaluation.reference import compare_tables

    first = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), "a": (100.0, 10.0),
                                    "b": (300.0, 20.0), "c": (500.0, 30.0)})
    second = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), "a": (125.0, 10.0),
                                     "b": (290.0, 20.0), "d": (700.0, 30.0)})
    moved = compare_tables(first, second).set_index("anchor")
    assert list(moved.index) == ["a", "b"]  # shared, random left out
    # a: +25 > 1.96 * 10 = 19.6, but <= 1.96 * sqrt(10^2 + 10^2) = 27.7
    assert moved.loc["a", "moved"] == 25.0
    assert (moved.loc["a", "within"], moved.loc["a", "within_difference"]) == (False, True)
    assert moved.loc["b", "within"] and moved.loc["b", "within_difference"]
    with pytest.raises(ValueError, match="different games"):
        compare_tables(first, ReferenceTable(7, 8.5, second.anchors))
    paths = [first.save(tmp_path / "first.toml"), second.save(tmp_path / "second.toml")]
    res = CliRunner().invoke(app, ["ladder", "compare", *map(str, paths)])
    assert res.exit_code == 0, res.output
    assert "1 of 2 anchors within the first table's 95% interval; 2 of 2 within" in res.output


def test_rlgo_ladder_rate_says_which_anchors_it_left_out(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from rlgo.cli import app

    monkeypatch.setenv("RLGO_PACHI", str(tmp_path / "no-pachi-here"))
    table = ReferenceTable(board_size=5, komi=0.5, anchors={
        "random": (0.0, 0.0), "rollout:4": (150.0, 20.0), "pachi:500": (900.0, 50.0)})
    path = table.save(tmp_path / "5x5.toml")
    res = CliRunner().invoke(app, ["ladder", "rate", "rollout:2", "--reference", str(path),
                                   "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
                                   "--max-games", "4", "--round-games", "2"])
    assert res.exit_code == 0, res.output
    assert "note: leaving out anchors this machine cannot play: pachi:500" in res.output
    result = res.output.splitlines()[-1]
    assert result.startswith("rollout:2: ") and "Elo after" in result and "pachi" not in result


# ----------------------------------------------------------------- tables are data

HEAD = "[reference]\nversion = 1\nboard_size = 5\nkomi = 0.5\n\n[anchors]\n"


@pytest.mark.parametrize("anchors, message", [
    ('"random" = { elo = 0.0, stderr = 0.0 }\n"x" = { elo = 250.0, stderr = -28.0 }\n',
     r"anchor 'x': stderr = -28.0 must be a finite number >= 0"),
    ('"random" = { elo = nan, stderr = 0.0 }\n"x" = { elo = 250.0, stderr = 28.0 }\n',
     r"anchor 'random': elo = nan is not a finite number"),
    ('"random" = { elo = 0.0, stderr = 0.0 }\n"x" = { elo = inf, stderr = 28.0 }\n',
     r"anchor 'x': elo = inf is not a finite number"),
    ('"random" = { elo = 0.0, stderr = nan }\n"x" = { elo = 250.0, stderr = 28.0 }\n',
     r"stderr = nan must be a finite number >= 0"),
    ("", r"\[anchors\] holds 0 anchor\(s\); a scale needs at least two"),
    ('"random" = { elo = 0.0, stderr = 0.0 }\n', r"holds 1 anchor\(s\)"),
    ('"random" = 7\n"x" = { elo = 250.0, stderr = 28.0 }\n', r"not an rlgo reference table"),
])
def test_a_reference_table_with_bad_numbers_is_refused_on_load(tmp_path, anchors, message):
    path = tmp_path / "t.toml"
    path.write_text(HEAD + anchors)
    with pytest.raises(ValueError, match=message) as info:
        ReferenceTable.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("command", [
    ["ladder", "compare", "{t}", "{t}"],  # printed 250 ± -28
    ["ladder", "rate", "random", "--reference", "{t}", "--db", "{db}", "--max-games", "2",
     "--round-games", "2"],  # rated nan ± nan, exit 0
])
def test_rlgo_ladder_refuses_a_table_with_bad_numbers_in_one_line(tmp_path, command):
    from typer.testing import CliRunner

    from rlgo.cli import app

    table = tmp_path / "t.toml"
    table.write_text(HEAD + '"random" = { elo = nan, stderr = 0.0 }\n'
                     '"rollout:2" = { elo = 250.0, stderr = -28.0 }\n')
    args = [a.format(t=table, db=f"sqlite:///{tmp_path / 'm.sqlite'}") for a in command]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and res.output.startswith(f"error: {table}: anchor "), res.output
    table.write_text(HEAD)  # no anchors: "min() arg is an empty sequence" before
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "at least two" in res.output, res.output


SHELL_ANCHOR = 'gtp:/bin/sh -c "touch {marker}; exec {gnugo} --mode gtp"'


def test_a_table_anchor_that_runs_a_program_is_refused_without_allow_commands(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app

    marker = tmp_path / "M"
    anchor = SHELL_ANCHOR.format(marker=marker, gnugo="/usr/games/gnugo")
    table = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), anchor: (1400.0, 60.0)})
    path = table.save(tmp_path / "t.toml")
    with pytest.raises(ValueError, match=r"runs a program.*--allow-commands"):
        ReferenceTable.load(path)
    again = ReferenceTable.load(path, allow_commands=True)  # the spec survives its quotes
    assert again.anchors == table.anchors and again.runs_programs() == [anchor]
    res = CliRunner().invoke(app, ["ladder", "rate", "random", "--reference", str(path),
                                   "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
                                   "--max-games", "2", "--round-games", "2"])
    assert res.exit_code == 2 and "--allow-commands" in res.output, res.output
    assert not marker.exists() and not (tmp_path / "m.sqlite").exists()
    res = CliRunner().invoke(app, ["ladder", "compare", str(path), str(path)])
    assert res.exit_code == 0, res.output  # comparing plays no game: nothing runs


def test_allow_commands_lets_a_table_anchor_run_its_program(tmp_path, gnugo):
    from typer.testing import CliRunner

    from rlgo.cli import app

    marker = tmp_path / "M"
    anchor = SHELL_ANCHOR.format(marker=marker, gnugo=gnugo)
    path = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), anchor: (1400.0, 60.0)}).save(
        tmp_path / "t.toml")
    res = CliRunner().invoke(app, ["ladder", "rate", "rollout:64", "--reference", str(path),
                                   "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
                                   "--max-games", "4", "--round-games", "2",
                                   "--allow-commands"])
    assert res.exit_code == 0, res.output
    assert marker.exists()  # the user opted in: the program ran


def test_a_run_refuses_a_ladder_or_table_that_runs_a_program(tmp_path, gnugo):
    from rlgo.training import build_trainer

    engine = f"gtp:{gnugo} --mode gtp"  # allowed, a ladder engine is started once to check it
    table = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), engine: (1400.0, 60.0)}).save(
        tmp_path / "t.toml")
    for key in (f"eval.reference={table}", f"eval.ladder=random,{engine}"):
        with pytest.raises(ValueError, match="runs a program.*--allow-commands"):
            build_trainer("reinforce", 5, 100, 0, tmp_path / "run", [key, "train.komi=0.5"],
                          progress=False)
        build_trainer("reinforce", 5, 100, 0, tmp_path / "run", [key, "train.komi=0.5"],
                      progress=False, allow_commands=True)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_rlgo_ladder_rate_with_an_anchor_that_is_no_gtp_engine_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app

    # the probe: a full traceback (rlgo arena says it in one line)
    path = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), "gtp:cat": (100.0, 20.0)}).save(
        tmp_path / "t.toml")
    res = CliRunner().invoke(app, ["ladder", "rate", "random", "--reference", str(path),
                                   "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
                                   "--max-games", "4", "--round-games", "2",
                                   "--allow-commands"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: cat (cat) does not answer GTP's `name`: is it a "
                                 "GTP engine?")


@pytest.mark.parametrize("flags, message", [
    (["--max-games", "0"], "max_games must allow one round of 2 games, got 0"),
    (["--target-stderr", "-1"], "target_stderr must be a positive number of Elo, got -1.0"),
    (["--target-stderr", "nan"], "target_stderr must be a positive number of Elo, got nan"),
])
def test_rlgo_ladder_rate_refuses_a_stop_rule_that_cannot_rate(tmp_path, flags, message):
    from typer.testing import CliRunner

    from rlgo.cli import app

    # the probe: --max-games 0 printed "± inf after 0 games" with exit 0; -1 and nan ran
    path = ReferenceTable(5, 0.5, {"random": (0.0, 0.0), "rollout:2": (60.0, 20.0)}).save(
        tmp_path / "t.toml")
    res = CliRunner().invoke(app, ["ladder", "rate", "random", "--reference", str(path),
                                   "--db", f"sqlite:///{tmp_path / 'm.sqlite'}",
                                   "--round-games", "2", *flags])
    assert res.exit_code == 2 and res.output == f"error: {message}\n", res.output


def test_rlgo_ladder_calibrate_with_no_games_is_an_error(tmp_path):
    from typer.testing import CliRunner

    from rlgo.cli import app

    # the probe: --games 0 said "3 of 3 pairings already played"
    res = CliRunner().invoke(app, ["ladder", "calibrate", "random", "rollout:1", "rollout:2",
                                   "-n", "5", "--games", "0", "--db",
                                   f"sqlite:///{tmp_path / 'c.sqlite'}", "--out",
                                   str(tmp_path / "t.toml")])
    assert res.exit_code == 2 and res.output == "error: games per pairing must be >= 1, " \
        "got 0\n", res.output
    assert not (tmp_path / "t.toml").exists()


def test_rlgo_ladder_calibrate_on_sigint_says_what_it_kept(tmp_path):
    """As rlgo arena does; resuming after a kill is the test above."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from rlgo.evaluation.matchdb import MatchDB

    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    cmd = [sys.executable, "-m", "rlgo.cli", "ladder", "calibrate", "random", "rollout:1",
           "rollout:300", "-n", "5", "--komi", "0.5", "--games", "6", "--db", url, "--out",
           str(tmp_path / "t.toml")]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    err, deadline = [], time.time() + 120
    while time.time() < deadline:  # the first pairing (random vs rollout:1) is quick
        line = proc.stderr.readline()
        err.append(line)
        if line.startswith("random vs rollout:1:") or not line:
            break
    proc.send_signal(signal.SIGINT)  # inside the second pairing, against rollout:300
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(err) + rest
    assert rest.strip().splitlines()[-1] == (
        f"interrupted: 1 of 3 pairings finished, their 6 games kept in {url}; rerun the "
        "same command to resume (a pairing cut short is replayed)")
    assert len(MatchDB(url, read_only=True).games(run="calibration")) >= 6
