"""The README's and the docs' snippets run as written, so that what a new user copies
works, and every link in them reaches a file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "studies").glob("README.md")),
         *sorted((ROOT / "studies").glob("*/README.md"))]
"""The manual: the README, the docs pages and every study's README."""


def _section(title: str, text: str = README) -> str:
    """The text under heading ``title``, up to the next heading."""
    start = text.index(f"{title}\n")
    end = text.find("\n#", start + len(title))
    return text[start:end if end != -1 else None]


def test_the_pettingzoo_and_gymnasium_snippet_runs_and_gets_the_legal_moves():
    envs = (ROOT / "docs" / "envs.md").read_text()
    code = re.search(r"```python\n(.*?)```", _section("## PettingZoo and Gymnasium", envs),
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


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_contents_link_reaches_a_heading():
    contents = README[README.index("**Contents**"):README.index("## Two commands")]
    links = re.findall(r"\]\(#([^)]+)\)", contents)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", README, re.M)}
    assert len(links) >= 10
    assert [a for a in links if a not in anchors] == []


def _anchors(text: str) -> set[str]:
    """The anchors of a page's headings (outside code blocks)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", prose, re.M)}


def test_every_relative_link_of_the_manual_reaches_a_file_and_its_heading():
    broken = []
    for page in PAGES:
        text = page.read_text()
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file.read_text()):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert len(PAGES) >= 10 and broken == []


def test_the_readme_stays_a_short_manual():
    assert len(README.splitlines()) <= 400


def test_the_citation_and_licence_follow_pyproject():
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())[
        "project"]
    cite = _section("## Licence and citing")
    assert f"version = {{{project['version']}}}" in cite
    assert f"license = {{{project['license']['text']}}}" in cite
    assert f"under the {project['license']['text']} licence" in cite


def test_the_own_network_example_trains_searches_and_plays(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from rlgo.cli import app
    from rlgo.training import build_trainer

    learners = (ROOT / "docs" / "learners.md").read_text()
    code = re.search(r"```python\n(.*?)```",
                     _section("## Your own network (an `nn.Module`)", learners), re.S).group(1)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "my_ppo.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    trainer = build_trainer("my_ppo:make", 5, 200, 0, tmp_path / "run",
                            ["net.blocks=1", "net.channels=8", "train.parallel_games=8",
                             "train.games_per_iteration=8", "eval.every=200",
                             "eval.games=2", "eval.ladder=random",
                             "eval.search=4"], progress=False)
    assert type(trainer.learner.net).__name__ == "MyNet"
    assert isinstance(trainer.learner.net.policy_fc, __import__("torch").nn.Sequential)
    trainer.fit()
    metrics = trainer.run.metrics()
    assert {"eval/elo", "eval/search/elo"} <= set(metrics.metric)
    snapshot = trainer.run.snapshot_files()[-1]
    res = CliRunner().invoke(app, ["arena", f"{snapshot}:search=4", "random", "-n", "5",
                                   "--games", "2", "--db", f"sqlite:///{tmp_path / 'a.db'}",
                                   "--agent-module", "my_ppo:make"])
    assert res.exit_code == 0, res.output
