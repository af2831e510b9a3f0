"""``rlgo analyze credit``: how well each learner's per-move credit matches a judge's, and
how much information its targets carry per sample and per FLOP.

For every run and ``points`` snapshots spread over its training, the learner is rebuilt
from the run's config with the snapshot's weights (:class:`rlgo.protocols.CreditAssigner`),
plays ``games`` games of its own self-play, and reports the credit its update would give
every move (:class:`rlgo.protocols.Credit`). The judge (:mod:`rlgo.analysis.judge`) values
every legal move of those positions; A*(s, a) is the judge's advantage over the learner's
own policy. Per snapshot ("cell") the analysis measures (:mod:`rlgo.analysis.measures`):

* **sign agreement** of the played move's credit with A*, per phase of the game and by
  how much the move mattered; **rank correlation** (Spearman) over the legal moves for
  learners that give a credit vector (MCTS, the replay learner);
* **gradient cosine**: the learner's batch policy gradient (credit-weighted grad log pi)
  against the oracle's with A* of the moves played, and against the full oracle
  sum_a pi(a|s) A*(s, a) grad log pi(a|s) (the expected policy gradient under the judge);
  the **gradient noise scale** in games (how many games an update must average before its
  direction is more signal than noise), for the learner's credit and the oracle's;
* **information**: bits per sample (MCTS: KL(search target || policy); outcome-only
  learners: at most H(p_win) per game, shared by its moves), samples per FLOP from the run's
  counters at the snapshot (network evaluations, search included, plus three forward
  passes' worth per trained sample), and bits per FLOP = samples/FLOP x bits/sample;
* the judged **policy quality** sum_a pi(a|s) Q*(s, a) - max_a Q*(s, a), and MCTS's search
  disagreement (how often the search's move differs from the raw policy's).

Each cell is written to ``<out>/cells`` when done (a rerun skips it), judge values are
cached in ``<out>/judge_cache.sqlite``, and the tables and figures are rebuilt from the
cells at the end. Optionally GNU Go cross-checks the judge on a sample of positions.
"""

from __future__ import annotations

import glob
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rlgo.agents.gnugo_player import GnuGoPlayer
from rlgo.agents.network_player import load_policy_net
from rlgo.analysis import measures as M
from rlgo.analysis.credit_plots import credit_figures
from rlgo.analysis.judge import Judge, JudgeCache, oracle_advantage, replay
from rlgo.envs import GoEngine, Rules
from rlgo.evaluation.players import snapshot_player
from rlgo.learning.checks import check_config
from rlgo.learning.files import load_file
from rlgo.learning.network import NetConfig, PolicyValueNet
from rlgo.protocols import Credit, CreditAssigner, Experience, Positions
from rlgo.registry import config_from_dict
from rlgo.training.config import read_toml
from rlgo.training.loop import resolve_configs
from rlgo.training.runs import RunDir, file_steps, load_metrics, write_atomically
from rlgo.training.selfplay import SelfPlay


@dataclass(frozen=True)
class CreditConfig:
    """An analysis: the ``[credit]`` table of an analysis file, or ``rlgo analyze credit``
    flags."""

    runs: tuple[str, ...]
    """Run directories to analyse (glob patterns allowed, matched in sorted order)."""
    judge: str
    """Snapshot or checkpoint file of a policy-value learner (MCTS, REINFORCE, PPO) on the
    same board: the judge's network. It must not be one of the snapshots analysed."""
    judge_simulations: int = 32
    """PUCT simulations of the judge's search on every child position."""
    points: int = 3
    """Snapshots per run, spread evenly over its training (step 0 excluded)."""
    games: int = 16
    """Self-play games per snapshot."""
    seed: int = 0
    """Seed of the self-play games."""
    gnugo_level: int = 10
    """GNU Go level of the cross-check of the judge."""
    gnugo_positions: int = 0
    """Positions GNU Go cross-checks (0: no cross-check)."""
    deep_positions: int = 0
    """Positions re-judged with ``deep_simulations`` per child, to measure how much the
    judge's values move with a deeper search (0: no check)."""
    deep_simulations: int = 256
    """Simulations per child of that deeper judge."""
    judge_note: str = ""
    """What is known of the judge's strength, printed with the results (e.g. its
    rating on a reference table: measured, with the command)."""
    out: str = "runs/credit"
    """Folder of the cells, the cache, the tables and the figures."""

    def __post_init__(self) -> None:
        check_config(self, positive=("judge_simulations", "points", "games",
                                     "deep_simulations"),
                     non_negative=("seed", "gnugo_positions", "gnugo_level",
                                   "deep_positions"))
        if not self.runs:
            raise ValueError("credit.runs lists no run directory")
        if self.gnugo_level > 10:
            raise ValueError("credit.gnugo_level must lie in 0..10")


def load_credit_config(path: str | Path, **overrides: Any) -> CreditConfig:
    """The ``[credit]`` table of ``path`` (unknown keys and bad values are errors naming
    the file), with ``overrides`` (those not None) on top."""
    tables = read_toml(path, "analysis file")
    unknown = sorted(set(tables) - {"credit"})
    if unknown or "credit" not in tables:
        raise ValueError(f"{path}: an analysis file has one table, [credit]; found "
                         f"{sorted(tables)}")
    table = {**tables["credit"], **{k: v for k, v in overrides.items() if v is not None}}
    return config_from_dict(CreditConfig, table, str(path))


# ---------------------------------------------------------------------- the pieces

def expand_runs(patterns: tuple[str, ...]) -> list[Path]:
    """Run directories matched by ``patterns`` (each must match one with a config)."""
    runs: list[Path] = []
    for pattern in patterns:
        found = sorted(Path(p) for p in glob.glob(pattern) if (Path(p) / "config.toml").exists())
        if not found:
            raise ValueError(f"credit.runs: {pattern!r} matches no run directory")
        runs += [p for p in found if p not in runs]
    return runs


def snapshot_points(run: Path, points: int) -> list[Path]:
    """``points`` snapshot files of ``run`` evenly spread over its training, the last
    one included; step 0 is left out (every learner starts from a random network)."""
    files = [p for p in RunDir(run).snapshot_files() if file_steps(p) > 0]
    if not files:
        raise ValueError(f"{run} has no snapshot past step 0")
    idx = np.unique(np.round(np.linspace(len(files) - 1, 0, points)).astype(int))
    return [files[i] for i in idx]


def load_judge(config: CreditConfig, rules: Rules, cache: JudgeCache) -> Judge:
    """The judge of ``config``: its snapshot's network, which its learner must be able to
    search with (the contract's :class:`~rlgo.protocols.CannotSearchError` otherwise), on
    the runs' board and komi."""
    try:
        _, judge_rules = snapshot_player(config.judge, name="judge", search=1)
    except ValueError as exc:
        raise ValueError(f"the judge {config.judge}: {exc}") from exc
    if (judge_rules.board_size, judge_rules.komi) != (rules.board_size, rules.komi):
        raise ValueError(f"the judge {config.judge} plays {judge_rules.board_size}x"
                         f"{judge_rules.board_size} komi {judge_rules.komi}, the runs "
                         f"{rules.board_size}x{rules.board_size} komi {rules.komi}")
    payload = load_file(config.judge)
    net = load_policy_net(rules.board_size, config_from_dict(
        NetConfig, dict(payload["net_config"]), config.judge), payload["weights"])
    name = f"{Path(config.judge).resolve()}@{int(payload['counters']['env_steps'])}"
    return Judge(rules, net.evaluate, config.judge_simulations, name, cache)


def forward_flops(board_size: int, net_config: NetConfig) -> int:
    """Multiply-adds x 2 of one forward pass of the network (convolutions and linear
    layers, counted by hooks on a dummy position)."""
    net = PolicyValueNet(board_size, net_config).eval()
    total = [0]

    def count(module: torch.nn.Module, _: Any, output: torch.Tensor) -> None:
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total[0] += 2 * output.numel() * module.in_channels // module.groups * k
        elif isinstance(module, torch.nn.Linear):
            total[0] += 2 * output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 17, board_size, board_size))
    for h in hooks:
        h.remove()
    return total[0]


def counters_at(run: Path, env_steps: int) -> dict[str, float]:
    """The run's counters on its last metrics row at ``env_steps``."""
    m = load_metrics(run)
    rows = m[m.env_steps == env_steps]
    if rows.empty:
        raise ValueError(f"{run}/metrics.csv has no row at env_steps {env_steps}")
    row = rows.iloc[-1]
    keys = ("env_steps", "games", "nn_evals_act", "nn_evals_opponent", "nn_evals_learner",
            "train_samples", "wall_s")
    return {k: float(row[k]) for k in keys if k in row}


@dataclass
class Cell:
    """One snapshot's measurements: ``rows`` one per self-play move, ``summary`` one dict."""

    rows: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _gradients(learner: CreditAssigner, obs: np.ndarray, mask: np.ndarray, game: np.ndarray,
               weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(batch gradient, [games, P] per-game gradients) of sum weights * log pi."""
    per_game = np.stack([learner.policy_gradient(obs[game == g], mask[game == g],
                                                 weights[game == g]) for g in np.unique(game)])
    return per_game.sum(0), per_game


def analyse_snapshot(run: Path, snapshot: Path, judge: Judge, config: CreditConfig) -> Cell:
    """Self-play of one snapshot, its learner's credit, the judge's values, the measures."""
    cfgs = resolve_configs(config=run / "config.toml")
    rules = Rules(board_size=cfgs.train.board_size, komi=cfgs.train.komi)
    payload = load_file(snapshot)
    steps = int(payload["counters"]["env_steps"])
    torch.manual_seed(config.seed * 1_000_003 + steps)
    learner = cfgs.entry.make(rules, cfgs.learner, cfgs.net, cfgs.train.seed, "cpu")
    if not isinstance(learner, CreditAssigner):
        raise ValueError(f"learner {cfgs.train.learner!r} does not show its credit "
                         "(rlgo.protocols.CreditAssigner): it cannot be analysed")
    learner.load_snapshot(payload["weights"], steps)
    t0 = time.perf_counter()
    play = SelfPlay(rules, config.games, learner.player(), None,
                    rng=np.random.default_rng([config.seed, steps]))
    batch, stats = play.play(config.games)
    credit: Credit = learner.credit(batch)
    t1 = time.perf_counter()

    records = {gid: actions for gid, actions, _ in stats.finished}
    results = {gid: score for gid, _, score in stats.finished}
    prefixes = [records[int(g)][: int(m)] for g, m in zip(batch.game, batch.move, strict=True)]
    engine = replay(prefixes, rules)
    evals0 = judge.nn_evals
    q = judge.action_values(engine, np.arange(len(batch)))
    t2 = time.perf_counter()

    rows_n = np.arange(len(batch))
    a_star = oracle_advantage(q, credit.policy)
    a_played = a_star[rows_n, batch.action]
    length = np.array([len(records[int(g)]) for g in batch.game])
    usable = np.isfinite(credit.played) & np.isfinite(a_played)
    table = pd.DataFrame({
        "run": run.name, "learner": cfgs.train.learner, "seed": cfgs.train.seed,
        "env_steps": steps, "game": batch.game, "move": batch.move, "player": batch.player,
        "phase": M.phase(batch.move, length), "stakes": M.stakes(a_played),
        "credit": credit.played, "a_star": a_played, "q_star": q[rows_n, batch.action],
        "quality": M.policy_quality(credit.policy, q),
        "spearman": (M.rank_correlation(credit.vector, a_star) if credit.vector is not None
                     else np.nan),
        "kl_bits": (M.kl_bits(credit.target, credit.policy) if credit.target is not None
                    else np.nan),
        "disagree": batch.extras.get("disagree", np.full(len(batch), np.nan)).astype(float),
        "record": [" ".join(map(str, p)) for p in prefixes],
    })

    t = table[usable]
    counters = counters_at(run, steps)
    summary: dict[str, Any] = {
        "run": run.name, "learner": cfgs.train.learner, "seed": cfgs.train.seed,
        "env_steps": steps, "snapshot": str(snapshot), "games": config.games,
        "positions": int(len(batch)), "credited": int(usable.sum()),
        **_agreement(t),
        **_gradient_measures(learner, batch, credit, a_star, usable),
        **_information(batch, credit, t, results, counters,
                       forward_flops(rules.board_size, cfgs.net)),
        "policy_quality": float(np.nanmean(table.quality)),
        "search_disagreement": (float(np.nanmean(t.disagree))  # full searches only
                                if t.disagree.notna().any() else math.nan),
        "selfplay_s": t1 - t0, "judge_s": t2 - t1, "judge_nn_evals": judge.nn_evals - evals0,
        **{f"run_{k}": v for k, v in counters.items()},
    }
    return Cell(table, summary)


def _agreement(t: pd.DataFrame) -> dict[str, float]:
    """Sign agreement and kappa of the played moves' credit with A*, overall, per phase
    of the game and per stakes; the mean rank correlation over the legal moves."""
    out = {"sign_agreement": M.sign_agreement(t.credit, t.a_star),
           "sign_kappa": M.sign_kappa(t.credit, t.a_star)}
    for column, groups in (("phase", M.PHASES), ("stakes", M.STAKES)):
        for g in groups:
            part = t[t[column] == g]
            out[f"sign_agreement_{g}"] = M.sign_agreement(part.credit, part.a_star)
            out[f"sign_kappa_{g}"] = M.sign_kappa(part.credit, part.a_star)
    out["spearman"] = (float(np.nanmean(t.spearman)) if t.spearman.notna().any()
                       else math.nan)
    return out


def _gradient_measures(learner: CreditAssigner, batch: Experience, credit: Credit,
                       a_star: np.ndarray, usable: np.ndarray) -> dict[str, float]:
    """Cosines of the learner's batch policy gradient with the oracle's (A* of the moves
    played) and the full oracle's (sum_a pi A* grad log pi), and the noise scales in games
    of the learner's and the played-move oracle's gradients; on the moves the learner
    learns from."""
    obs, mask, game = batch.obs[usable], batch.mask[usable], batch.game[usable]
    action = batch.action[usable]
    onehot = np.zeros(mask.shape, np.float32)
    onehot[np.arange(len(action)), action] = 1.0
    w_learner = (np.nan_to_num(credit.vector[usable]) if credit.vector is not None
                 else onehot * credit.played[usable, None])
    w_oracle = onehot * a_star[usable][np.arange(len(action)), action][:, None]
    w_full = credit.policy[usable] * np.nan_to_num(a_star[usable])
    g_learner, per_learner = _gradients(learner, obs, mask, game, w_learner)
    g_oracle, per_oracle = _gradients(learner, obs, mask, game, w_oracle)
    g_full, _ = _gradients(learner, obs, mask, game, w_full)
    b_learner, cos1_learner = M.noise_scale(per_learner)
    b_oracle, cos1_oracle = M.noise_scale(per_oracle)
    return {"cos_oracle_played": M.cosine(g_learner, g_oracle),
            "cos_oracle_full": M.cosine(g_learner, g_full),
            "cos_played_oracle_full": M.cosine(g_oracle, g_full),
            "noise_scale_games": b_learner, "noise_scale_games_oracle": b_oracle,
            "cos_one_game": cos1_learner, "cos_one_game_oracle": cos1_oracle}


def _information(batch: Experience, credit: Credit, t: pd.DataFrame,
                 results: dict[int, float], counters: dict[str, float],
                 flops_fwd: int) -> dict[str, Any]:
    """Bits per sample (the distillation target's KL, or the outcome's entropy bound),
    samples per FLOP from the run's counters (network evaluations plus three forward
    passes per trained sample) and their product, bits per FLOP."""
    black = {gid: 1.0 if s > 0 else 0.0 if s < 0 else 0.5 for gid, s in results.items()}
    if credit.target is not None:
        bits, kind = float(np.nanmean(t.kl_bits)), "KL(search target || policy)"
    else:
        bits = M.outcome_bits_per_sample(batch.game, black)
        kind = "H(p_win) / moves of the game (upper bound)"
    evals = (counters.get("nn_evals_act", 0) + counters.get("nn_evals_opponent", 0)
             + counters.get("nn_evals_learner", 0))
    flops = flops_fwd * (evals + 3 * counters.get("train_samples", 0))
    per_flop = counters["env_steps"] / flops if flops > 0 else math.nan
    return {"bits_per_sample": bits, "bits_kind": kind, "flops_per_forward": flops_fwd,
            "flops": flops, "samples_per_flop": per_flop, "bits_per_flop": bits * per_flop,
            "black_win_rate": float(np.mean(list(black.values())))}


def cell_name(run: Path, snapshot: Path) -> str:
    return f"{run.name}@{file_steps(snapshot)}"


def gnugo_check(rows: pd.DataFrame, rules: Rules, judge: Judge, level: int, positions: int,
                seed: int = 0) -> dict[str, Any]:
    """GNU Go at ``level`` picks a move in ``positions`` positions sampled from ``rows``;
    how often it is the judge's best move, and the judge's regret of GNU Go's move
    (max Q* - Q*(GNU Go's move))."""
    sample, engine = _sample_positions(rows, positions, rules, seed)
    games = np.arange(len(sample))
    q = judge.action_values(engine, games)
    player = GnuGoPlayer(level, rules, seed=seed, workers=1)
    try:
        moves = player.act(Positions(engine.observations(), engine.legal.copy(), engine,
                                     games)).actions
    finally:
        player.close()
    best = np.nanmax(q, axis=1)
    chosen = q[games, moves]
    regret = best - chosen
    return {"gnugo_level": level, "positions": int(len(sample)),
            "same_best_move": float(np.mean(np.isclose(chosen, best, atol=1e-6))),
            "regret_mean": float(np.mean(regret)),
            "regret_median": float(np.median(regret)),
            "regret_below_0.1": float(np.mean(regret < 0.1))}


def _sample_positions(rows: pd.DataFrame, n: int, rules: Rules, seed: int
                      ) -> tuple[pd.DataFrame, GoEngine]:
    """``n`` rows sampled from ``rows`` and an engine holding their positions."""
    sample = rows.sample(n=min(n, len(rows)), random_state=seed)
    records = [np.array([int(a) for a in r.split()], np.int64) if r else np.zeros(0, np.int64)
               for r in sample.record.fillna("")]
    return sample, replay(records, rules)


def deep_check(rows: pd.DataFrame, rules: Rules, judge: Judge, simulations: int,
               positions: int, seed: int = 0) -> dict[str, Any]:
    """The judge against itself with ``simulations`` per child on ``positions`` sampled
    positions: how often the best move is the same, the mean Spearman correlation of the
    two Q* rows over the legal moves, and the mean |change| of Q*."""
    sample, engine = _sample_positions(rows, positions, rules, seed + 1)
    games = np.arange(len(sample))
    q = judge.action_values(engine, games)
    deep = replace(judge, simulations=simulations, nn_evals=0)
    q_deep = deep.action_values(engine, games)
    rho = M.rank_correlation(q, q_deep)
    return {"simulations": judge.simulations, "deep_simulations": simulations,
            "positions": int(len(sample)),
            "same_best_move": float(np.mean(np.nanargmax(q, 1) == np.nanargmax(q_deep, 1))),
            "spearman_mean": float(np.nanmean(rho)),
            "abs_change_mean": float(np.nanmean(np.abs(q - q_deep))),
            "nn_evals": deep.nn_evals}


KEY_COLUMNS = ("sign_agreement", "sign_kappa", "spearman", "cos_oracle_played",
               "cos_oracle_full", "noise_scale_games", "noise_scale_games_oracle",
               "bits_per_sample", "samples_per_flop", "bits_per_flop", "policy_quality",
               "quality_gain_per_kstep", "quality_gain_per_pflop", "search_disagreement")
"""The per-learner table's columns (means over runs and snapshots)."""


def add_progress(summary: pd.DataFrame) -> pd.DataFrame:
    """The empirical side of information per sample: how much the judged policy quality
    of each run rose from its previous analysed snapshot, per 1,000 env steps and per
    PFLOP (10^15) of the run's compute in between (NaN at a run's first snapshot)."""
    out = summary.sort_values(["run", "env_steps"]).copy()
    by_run = out.groupby("run")
    gain = by_run.policy_quality.diff()
    out["quality_gain_per_kstep"] = gain / by_run.env_steps.diff() * 1_000
    out["quality_gain_per_pflop"] = gain / by_run.flops.diff() * 1e15
    return out


def learner_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Means of :data:`KEY_COLUMNS` per learner over its runs and snapshots (infinite
    noise scales count as missing), with the numbers of runs and snapshots."""
    finite = summary.replace([np.inf, -np.inf], np.nan)
    table = finite.groupby("learner")[list(KEY_COLUMNS)].mean()
    table.insert(0, "snapshots", summary.groupby("learner").size())
    table.insert(0, "runs", summary.groupby("learner").run.nunique())
    return table.reset_index()


def run_analysis(config: CreditConfig, *, echo: Any = print) -> dict[str, Path]:
    """The whole analysis (module docstring); returns the files written."""
    out = Path(config.out)
    cells = out / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "analysis.json", json.dumps(asdict(config), indent=1) + "\n")
    runs = expand_runs(config.runs)
    first = resolve_configs(config=runs[0] / "config.toml").train
    rules = Rules(board_size=first.board_size, komi=first.komi)
    plan = [(run, snap) for run in runs for snap in snapshot_points(run, config.points)]
    judge_file = Path(config.judge).resolve()
    if any(snap.resolve() == judge_file for _, snap in plan):
        raise ValueError(f"the judge {config.judge} is one of the snapshots analysed; "
                         "judge with a snapshot outside the runs")
    cache = JudgeCache(out / "judge_cache.sqlite")
    try:
        judge = load_judge(config, rules, cache)
        for k, (run, snap) in enumerate(plan):
            name = cell_name(run, snap)
            done = cells / f"{name}.json"
            if done.exists():
                continue
            cell = analyse_snapshot(run, snap, judge, config)
            write_atomically(cells / f"{name}.csv", cell.rows.to_csv(index=False))
            write_atomically(done, json.dumps(cell.summary, indent=1, default=float) + "\n")
            s = cell.summary
            echo(f"[{k + 1}/{len(plan)}] {name}: sign agreement {s['sign_agreement']:.3f}, "
                 f"gradient cosine {s['cos_oracle_played']:+.3f}, "
                 f"{s['bits_per_sample']:.4f} bits/sample, judge {s['judge_s']:.0f} s")
        rows = pd.concat([pd.read_csv(cells / f"{cell_name(r, s)}.csv") for r, s in plan],
                         ignore_index=True)
        summary = add_progress(pd.DataFrame(
            [json.loads((cells / f"{cell_name(r, s)}.json").read_text()) for r, s in plan]))
        written = {"rows": out / "credit_rows.csv", "summary": out / "credit_summary.csv",
                   "learners": out / "credit_learners.csv"}
        write_atomically(written["rows"], rows.drop(columns="record").to_csv(index=False))
        write_atomically(written["summary"], summary.to_csv(index=False))
        write_atomically(written["learners"], learner_table(summary).to_csv(index=False))
        checks = {"judge_check": (config.gnugo_positions, lambda: gnugo_check(
                      rows, rules, judge, config.gnugo_level, config.gnugo_positions,
                      config.seed)),
                  "judge_depth": (config.deep_positions, lambda: deep_check(
                      rows, rules, judge, config.deep_simulations, config.deep_positions,
                      config.seed))}
        for name, (wanted, measure) in checks.items():
            path = out / f"{name}.json"
            if wanted and not path.exists():  # done once: delete the file to redo it
                write_atomically(path, json.dumps(measure(), indent=1) + "\n")
            if path.exists():
                written[name] = path
    finally:
        cache.close()
    written.update(credit_figures(summary, out / "figures"))
    return written
