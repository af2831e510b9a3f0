"""``rlgo study report``: a study's tidy tables, statistics across seeds, and figures.

Every number comes from the study's one match database, fitted once over all its games
(Bradley-Terry, random = 0; :mod:`rlgo.evaluation.elo`), so every snapshot of every
agent and seed, and the anchors, sit on one scale.

Files written to the study's folder:

==========================  ===========================================================
``results.csv``             one row per evaluation of every run: study, agent, learner,
                            seed, run, policy ("raw", or "search"), the counters, the
                            snapshot's Elo and its standard error on the final scale,
                            and its score against each ladder opponent
``league.csv``              one row per league member (final snapshots and anchors):
                            Elo, standard error, 95% interval, games, wins, losses (on
                            a reference table: every game of a final snapshot against
                            the table's anchors, its run's last evaluation included)
``agents.csv``              per agent, across seeds: the interquartile mean (IQM) of the
                            final Elo with a 95% bootstrap interval, the mean, the runs
``improvement.csv``         per ordered pair of agents: the probability that a run of the
                            first ends above a run of the second, with a 95% interval
``head_to_head.csv``        league games: mean score of each member against each other
``equal_budgets.csv``       per budget axis (env steps, network evaluations, training
                            seconds) and agent: the IQM and mean of its runs' raw Elo
                            read off their curves at the least budget every run reached
                            on that axis (:func:`equal_budgets`), with the budget
``equal_budgets_``          per budget axis and ordered pair of agents there: the
``improvement.csv``         probability of improvement, with a 95% interval
``crossings.csv``           with a reference table, time to strength: for every run,
                            policy and anchor of the table, the env steps and training
                            seconds at which the run's Elo first rose above the
                            anchor's (:func:`crossings`); empty where it never did
``figures/*.png|svg``       Elo against env steps, games, network evaluations and wall
                            time; the league's head-to-head heatmap; the final Elo table
==========================  ===========================================================

Statistics across seeds: the IQM and the probability of improvement are rliable's
(``rliable.metrics.aggregate_iqm``, ``probability_of_improvement``); their intervals are
percentile bootstraps over runs (scipy), which is what rliable's stratified bootstrap does
with one task. (rliable 1.2's own bootstrap module needs ``arch < 8``, which does not
import under pandas 3.) With one seed per agent there is no spread to bootstrap: the
intervals are left empty.
"""

from __future__ import annotations

import math
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
from rliable import metrics as rl_metrics
from scipy.stats import bootstrap

from rlgo.envs import Rules
from rlgo.evaluation.elo import black_scores, fit_elo
from rlgo.evaluation.matchdb import MatchDB
from rlgo.evaluation.reference import ReferenceTable, rate_against
from rlgo.study.config import StudyConfig
from rlgo.study.league import members
from rlgo.study.plots import elo_curves, plot_final_elo, plot_head_to_head, plot_study_curves
from rlgo.training.runs import load_metrics

BOOTSTRAP_RESAMPLES = 5_000
"""Bootstrap resamples behind every interval across seeds."""


def _runs(study: StudyConfig) -> list[tuple[str, str, int, Path]]:
    """(agent label, learner, seed, run dir) of every run that has evaluations."""
    out = []
    for agent, seed, run in study.run_names():
        path = study.out_dir / "runs" / run
        if (path / "metrics.csv").exists():
            out.append((agent.label, agent.learner, seed, path))
    return out


def results_table(study: StudyConfig) -> pd.DataFrame:
    """One row per evaluation of every run (module docstring, ``results.csv``)."""
    runs = _runs(study)
    if not runs:
        raise ValueError(f"study {study.name!r} has no runs with metrics in {study.out_dir}")
    # a reference table's ratings are final as logged: a refit would leave its scale
    curves = elo_curves([r[3] for r in runs],
                        db=None if study.evaluation.reference else study.db_url)
    info = pd.DataFrame([{"run": p.name, "agent": a, "learner": learner, "seed": s}
                         for a, learner, s, p in runs])
    scores = []
    for _, _, _, path in runs:
        m = load_metrics(path)
        part = m[m.metric.str.match(r"^eval/vs_[^/]+/score$")]
        if part.empty:
            continue
        wide = part.assign(metric="score_vs_" + part.metric.str.slice(8, -6)).pivot_table(
            index="env_steps", columns="metric", values="value").reset_index()
        scores.append(wide.assign(run=path.name, policy="raw"))
    table = curves.merge(info, on="run").rename(columns={"stderr": "elo_stderr"})
    if scores:
        table = table.merge(pd.concat(scores), on=["run", "env_steps", "policy"], how="left")
    first = ["agent", "learner", "seed", "run", "policy"]
    table = table[first + [c for c in table.columns if c not in first]]
    return table.assign(study=study.name).sort_values(["agent", "seed", "policy", "env_steps"],
                                                      ignore_index=True)


def league_table(study: StudyConfig) -> pd.DataFrame:
    """Final Elo of the league's members (module docstring, ``league.csv``)."""
    games = MatchDB(study.db_url, read_only=True).games(board_size=study.board_size,
                                                        with_sgf=False)
    table = (reference_ratings(study, games) if study.evaluation.reference
             else fit_elo(games)).set_index("player")
    rows = []
    for e in members(study):
        if e.name in table.index:
            r = table.loc[e.name]
            rows.append({"player": e.name, "agent": e.agent or e.name,
                         "seed": e.seed if e.path else None, "anchor": e.path is None,
                         **{k: r[k] for k in ("elo", "stderr", "lo", "hi", "games", "wins",
                                              "losses", "draws", "bound", "bound_elo")}})
    return pd.DataFrame(rows).sort_values("elo", ascending=False, ignore_index=True)


def reference_ratings(study: StudyConfig, games: pd.DataFrame) -> pd.DataFrame:
    """With a reference table: the anchors at the table's ratings, and every other player
    of the league rated by all its games against those anchors, their ratings fixed
    (:func:`rlgo.evaluation.reference.rate_against`): the table's scale, not a refit. A
    final snapshot's games are its league games and the adaptive games of its run's last
    evaluation (the ladder and the league name it alike), so its league rating is at
    least as precise as the one logged at the end of training. Columns as
    :func:`rlgo.evaluation.elo.fit_elo`'s (intervals +- 1.96 s.e.)."""
    table = ReferenceTable.load(study.evaluation.reference, Rules(board_size=study.board_size,
                                                            komi=study.komi))
    vs_anchors = games[games.black.isin(list(table.anchors))
                       | games.white.isin(list(table.anchors))]
    rows = []
    for name, (elo, stderr) in table.anchors.items():
        rows.append({"player": name, "elo": elo, "stderr": stderr, "bound": "",
                     "bound_elo": float("nan")})
    black = black_scores(vs_anchors) if len(vs_anchors) else np.zeros(0)
    for e in members(study):
        if e.path is None:
            continue
        results = []
        for side, other in (("black", "white"), ("white", "black")):
            mine = ((vs_anchors[side] == e.name)
                    & vs_anchors[other].isin(list(table.anchors))).to_numpy()
            scores = black[mine] if side == "black" else 1.0 - black[mine]
            results += [(table.anchors[opp][0], float(x))
                        for opp, x in zip(vs_anchors[other][mine], scores, strict=True)]
        if not results:
            continue
        r = rate_against(results)
        scores = np.array([x for _, x in results])
        rows.append({"player": e.name, "elo": r.elo, "stderr": r.stderr, "bound": r.bound,
                     "bound_elo": r.bound_elo, "games": r.games,
                     "wins": int((scores == 1).sum()), "losses": int((scores == 0).sum()),
                     "draws": int((scores == 0.5).sum())})
    out = pd.DataFrame(rows)
    out["lo"], out["hi"] = out.elo - 1.96 * out.stderr, out.elo + 1.96 * out.stderr
    return out


def _interval(statistic, samples: tuple[np.ndarray, ...]) -> tuple[float, float]:
    """95% percentile-bootstrap interval of ``statistic`` over runs; NaN without spread."""
    if min(len(s) for s in samples) < 2 or all(np.ptp(s) == 0 for s in samples):
        return float("nan"), float("nan")
    res = bootstrap(samples, statistic, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                    vectorized=False, paired=False, random_state=0)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def agent_statistics(league: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per agent, the IQM of its runs' final Elo with an interval; per ordered pair, the
    probability of improvement with an interval (module docstring)."""
    runs = league[~league.anchor]
    return seed_statistics({a: g.elo.to_numpy(float)
                            for a, g in runs.groupby("agent", sort=False)})


def seed_statistics(elo: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From each agent's Elo, one value per run: per agent the IQM with a 95% interval and
    the mean; per ordered pair the probability of improvement with a 95% interval."""

    def iqm(x: np.ndarray) -> float:
        return float(rl_metrics.aggregate_iqm(np.asarray(x)[:, None]))

    def improvement(x: np.ndarray, y: np.ndarray) -> float:
        return float(rl_metrics.probability_of_improvement(np.asarray(x)[:, None],
                                                           np.asarray(y)[:, None]))

    agents = pd.DataFrame([{"agent": a, "runs": len(x), "iqm_elo": iqm(x),
                            **dict(zip(("iqm_lo", "iqm_hi"), _interval(iqm, (x,)), strict=True)),
                            "mean_elo": float(np.mean(x))} for a, x in elo.items()])
    pairs = pd.DataFrame([{"agent": a, "over": b, "p_improvement": improvement(elo[a], elo[b]),
                           **dict(zip(("lo", "hi"), _interval(improvement, (elo[a], elo[b])),
                                      strict=True))}
                          for a, b in permutations(elo, 2)],
                         columns=["agent", "over", "p_improvement", "lo", "hi"])
    return agents.sort_values("iqm_elo", ascending=False, ignore_index=True), pairs


EQUAL_BUDGET_AXES = ("env_steps", "nn_evals", "wall_s")
"""The budgets runs are compared at besides the study's own: moves played, network
evaluations (search simulations counted) and seconds of training."""


def elo_at(curve: pd.DataFrame, axis: str, budget: float) -> float:
    """A run's Elo when its counter ``axis`` was ``budget``: linear between the two
    evaluations around it; NaN beyond its last evaluation."""
    c = curve.sort_values(axis)
    x, y = c[axis].to_numpy(float), c.elo.to_numpy(float)
    return float(np.interp(budget, x, y)) if budget <= x[-1] else math.nan


def equal_budgets(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The agents compared at equal budgets on each of :data:`EQUAL_BUDGET_AXES`: the
    budget is the least any run reached on that axis (its last evaluation), each run's
    raw-policy Elo is read off its curve there (:func:`elo_at`), and
    :func:`seed_statistics` compares them. Returns (per agent, per pair) tables, each row
    with its ``axis`` and ``budget``."""
    raw = results[results.policy == "raw"]
    agents, pairs = [], []
    for axis in EQUAL_BUDGET_AXES:
        budget = float(raw.groupby("run")[axis].max().min())
        elo = {agent: np.array([elo_at(curve, axis, budget)
                                for _, curve in runs.groupby("run", sort=True)])
               for agent, runs in raw.groupby("agent", sort=False)}
        a, p = seed_statistics(elo)
        agents.append(a.assign(axis=axis, budget=budget))
        pairs.append(p.assign(axis=axis, budget=budget))
    first = ["axis", "budget"]
    tables = [pd.concat(t, ignore_index=True) for t in (agents, pairs)]
    return tuple(t[first + [c for c in t if c not in first]] for t in tables)


def crossings(results: pd.DataFrame, anchors: dict[str, float],
              axes: tuple[str, ...] = ("env_steps", "wall_s")) -> pd.DataFrame:
    """Time to strength: for every run, policy and anchor, where on each of ``axes`` the
    run's Elo first rose above the anchor's, linearly between the two evaluations around
    the crossing (its first evaluation's value when that was already above); NaN where it
    never did. One row per (agent, run, policy, anchor): the anchor's Elo and a column per
    axis."""
    rows = []
    for (agent, run, policy), curve in results.groupby(["agent", "run", "policy"],
                                                       sort=True):
        c = curve.sort_values("env_steps")
        y = c.elo.to_numpy(float)
        for anchor, level in sorted(anchors.items(), key=lambda kv: kv[1]):
            row = {"agent": agent, "run": run, "policy": policy, "anchor": anchor,
                   "anchor_elo": level}
            above = np.flatnonzero(y > level)
            for axis in axes:
                x = c[axis].to_numpy(float)
                if not len(above):
                    row[axis] = math.nan
                elif above[0] == 0:
                    row[axis] = x[0]
                else:
                    i = above[0]
                    share = (level - y[i - 1]) / (y[i] - y[i - 1])
                    row[axis] = x[i - 1] + share * (x[i] - x[i - 1])
            rows.append(row)
    return pd.DataFrame(rows, columns=["agent", "run", "policy", "anchor", "anchor_elo",
                                       *axes])


def head_to_head(study: StudyConfig) -> pd.DataFrame:
    """Mean score (win 1, draw 1/2) of each league member against each other, from the
    league's games only: columns player, opponent, score, games."""
    games = MatchDB(study.db_url, read_only=True).games(board_size=study.board_size,
                                                        with_sgf=False)
    games = games[games.run.fillna("").str.startswith("league/")]
    if games.empty:
        return pd.DataFrame(columns=["player", "opponent", "score", "games"])
    black = np.where(games.winner == "B", 1.0, np.where(games.winner == "draw", 0.5, 0.0))
    both = pd.concat([pd.DataFrame({"player": games.black, "opponent": games.white,
                                    "score": black}),
                      pd.DataFrame({"player": games.white, "opponent": games.black,
                                    "score": 1.0 - black})])
    return both.groupby(["player", "opponent"], as_index=False).agg(
        score=("score", "mean"), games=("score", "size"))


def write_report(study: StudyConfig) -> dict[str, Path]:
    """Write the tables and figures (module docstring); returns name -> path."""
    out = study.out_dir
    written: dict[str, Path] = {}
    results = results_table(study)
    written["results"] = _csv(results, out / "results.csv")
    if study.evaluation.reference:
        table = ReferenceTable.load(study.evaluation.reference, allow_commands=True)
        anchors = {spec: elo for spec, (elo, _) in table.anchors.items()}
        written["crossings"] = _csv(crossings(results, anchors), out / "crossings.csv")
    at_budget, at_budget_pairs = equal_budgets(results)
    written["equal_budgets"] = _csv(at_budget, out / "equal_budgets.csv")
    written["equal_budgets_improvement"] = _csv(at_budget_pairs,
                                                out / "equal_budgets_improvement.csv")
    figures = out / "figures"
    written.update(plot_study_curves(results, figures / "elo_curves",
                                     budget=(study.budget, study.amount)))
    h2h = head_to_head(study)
    if not h2h.empty:
        league = league_table(study)
        agents, pairs = agent_statistics(league)
        written["league"] = _csv(league, out / "league.csv")
        written["agents"] = _csv(agents, out / "agents.csv")
        written["improvement"] = _csv(pairs, out / "improvement.csv")
        written["head_to_head"] = _csv(h2h, out / "head_to_head.csv")
        order = list(league.player)
        written.update(plot_head_to_head(h2h, order, figures / "league_head_to_head"))
        written.update(plot_final_elo(league, agents, figures / "final_elo"))
    return written


def summary_text(study: StudyConfig) -> str:
    """What ``rlgo study run`` and ``rlgo study report`` print: the league's final Elo and
    the per-agent statistics, from the files the report wrote."""
    out = study.out_dir
    lines = []
    if (out / "agents.csv").exists():
        agents = pd.read_csv(out / "agents.csv")
        league = pd.read_csv(out / "league.csv")
        lines += [f"study {study.name}: final Elo on one scale (random = 0)",
                  league[["player", "elo", "stderr", "games"]].round(1).to_string(index=False),
                  "\nper agent, across seeds (IQM, 95% bootstrap interval):",
                  agents.round(1).to_string(index=False)]
    lines.append(f"\ntables and figures in {out}")
    return "\n".join(lines)


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
