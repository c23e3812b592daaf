"""All self-play training hyperparameters in one dataclass (CleanRL style), loadable from JSON/TOML."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

RUN_PREFIX = "selfplay"
"""Prefix of the run names that :func:`unique_run_name` makes."""


def unique_run_name(runs_dir: str | Path, prefix: str = RUN_PREFIX, now: datetime | None = None) -> str:
    """A run name not yet used under ``runs_dir``: ``<prefix>-YYYYmmdd-HHMMSS`` (local time), with ``-2``,
    ``-3``, ... appended while taken. The run directory is created here, so two runs started in the same
    second cannot both get it."""
    stamp = f"{prefix}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        name = stamp if n == 1 else f"{stamp}-{n}"
        try:
            (root / name).mkdir()
        except FileExistsError:
            continue
        return name
    raise RuntimeError(f"no free run name {stamp}-<n> under {root}")


@dataclass
class TrainConfig:
    """Self-play PPO configuration. Every field can be set from a ``--config`` JSON or TOML file."""

    run_name: str = ""
    """Name of the run; the run directory is ``<runs_dir>/<run_name>``. Empty: a fresh
    ``selfplay-YYYYmmdd-HHMMSS`` per run (:func:`unique_run_name`), so no run overwrites another."""
    runs_dir: str = "runs"
    """Parent directory of run directories (TensorBoard logs, checkpoints, metrics.jsonl)."""
    seed: int = 1
    """Base seed; worker ``i`` derives its match seeds and sampling RNG from (seed, i)."""
    task_ids: tuple[str, ...] = ("task_3",)
    """Training tasks (matches sample uniformly). ``task_3_unseen`` is held out for evaluation."""
    learn_roles: tuple[str, ...] = ("investigator", "fraudster")
    """Roles with a learned policy; the Auditor is always the HeuristicAuditor."""

    # --- rollout -------------------------------------------------------------------------------------
    engine: str = "core"
    """Rollout engine: ``"core"`` plays PPO iterations on the batched rules core
    (``agents.rl.CoreRolloutRunner``, several times faster); ``"python"`` on ``RefereeEnvironment`` objects
    (``agents.rl.runner.SelfPlayRunner``). Behaviour cloning always uses the latter (its teachers read full
    observations). Both give the same matches for the same actions (tests/agents/test_core_runner.py)."""
    num_workers: int = 2
    """Rollout workers (Ray actors; 0 = collect in the driver process, no Ray)."""
    matches_per_worker: int = 128
    """Matches each worker steps concurrently (policy forward passes are batched across them)."""
    rollout_steps: int = 100
    """Vector steps per worker per iteration (each advances every match by one action)."""

    # --- league --------------------------------------------------------------------------------------
    opponent_weights: dict[str, float] = field(
        default_factory=lambda: {"live": 0.2, "snapshot": 0.2, "scripted": 0.6})
    """Weights for each match's opponent seat: the live policy, a past snapshot, or the scripted bot."""
    house_bots: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"investigator": ("scripted",), "fraudster": ("scripted",)})
    """Bot kinds (``make_bot`` kind strings) of a role's house seat (the "scripted" opponent and a role that is not
    learned), drawn uniformly per match: investigator ``"scripted"``/``"ringhunter"``, fraudster
    ``"scripted"`` (= ``"reactive"``)/``"camouflage"``; the core engine plays them on the core
    (``agents/rl/core_bots.py``). The seat is named ``bot:<kind>``."""
    snapshot_every: int = 5
    """Freeze a snapshot of each learned role every this many iterations (0 = never)."""
    max_snapshots: int = 8
    """Keep at most this many snapshots per role in the league (oldest dropped)."""
    opponent_sampling: str = "weights"
    """How a match's non-focus learned seat is drawn (docs/training.md "League"): ``"weights"`` draws the kind
    from ``opponent_weights`` and a snapshot uniformly; ``"pfsp"`` (prioritised fictitious self-play) gives
    each opponent (the live policy, every snapshot, the house bot) the probability
    ∝ (1 − live win rate against it) ** ``pfsp_power``, win rates from the recent PPO matches; ``"elo"``
    the same with the win rate the Elo ratings expect. The core engine only; the python engine always uses
    ``"weights"``."""
    pfsp_power: float = 2.0
    """Exponent of the PFSP weighting (higher: play the opponents the live policy loses to more)."""
    pfsp_floor: float = 0.05
    """Lowest probability weight an opponent keeps under ``"pfsp"``/``"elo"``, so none is dropped for good."""
    pfsp_house_share: float | None = None
    """With ``"pfsp"``/``"elo"``: when set, the house bot keeps this fixed share of the drawn seats and the
    prioritised weights share out the rest over the live policy and the pool (AlphaStar's main agents mix
    fixed opponents with PFSP the same way). Plain PFSP plays a house bot the live policy beats almost never,
    and the policies lost strength against the house bots (docs/training.md "Exploitability")."""
    pfsp_window: int = 400
    """Recent PPO matches per (role, opponent) the PFSP win rates are taken over."""
    snapshot_rule: str = "timer"
    """When a role's live policy is frozen into the league: ``"timer"`` every ``snapshot_every`` PPO
    iterations; ``"win"`` when its win rate against the current pool (snapshots and house bot, over the
    last ``pfsp_window`` matches) reaches ``snapshot_win_threshold``, at least ``snapshot_every``
    iterations after the role's previous snapshot, and at the latest after ``snapshot_max_gap``."""
    snapshot_win_threshold: float = 0.6
    """With ``snapshot_rule="win"``: the live policy's win rate against its pool that freezes a snapshot."""
    snapshot_max_gap: int = 20
    """With ``snapshot_rule="win"``: freeze anyway after this many PPO iterations without a snapshot."""
    main_exploiters: bool = False
    """AlphaStar's main exploiters (docs/training.md "League"; the core engine only): per learned role a second
    learning policy that plays only the other role's live policy, in ``exploiter_share`` of the PPO matches,
    and is frozen into the pool when it beats it."""
    exploiter_share: float = 0.2
    """With ``main_exploiters``: share of the PPO matches that seat a main exploiter (role drawn uniformly)
    against the live policy; the live seat learns from them too."""
    exploiter_win_threshold: float = 0.6
    """With ``main_exploiters``: the exploiter's recent mean score against the live policy (Investigator: its
    win score; Fraudster: 1 − the Investigator's) that freezes it into the pool, after at least
    ``snapshot_every`` iterations; then it restarts from its role's live policy."""
    exploiter_win_margin: float | None = None
    """With ``main_exploiters``: when set, the freeze is relative: the exploiter joins the pool when its recent score
    against the other role's live policy is at least this much above its own role's live policy's score against
    that same live policy (live-vs-live matches), instead of ``exploiter_win_threshold``. An Investigator
    scores above 0.6 against most Fraudsters, so the absolute rule froze Investigator exploiters at the
    minimum gap whether or not they had found anything."""
    exploiter_max_gap: int = 30
    """With ``main_exploiters``: freeze and restart the exploiter anyway after this many PPO iterations."""
    frozen_roles: tuple[str, ...] = ()
    """Learned roles whose weights are never updated (``fraudarena exploit``: the target policy sits in the
    league as "live" but only the best response learns)."""

    # --- behaviour cloning warm start --------------------------------------------------------------------
    bc_iterations: int = 3
    """First iterations train by behaviour cloning the teacher bots (``bc_teachers``) sitting in the
    learned seats, instead of PPO."""
    bc_teachers: dict[str, str] = field(
        default_factory=lambda: {"investigator": "ringhunter", "fraudster": "reactive"})
    """Bot kind (``make_bot`` kind string) of the BC teacher per learned role. ``"ringhunter"``
    (RingHunterInvestigator) beats the §12 ScriptedInvestigator (``"scripted"``) by +0.07 grader on
    task_3_unseen seeds 4000–4199 (95% CI [0.046, 0.097]) thanks to ring links. Roles left out use
    ``"scripted"``; a config without this key (older checkpoints) gets these defaults."""
    bc_epochs: int = 3
    """Passes per BC iteration over all teacher decisions collected so far (a growing buffer)."""
    bc_minibatch_size: int = 256
    """Decisions per behaviour-cloning minibatch."""
    bc_lr: float = 1e-3
    """Learning rate during behaviour cloning."""

    # --- PPO -----------------------------------------------------------------------------------------
    lr: float = 5e-4
    """Adam learning rate for PPO."""
    anneal_lr: bool = False
    """Decay the live policy's PPO learning rate linearly from ``lr`` towards 0 over the run: over the wall-clock
    budget when ``minutes`` is set, over ``iterations`` otherwise (main exploiters keep ``lr``; a resumed run
    starts the schedule over for its own budget)."""
    gamma: float = 1.0
    """Discount over a role's own decisions (the game is short and the reward is terminal)."""
    gae_lambda: float = 0.95
    """GAE λ."""
    clip_coef: float = 0.2
    """PPO ratio clip."""
    vf_coef: float = 0.5
    """Value-loss weight."""
    ent_coef: float = 0.01
    """Entropy bonus weight."""
    max_grad_norm: float = 0.5
    """Gradient-norm clip."""
    update_epochs: int = 3
    """PPO epochs per iteration."""
    minibatch_size: int = 512
    """Decisions per PPO minibatch."""
    target_kl: float | None = 0.05
    """Stop the epoch loop early when the approximate KL exceeds this (None = never)."""
    shaped_credit: bool = True
    """Redistribute each role's terminal reward onto the decisions that caused its parts (verdict/link
    terms of the grader, each proposal's payoff), read from the final record; the residual goes to the
    last decision, so every match's undiscounted return equals its docs/rules.md §10.3 reward exactly."""
    link_credit_to_pulls: float = 0.5
    """With ``shaped_credit``: share of each credited link's credit moved onto the two pulls that
    revealed the identifier it links by (one per ad; ``selfplay.credit_link_pulls``), so that ring
    hunting pulls are rewarded directly instead of only through the value function; the link keeps
    the rest (a wrong link's −0.25 stays on the link). The match's total is unchanged. 0 = off."""
    hidden: int = 32
    """Width of the models (48 before 2026-12-07: the 30-minute run with 32 and 2 heads learned more, since
    rollouts and updates both got cheaper: docs/training.md, "The 30-minute runs")."""
    attention_heads: int = 2
    """Attention heads of the Investigator's set layer (must divide ``hidden``). Their softmax over the
    queue is the largest elementwise cost of a rollout forward pass (docs/training.md#throughput)."""
    learner_threads: int = 2
    """torch intra-op threads of the learner's update. Iterations are synchronous, so the rollout workers are
    idle while it runs: on the 2-core box 2 threads cut a 13k-decision PPO update from 7.2 s to 5.7 s."""

    # --- run control ---------------------------------------------------------------------------------
    iterations: int = 1000
    """Maximum iterations (the run also stops after ``minutes``)."""
    minutes: float | None = None
    """Wall-clock budget in minutes (None = no limit)."""
    checkpoint_every: int = 5
    """Write ``checkpoints/latest`` and ``checkpoints/iter_<n>`` every this many iterations (latest also
    at the end)."""
    archive_rate: float = 0.01
    """Fraction of finished training matches sent to the history archive (batched)."""

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples as lists), as written to ``config.json`` and checkpoints."""
        d = asdict(self)
        d["task_ids"] = list(self.task_ids)
        d["learn_roles"] = list(self.learn_roles)
        d["frozen_roles"] = list(self.frozen_roles)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a dict such as :meth:`to_dict`'s; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        data = dict(data)
        for key in ("task_ids", "learn_roles", "frozen_roles"):
            if key in data:
                data[key] = tuple(data[key])
        if "house_bots" in data:
            data["house_bots"] = {str(k): tuple(str(x) for x in v) for k, v in dict(data["house_bots"]).items()}
        if "bc_teachers" in data:
            data["bc_teachers"] = {str(k): str(v) for k, v in dict(data["bc_teachers"]).items()}
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Load from a ``.json`` or ``.toml`` file (TOML may nest everything under ``[train]``)."""
        p = Path(path)
        if p.suffix == ".toml":
            data = tomllib.loads(p.read_text())
            data = data.get("train", data)
        else:
            data = json.loads(p.read_text())
        return cls.from_dict(data)
