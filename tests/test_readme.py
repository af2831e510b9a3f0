"""The README's snippets run as written, so that what a new user copies works."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).parents[1] / "README.md").read_text()


def _section(title: str) -> str:
    """The README's text under heading ``title``, up to the next heading."""
    start = README.index(f"{title}\n")
    end = README.find("\n#", start + len(title))
    return README[start:end if end != -1 else None]


def test_the_pettingzoo_and_gymnasium_snippet_runs_and_gets_the_legal_moves():
    code = re.search(r"```python\n(.*?)```", _section("### PettingZoo and Gymnasium"),
                     re.S).group(1)
    code = code.replace("board_size=9", "board_size=5")  # the same code, a faster game
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    mask = scope["mask"]
    assert mask.dtype == np.bool_ and mask.shape == (26,) and mask.all()  # empty 5x5 board


def test_the_metrics_pivot_line_makes_one_column_per_metric(tmp_path, monkeypatch):
    import pandas as pd

    from rlgo.training.runs import Counters, RunDir

    line = re.search(r"`(pd\.read_csv\(.*?\))`", _section("### Metrics"), re.S).group(1)
    run = RunDir(tmp_path / "runs" / "r7")
    run.open_metrics(keep_rows=0)
    run.log(Counters(env_steps=0), {"eval/elo": 0.0})
    run.log(Counters(env_steps=100, games=4), {"losses/policy": 0.5, "eval/elo": 30.0})
    monkeypatch.chdir(tmp_path)
    wide = eval(line.replace("\n", " "), {"pd": pd})
    assert list(wide.columns) == ["eval/elo", "losses/policy"]
    assert wide.loc[100, "eval/elo"] == 30.0 and wide.loc[100, "losses/policy"] == 0.5
