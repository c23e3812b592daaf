"""The self-play training loop (driver side), independent of where rollouts run.

:class:`Trainer` owns the :class:`~fraudarena.agents.rl.ppo.PPOLearner`, the :class:`League`, Elo ratings,
the run directory (TensorBoard logs, ``metrics.jsonl``, checkpoints) and the progress bar. Rollouts
come from a *collector*: :class:`LocalCollector` steps matches in this process (no Ray); the Ray
version lives in ``fraudarena.cluster.rollout``. Data flows one way: weights → collectors → batches →
learner. Each iteration: behaviour cloning for the first ``bc_iterations``, PPO afterwards.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from fraudarena.agents.rl import make_runner
from fraudarena.agents.rl.batch import RoleBatch
from fraudarena.agents.rl.config import TrainConfig, unique_run_name
from fraudarena.agents.rl.league import EXPLOITER, LEARNING, League
from fraudarena.agents.rl.neural_policy import save_checkpoint
from fraudarena.agents.rl.ppo import PPOLearner
from fraudarena.agents.rl.ratings import Elo, investigator_score
from fraudarena.agents.rl.runner import RolloutResult

ArchiveSink = Callable[[list[dict], dict[str, Any]], None]


class Collector(Protocol):
    """Produces rollouts for given weights."""

    def collect(self, weights: dict, mode: str, n_steps: int, iteration: int) -> list[RolloutResult]: ...

    def close(self) -> None: ...


def apply_league(runner: Any, league: dict[str, Any] | None) -> None:
    """Give a runner the league's current pool (snapshot ids it may draw; runners keep every model they were
    ever sent) and, with PFSP/Elo sampling, the opponent table (``League.opponent_table``; the core runner
    reads ``opponent_table``, docs/training.md "League")."""
    if not league:
        return
    for role, ids in (league.get("pool") or {}).items():
        runner.snapshots[role] = list(ids)
    table = league.get("table") or {}
    runner.opponent_table = dict(table)
    runner.exploiter_share = float(league.get("exploiter_share", 0.0))
    fallback = getattr(runner, "_fallback", None)
    if fallback is not None:
        for role, ids in (league.get("pool") or {}).items():
            fallback.snapshots[role] = list(ids)


class LocalCollector:
    """In-process collector: one runner (``config.engine``, see :func:`agents.rl.make_runner`) per (virtual)
    worker, stepped in turn."""

    accepts_league = True
    """``collect`` takes the ``league`` keyword (pool and opponent table)."""

    def __init__(self, config: TrainConfig, n_runners: int = 1) -> None:
        self.runners = [make_runner(config, i) for i in range(max(1, n_runners))]
        self._sent: set[str] = set()

    def collect(self, weights: dict, mode: str, n_steps: int, iteration: int,
                league: dict[str, Any] | None = None) -> list[RolloutResult]:
        """Step every runner ``n_steps``; snapshots already sent are not loaded again."""
        if league is not None:  # a frozen snapshot never changes: load it once
            new = {pid: w for pid, w in weights.items() if pid in LEARNING or pid not in self._sent}
            self._sent |= set(weights) - set(LEARNING)
            weights = new
        out = []
        for r in self.runners:
            r.set_weights(weights)
            apply_league(r, league)
            r.set_mode(mode)
            out.append(r.run(n_steps))
        return out

    def close(self) -> None:
        self.runners = []


def summarise(results: list[RolloutResult]) -> dict[str, float]:
    """Iteration statistics: matches, env steps, rewards per role and win rates of the live seats."""
    matches = [m for r in results for m in r.results]
    out: dict[str, float] = {"matches": float(len(matches)),
                             "env_steps": float(sum(r.env_steps for r in results)),
                             "errors": float(sum(r.errors for r in results))}
    for role in ("investigator", "fraudster"):
        live = [m for m in matches if m.seats.get(role) == "live"]
        if live:
            out[f"{role}/reward"] = float(np.mean([m.rewards.get(role, 0.0) for m in live]))
        vs_bot = [m for m in live if m.seats.get("fraudster" if role == "investigator" else "investigator")
                  == "bot:scripted"]
        if vs_bot:
            out[f"{role}/reward_vs_scripted"] = float(np.mean([m.rewards.get(role, 0.0) for m in vs_bot]))
            inv = [investigator_score(m.rewards) for m in vs_bot]
            wins = inv if role == "investigator" else [1 - x for x in inv]
            out[f"{role}/win_vs_scripted"] = float(np.mean(wins))
            if role == "investigator":
                out["investigator/grader_vs_scripted"] = float(np.mean([m.grader for m in vs_bot]))
    for role in ("investigator", "fraudster"):
        mx = [m for m in matches if m.seats.get(role) == EXPLOITER]
        if mx:  # the main exploiter's reward against the live policy (TrainConfig.main_exploiters)
            out[f"exploiter/{role}/reward"] = float(np.mean([m.rewards.get(role, 0.0) for m in mx]))
    bots = [m for m in matches if m.seats.get("investigator") == "bot:scripted"
            and m.seats.get("fraudster") == "bot:scripted"]
    if bots:  # behaviour-cloning iterations: the teachers' own level
        out["teacher/grader"] = float(np.mean([m.grader for m in bots]))
        out["teacher/fraudster_reward"] = float(np.mean([m.rewards.get("fraudster", 0.0) for m in bots]))
    return out


class Trainer:
    """Drives iterations: collect → update → league/ratings → log/checkpoint."""

    def __init__(self, config: TrainConfig, collector: Collector, run_dir: str | Path | None = None,
                 resume: str | Path | None = None, archive_sink: ArchiveSink | None = None,
                 progress: bool = True, log: Callable[[str], None] | None = None) -> None:
        if run_dir is None and not config.run_name:  # a fresh directory per run, never a shared default
            config = replace(config, run_name=unique_run_name(config.runs_dir))
        self.config = config
        self.collector = collector
        self.run_dir = Path(run_dir or Path(config.runs_dir) / config.run_name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.learner = PPOLearner(config)
        self.exploiters = self._new_exploiters(config)
        """Main exploiters' learner (``TrainConfig.main_exploiters``): a PPOLearner of its own, one model per
        trainable role, started from the live policy at the first PPO iteration."""
        self.exploiters_started = False
        self.league = League(config.learn_roles, config.max_snapshots, config.pfsp_window)
        for role in config.learn_roles:
            self.league.last_frozen[role] = config.bc_iterations
        self.elo = Elo()
        self.iteration = 0
        self.total_matches = 0
        self.total_env_steps = 0
        self.archive_sink = archive_sink
        self.progress = progress
        self.log = log or (lambda s: None)
        self.history: list[dict[str, float]] = []
        self.bc_buffer: dict[str, list[RoleBatch]] = {}
        if resume is not None:
            self.load(resume)
        (self.run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1, sort_keys=True))
        self._writer: Any = None

    # ---------------------------------------------------------------------------------------------
    def _tb(self) -> Any:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.run_dir / "tb"))
            except Exception:  # tensorboard missing: metrics.jsonl still has everything
                self._writer = False
        return self._writer

    @staticmethod
    def _new_exploiters(config: TrainConfig) -> PPOLearner | None:
        if not config.main_exploiters:
            return None
        roles = tuple(r for r in config.learn_roles if r not in config.frozen_roles)
        if config.engine != "core" or len(config.learn_roles) < 2 or not roles:
            raise ValueError("main_exploiters needs the core engine and both roles learned (docs/training.md League)")
        rng_state = torch.get_rng_state()  # the live learner's initialisation and shuffles stay as without it
        try:
            return PPOLearner(config, roles)
        finally:
            torch.set_rng_state(rng_state)

    def load(self, path: str | Path) -> None:
        """Resume learner, main exploiters, league, ratings and counters from a checkpoint directory."""
        p = Path(path)
        state = torch.load(p / "learner.pt", weights_only=False)
        self.learner.load_state_dict(state)
        if self.exploiters is not None and (p / "exploiters.pt").exists():
            self.exploiters.load_state_dict(torch.load(p / "exploiters.pt", weights_only=False))
            self.exploiters_started = True
        league = json.loads((p / "league.json").read_text())
        self.league.load(p / "snapshots", league.get("snapshots", []))
        for role, it in (league.get("exploiter_since") or {}).items():
            self.league.exploiter_since[role] = int(it)
        self.elo = Elo.from_dict(league.get("elo", {}))
        self.iteration = int(league.get("iteration", 0))
        self.total_matches = int(league.get("total_matches", 0))
        self.total_env_steps = int(league.get("total_env_steps", 0))

    def checkpoint(self, name: str = "latest") -> Path:
        path = self.run_dir / "checkpoints" / name
        snaps = self.league.save(path / "snapshots")
        extra: dict[str, Any] = {
            "learner.pt": self.learner.state_dict(),
            "league.json": {"snapshots": snaps, "elo": self.elo.to_dict(), "iteration": self.iteration,
                            "total_matches": self.total_matches, "total_env_steps": self.total_env_steps,
                            "exploiter_since": dict(self.league.exploiter_since)}}
        if self.exploiters is not None and self.exploiters_started:
            extra["exploiters.pt"] = self.exploiters.state_dict()
        return save_checkpoint(path, self.learner.get_weights(), self.config.to_dict(), self.iteration, extra)

    # ---------------------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """One iteration; returns its metrics."""
        cfg = self.config
        it = self.iteration + 1
        mode = "bc" if it <= cfg.bc_iterations else "ppo"
        t0 = time.perf_counter()
        weights = self.league.worker_weights(self.learner.get_weights())
        if mode == "ppo" and self.exploiters is not None:
            if not self.exploiters_started:  # the main exploiters start from the live policy (after BC)
                self.exploiters.set_weights(weights["live"])
                for role in self.exploiters.roles:
                    self.league.restart_exploiter(role, it - 1)
                self.exploiters_started = True
            weights[EXPLOITER] = self.exploiters.get_weights()
        if getattr(self.collector, "accepts_league", False):
            results = self.collector.collect(weights, mode, cfg.rollout_steps, it, league=self._league_info())
        else:
            results = self.collector.collect(weights, mode, cfg.rollout_steps, it)
        t_collect = time.perf_counter() - t0
        stats = summarise(results)
        stats["iteration"] = float(it)
        stats["bc"] = 1.0 if mode == "bc" else 0.0
        stats["lr_scale"] = self.learner.lr_scale
        stats["collect_s"] = t_collect
        stats["env_steps_per_s"] = stats["env_steps"] / max(1e-9, t_collect)
        for role in cfg.learn_roles:
            if role in cfg.frozen_roles:  # a frozen target (``fraudarena exploit``) never learns
                continue
            parts = [r.batches[role] for r in results if role in r.batches and len(r.batches[role])]
            if mode == "bc":  # behaviour cloning trains on everything the teachers did so far
                self.bc_buffer.setdefault(role, []).extend(parts)
                parts = self.bc_buffer[role]
            for k, v in self._update(self.learner, parts, mode).items():
                stats[f"{role}/{k}"] = v
            if mode == "ppo" and self.exploiters is not None:
                key = f"{EXPLOITER}/{role}"
                parts = [r.batches[key] for r in results if key in r.batches and len(r.batches[key])]
                for k, v in self._update(self.exploiters, parts, mode).items():
                    stats[f"{key}/{k}"] = v
        if mode == "ppo":
            self.bc_buffer = {}
            for r in results:
                for m in r.results:
                    score = investigator_score(m.rewards)
                    self.elo.update(m.seats["fraudster"], m.seats["investigator"], score)
                    self.league.record(m.seats, score)
            frozen = self._roles_to_freeze(it)
            if frozen:
                live = self.learner.get_weights()
                for role in frozen:
                    pid = self.league.add(role, live[role], it)
                    self.elo.clone(role, "live", pid)
                    stats[f"league/{role}_frozen"] = 1.0
            for role in self._exploiters_to_freeze(it):
                pid = self.league.add(role, self.exploiters.models[role].state_dict(), it, exploiter=True)  # cloned
                self.elo.clone(role, EXPLOITER, pid)
                self.exploiters.restart(role, self.learner.models[role].state_dict())  # from the live policy again
                self.league.restart_exploiter(role, it)
                self.elo.clone(role, "live", EXPLOITER)
                stats[f"league/{role}_exploiter_frozen"] = 1.0
            for role in cfg.learn_roles:
                stats[f"league/{role}_snapshots"] = float(len(self.league.ids(role)))
        for role in ("investigator", "fraudster"):
            stats[f"elo/{role}_live"] = self.elo.rating(role, "live")
        sampled = [rec for r in results for rec in r.sampled_records]
        if sampled and self.archive_sink is not None:
            try:
                self.archive_sink(sampled, {"run": cfg.run_name, "iteration": it})
                stats["archived"] = float(len(sampled))
            except Exception as exc:  # the archive is best effort; training goes on
                self.log(f"archive sink failed: {exc!r}")
        self.iteration = it
        self.total_matches += int(stats["matches"])
        self.total_env_steps += int(stats["env_steps"])
        stats["iteration_s"] = time.perf_counter() - t0
        self._record(stats)
        if cfg.checkpoint_every and it % cfg.checkpoint_every == 0:
            self.checkpoint()
            save_checkpoint(self.run_dir / "checkpoints" / f"iter_{it}", self.learner.get_weights(),
                            cfg.to_dict(), it)
        return stats

    def _update(self, learner: PPOLearner, parts: list[RoleBatch], mode: str) -> dict[str, float]:
        """One BC or PPO update of ``learner`` on the concatenated ``parts`` (nothing when empty)."""
        if not parts:
            return {}
        batch = RoleBatch.concat(parts)
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, self.config.learner_threads))  # the rollout workers wait meanwhile
        try:
            return learner.bc_update(batch) if mode == "bc" else learner.update(batch)
        finally:
            torch.set_num_threads(threads)

    def _exploiters_to_freeze(self, it: int) -> list[str]:
        """The roles whose main exploiter joins the pool after PPO iteration ``it`` (it beats the live policy, or
        its time is up: ``League.exploiter_should_freeze``)."""
        cfg = self.config
        if self.exploiters is None:
            return []
        return [r for r in self.exploiters.roles
                if self.league.exploiter_should_freeze(r, it, cfg.snapshot_every, cfg.exploiter_max_gap,
                                                       cfg.exploiter_win_threshold, cfg.exploiter_win_margin)]

    def _roles_to_freeze(self, it: int) -> list[str]:
        """The learned roles whose live policy becomes a snapshot after PPO iteration ``it`` (``snapshot_rule``)."""
        cfg = self.config
        roles = [r for r in cfg.learn_roles if r not in cfg.frozen_roles]
        if not cfg.snapshot_every:
            return []
        if cfg.snapshot_rule == "timer":
            return roles if (it - cfg.bc_iterations) % cfg.snapshot_every == 0 else []
        if cfg.snapshot_rule == "win":
            return [r for r in roles if self.league.should_freeze(r, it, self.elo, cfg.snapshot_every,
                                                                   cfg.snapshot_max_gap, cfg.snapshot_win_threshold)]
        raise ValueError(f"unknown snapshot_rule {cfg.snapshot_rule!r}: expected timer or win")

    def _league_info(self) -> dict[str, Any]:
        """What the collectors pass to the runners: the snapshot pool and, with ``opponent_sampling`` pfsp or
        elo, the opponent table per seat role (see ``League.opponent_table``)."""
        cfg = self.config
        info: dict[str, Any] = {"pool": self.league.pool(), "table": {},
                                "exploiter_share": cfg.exploiter_share if self.exploiters_started else 0.0}
        if cfg.opponent_sampling != "weights":
            for seat_role in cfg.learn_roles:
                info["table"][seat_role] = self.league.opponent_table(seat_role, cfg.opponent_sampling, self.elo,
                                                                      cfg.pfsp_power, cfg.pfsp_floor,
                                                                      cfg.pfsp_house_share)
        return info

    def _record(self, stats: dict[str, float]) -> None:
        self.history.append(stats)
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v)
                                for k, v in stats.items()}) + "\n")
        w = self._tb()
        if w:
            for k, v in stats.items():
                if isinstance(v, float) and math.isfinite(v):
                    w.add_scalar(k, v, self.iteration)
            w.flush()

    def train(self, iterations: int | None = None, minutes: float | None = None) -> dict[str, Any]:
        """Run until ``iterations`` more iterations or ``minutes`` of wall time; checkpoints at the end.

        The progress bar (and each ``log`` line) counts toward whichever stop is set: the wall-clock
        budget when ``minutes`` is given (the bar is in seconds), the iteration budget otherwise.
        """
        cfg = self.config
        iterations = cfg.iterations if iterations is None else iterations
        minutes = cfg.minutes if minutes is None else minutes
        budget_s = None if minutes is None else 60.0 * minutes
        start = self.iteration
        t0 = time.monotonic()
        bar = _StopBar(iterations, budget_s) if self.progress else None
        try:
            while self.iteration - start < iterations:
                elapsed = time.monotonic() - t0
                if budget_s is not None and elapsed >= budget_s:
                    break
                if cfg.anneal_lr:
                    self.learner.lr_scale = lr_scale(self.iteration - start, iterations, elapsed, budget_s)
                st = self.step()
                done = self.iteration - start
                toward = (f"{time.monotonic() - t0:.0f}/{budget_s:.0f} s" if budget_s is not None
                          else f"{done}/{iterations}")
                line = _progress_line(st, self.total_matches)
                if bar is not None:
                    bar.advance(done, time.monotonic() - t0, line)
                self.log(f"iter {self.iteration} ({toward}): {line}")
        finally:
            if bar is not None:
                bar.close()
            ckpt = self.checkpoint()
            w = self._tb()
            if w:
                w.close()
                self._writer = None
        return {"iterations": self.iteration, "new_iterations": self.iteration - start, "checkpoint": str(ckpt),
                "run_dir": str(self.run_dir), "matches": self.total_matches, "env_steps": self.total_env_steps,
                "seconds": time.monotonic() - t0, "last": self.history[-1] if self.history else {}}


def lr_scale(done: int, iterations: int, elapsed_s: float, budget_s: float | None) -> float:
    """The share of ``lr`` left under ``anneal_lr``: 1 at the start, falling linearly to 0 at the run's stop (the
    wall-clock budget when there is one, the iteration budget otherwise)."""
    if budget_s is not None:
        return max(0.0, 1.0 - elapsed_s / budget_s)
    return max(0.0, 1.0 - done / max(1, iterations))


class _StopBar:
    """A tqdm bar toward the run's real stop: seconds of the wall-clock budget, or iterations."""

    def __init__(self, iterations: int, budget_s: float | None) -> None:
        from tqdm import tqdm

        self.budget_s = budget_s
        self.iterations = iterations
        if budget_s is None:
            self.bar = tqdm(total=iterations, desc="train", unit="it", dynamic_ncols=True)
        else:
            self.total = max(1, round(budget_s))
            self.bar = tqdm(total=self.total, desc="train", unit="s", dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s{postfix}")

    def advance(self, done: int, elapsed_s: float, line: str) -> None:
        """Show ``done`` iterations after ``elapsed_s`` seconds, with ``line`` as the postfix."""
        if self.budget_s is None:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(line)
        else:
            self.bar.n = min(self.total, round(elapsed_s))
            self.bar.set_postfix_str(f"iter {done} {line}")  # refreshes the bar

    def close(self) -> None:
        """Leave the bar on screen as it ended."""
        self.bar.close()


def _progress_line(st: dict[str, float], total_matches: int) -> str:
    parts = [f"{'BC' if st.get('bc') else 'PPO'}", f"matches {total_matches}",
             f"sps {st.get('env_steps_per_s', 0):.0f}"]
    for key, label in (("investigator/reward", "inv_r"), ("fraudster/reward", "fr_r"),
                       ("investigator/win_vs_scripted", "inv_win"), ("fraudster/win_vs_scripted", "fr_win"),
                       ("investigator/bc_acc", "inv_acc"), ("fraudster/bc_acc", "fr_acc")):
        if key in st:
            parts.append(f"{label} {st[key]:.3f}")
    return " ".join(parts)
