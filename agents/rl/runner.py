"""Vectorised self-play: one process steps many matches and batches the policy forward pass across them.

:class:`SelfPlayRunner` is the plain-Python rollout loop (a Ray actor in ``cluster/rollout.py`` wraps it).
Each *vector step* advances every match by one action: matches whose acting seat is a neural policy are
grouped by (role, policy id), encoded, run through one batched forward pass and stepped; bot seats act
in-process. Finished matches are scored, their learned-seat trajectories closed (each role's trajectory
holds only its own decisions; the terminal docs/rules.md §10.3 reward sits on its last decision, or is
redistributed by ``shaped_credit``), and the slot restarts with a fresh seed and freshly sampled seats.

Seats per match (``mode="ppo"``): one *focus* role (uniform over the learned roles) plays the live
policy and records PPO data; the other learned role's seat is drawn from the league weights
(live / a snapshot / the scripted bot); a live opponent records data too. ``mode="bc"``: the learned
seats are taken by teacher bots (``bc_teachers``, default the scripted bots) and their decisions are
recorded as behaviour-cloning targets. ``mode="eval"``: seats are fixed by the caller, nothing is recorded.
The Auditor is always the HeuristicAuditor.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fraudarena.agents.rl import codecs
from fraudarena.agents.rl.batch import RoleBatch, StepRecord, pad_investigator
from fraudarena.agents.rl.encoders import encode_fraudster, encode_investigator
from fraudarena.agents.rl.league import LEARNING
from fraudarena.agents.rl.models import build_model
from fraudarena.agents.rl.ppo import forward
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.scoring import matrix_value

LEARNABLE = ("investigator", "fraudster")
_GC_EVERY = 50  # vector steps between young-generation garbage collections inside ``run``
SCRIPTED_KIND = {"investigator": "scripted", "fraudster": "scripted", "auditor": "scripted"}


def _make_env(task_id: str, seed: int) -> Any:
    from fraudarena.arena.referee import RefereeEnvironment

    return RefereeEnvironment(task_id=task_id, seed=seed)


def _make_bot(kind: str, role: str, seed: int) -> Any:
    from fraudarena.agents import make_bot

    return make_bot(kind, role, seed)


@dataclass
class Seat:
    """Who plays a role in one match: a neural ``policy`` id, or a ``bot`` (optionally as BC teacher)."""

    name: str  # "live", "snap:<k>", "bot:scripted", "bot:random"
    policy: str | None = None  # policy id for neural seats
    bot: Any = None
    learn: bool = False  # record PPO data
    teacher: bool = False  # record BC data from the bot's actions


@dataclass
class _Match:
    env: Any
    task_id: str
    seed: int
    seats: dict[str, Seat]
    steps: dict[str, list[StepRecord]] = field(default_factory=dict)
    max_proposals: int = 0
    env_steps: int = 0
    cache: dict = field(default_factory=dict)  # encoder memo for this match


@dataclass
class MatchResult:
    """Summary of one finished match."""

    task_id: str
    seed: int
    seats: dict[str, str]
    rewards: dict[str, float]
    grader: float
    env_steps: int


@dataclass
class RolloutResult:
    """What one ``run`` call returns."""

    batches: dict[str, RoleBatch]
    results: list[MatchResult]
    env_steps: int
    seconds: float
    sampled_records: list[dict]  # {"record", "seats", "task_id", "seed"} of archive-sampled matches
    errors: int = 0


def shaped_rewards(role: str, steps: list[StepRecord], record: dict, final_reward: float,
                   max_proposals: int, link_credit_to_pulls: float = 0.0) -> None:
    """Set ``steps[i].reward`` so the trajectory's sum equals ``final_reward`` (in place).

    Investigator: each verdict gets M(verdict, label)/(best − baseline), each investigate −0.01/(best −
    baseline), each link its credit (+0.4 credited, −0.25 wrong, 0 redundant)/(best − baseline).
    Fraudster: each proposal gets its own §10.3 payoff / max_proposals. The residual (baseline, eff,
    calibration, coverage, auto-approvals, clamping, audit penalty) goes to the last decision.
    ``link_credit_to_pulls`` = share of each credited link's credit moved (before the residual, so the
    sum is unchanged) onto the pulls that revealed the identifier it links by (see
    :func:`credit_link_pulls`).
    """
    if not steps:
        return
    for s in steps:
        s.reward = 0.0
    shaped = 0.0
    if role == "investigator":
        grader = record.get("grader") or {}
        scale = float(grader.get("best", 1.0)) - float(grader.get("baseline", 0.0))
        scale = scale if scale > 1e-6 else 1.0
        ads = {a["ad_id"]: a for a in record.get("ads") or []}
        links = {}
        for link in record.get("links") or []:
            pair = tuple(sorted((link["ad_id"], link["linked_ad_id"])))
            value = 0.4 if link.get("credited") else (0.0 if link.get("correct") else -0.25)
            links.setdefault(pair, value)
        for s in steps:
            if s.kind == "verdict" and s.key in ads:
                ad = ads[s.key]
                verdict = ad.get("final_verdict") or "approve"
                s.reward = matrix_value(verdict, ad["label"], float(ad.get("severity") or 0.0)) / scale
            elif s.kind == "investigate":
                s.reward = -0.01 / scale
            elif s.kind == "link" and isinstance(s.key, tuple):
                s.reward = links.get(tuple(sorted(s.key)), 0.0) / scale
            shaped += s.reward
        if link_credit_to_pulls > 0.0:
            credit_link_pulls(steps, record, link_credit_to_pulls)
    elif role == "fraudster" and max_proposals > 0:
        plaus = record.get("plausibility") or {}
        by_slot = {a.get("slot_index"): a for a in record.get("ads") or [] if a.get("is_fraudster_proposal")}
        for s in steps:
            ad = by_slot.get(s.key) if s.kind == "propose" else None
            if ad is None:
                continue
            verdict = ad.get("final_verdict")
            if verdict == "approve":
                value = float(ad.get("impact") or 0.0) * float(plaus.get(ad["ad_id"], 1.0))
            elif verdict == "reject":
                value = -0.1
            else:
                value = 0.0
            s.reward = value / max_proposals
            shaped += s.reward
    steps[-1].reward += final_reward - shaped


#: Identifier-revealing targets and the identifier field a shared value sits in (docs/rules.md §4.5, §5.2).
_LINK_TARGETS = (("payment_method", "payment_id"), ("landing_page", "domain_stem"),
                 ("targeting_overlap", "targeting_fingerprint"), ("campaign_structure", "config_fingerprint"))


def credit_link_pulls(steps: list[StepRecord], record: dict, share: float) -> None:
    """Move ``share`` of each credited link step's reward onto the pulls that revealed its identifier.

    The trajectory's investigate steps (key = ad_id) are matched, per ad in order, to the record's
    accepted ``investigate`` actions of the investigator (which give the targets). For a link step on
    (a, b) with positive reward r, the *revealing pulls* are, on each of a and b, the earlier
    investigate step of the first target (canonical order) whose identifier a and b share in the record
    and that both pulled before the link. The link keeps (1 − share)·r and each of the two revealing
    pulls gets share·r/2 (a pull revealing an identifier used by several links collects from each).
    Without such a target (a link made without both reveals) nothing moves. Only amounts move between
    steps, so the sum is unchanged (up to float rounding).
    """
    ads = {a["ad_id"]: a for a in record.get("ads") or []}
    targets_by_ad: dict[str, list[str]] = {}
    for entry in record.get("actions") or []:
        a = entry.get("action") or {}
        if entry.get("role") == "investigator" and a.get("action_type") == "investigate":
            targets_by_ad.setdefault(a["ad_id"], []).append(a["investigation_target"])
    seen: dict[str, int] = {}
    pulls: dict[tuple[str, str], int] = {}  # (ad_id, target) -> step index of the pull
    step_target: dict[int, str] = {}
    for i, s in enumerate(steps):
        if s.kind == "investigate" and isinstance(s.key, str):
            k = seen.get(s.key, 0)
            seen[s.key] = k + 1
            listed = targets_by_ad.get(s.key) or []
            if k < len(listed):
                step_target[i] = listed[k]
                pulls.setdefault((s.key, listed[k]), i)
    for i, s in enumerate(steps):
        if s.kind != "link" or not isinstance(s.key, tuple) or s.reward <= 0.0:
            continue
        a, b = s.key
        ida = (ads.get(a) or {}).get("identifiers") or {}
        idb = (ads.get(b) or {}).get("identifiers") or {}
        for target, field_name in _LINK_TARGETS:
            if not ida.get(field_name) or ida.get(field_name) != idb.get(field_name):
                continue
            pa, pb = pulls.get((a, target)), pulls.get((b, target))
            found = [p for p in (pa, pb) if p is not None and p < i]
            if len(found) < 2:
                continue
            part = share * s.reward / 2
            for p in found:
                steps[p].reward += part
            s.reward -= part * len(found)
            break


def house_bot_kind(rng: random.Random, house_bots: dict[str, tuple[str, ...]] | None, role: str) -> str:
    """The bot kind of a house seat of ``role``: uniform over ``house_bots[role]`` (``TrainConfig.house_bots``),
    ``"scripted"`` (the role's docs/rules.md §12 bot) for a role left out. One kind draws nothing from ``rng``."""
    kinds = (house_bots or {}).get(role) or ("scripted",)
    return kinds[0] if len(kinds) == 1 else rng.choice(kinds)


def weighted_opponent(rng: random.Random, weights: dict[str, float], have_snapshots: bool) -> str:
    """Draw an opponent kind ("live", "snapshot", a bot kind) by ``weights``; "snapshot" only if there is one."""
    options = [(k, w) for k, w in weights.items() if w > 0 and (k != "snapshot" or have_snapshots)]
    total = sum(w for _, w in options)
    u = rng.random() * total
    for k, w in options:
        u -= w
        if u < 0:
            return k
    return options[-1][0]


class SelfPlayRunner:
    """Steps ``n_matches`` concurrent matches; see the module docstring."""

    def __init__(self, n_matches: int, task_ids: tuple[str, ...], seed: int, learn_roles: tuple[str, ...],
                 opponent_weights: dict[str, float] | None = None, hidden: int = 48,
                 shaped_credit: bool = True, archive_rate: float = 0.0, worker_index: int = 0,
                 device_threads: int = 1, bc_teachers: dict[str, str] | None = None,
                 link_credit_to_pulls: float = 0.0, house_bots: dict[str, tuple[str, ...]] | None = None) -> None:
        torch.set_num_threads(device_threads)
        self.house_bots = {r: tuple(k) for r, k in (house_bots or {}).items()}  # house seat kinds per role
        self.n_matches = n_matches
        self.task_ids = tuple(task_ids)
        self.learn_roles = tuple(learn_roles)
        self.opponent_weights = dict(opponent_weights or {"live": 0.4, "snapshot": 0.2, "scripted": 0.4})
        self.hidden = hidden
        self.shaped_credit = shaped_credit
        self.bc_teachers = {**SCRIPTED_KIND, **(bc_teachers or {})}  # BC teacher bot kind per role
        self.link_credit_to_pulls = link_credit_to_pulls
        self.archive_rate = archive_rate
        self.worker_index = worker_index
        self.rng = random.Random(f"selfplay:{seed}:{worker_index}")
        self.torch_gen = torch.Generator().manual_seed(self.rng.getrandbits(62))
        self.models: dict[tuple[str, str], torch.nn.Module] = {}
        self.snapshots: dict[str, list[str]] = {r: [] for r in LEARNABLE}
        self.mode = "ppo"
        self.greedy = False  # argmax instead of sampling (evaluation)
        self.matches: list[_Match] = []
        self.done_steps: dict[str, list[StepRecord]] = {r: [] for r in LEARNABLE}
        self.results: list[MatchResult] = []
        self.sampled: list[dict] = []
        self.errors = 0
        self.fixed_seats: Callable[[dict[str, int]], dict[str, Seat]] | None = None
        self.seed_source: Callable[[], tuple[str, int] | None] | None = None

    # ---------------------------------------------------------------------------------------------
    def set_weights(self, weights: dict[str, dict[str, dict[str, torch.Tensor]]]) -> None:
        """``weights[policy_id][role]`` = state dict; policy ids: "live", "exploiter", pool ids (``snap:…``)."""
        for pid, per_role in weights.items():
            for role, sd in per_role.items():
                key = (role, pid)
                if key not in self.models:
                    self.models[key] = build_model(role, self.hidden)
                    self.models[key].eval()
                self.models[key].load_state_dict(sd)
        for role in LEARNABLE:
            self.snapshots[role] = sorted(pid for (r, pid) in self.models if r == role and pid not in LEARNING)

    def set_mode(self, mode: str) -> None:
        """"ppo", "bc" or "eval"; matches in flight are dropped when the mode changes."""
        if mode != self.mode:
            self.mode = mode
            self.matches = []
            self.done_steps = {r: [] for r in LEARNABLE}

    # ---------------------------------------------------------------------------------------------
    def _bot_seat(self, role: str, kind: str, seed: int, teacher: bool = False) -> Seat:
        return Seat(name=f"bot:{kind}", bot=_make_bot(kind, role, seed), teacher=teacher)

    def _sample_seats(self, task_id: str, seed: int) -> dict[str, Seat]:
        seeds = {r: bot_seed(task_id, seed, r) for r in ("fraudster", "investigator", "auditor")}
        if self.fixed_seats is not None:
            return self.fixed_seats(seeds)
        seats: dict[str, Seat] = {"auditor": self._bot_seat("auditor", "scripted", seeds["auditor"])}
        for role in LEARNABLE:
            if role not in self.learn_roles:
                seats[role] = self._bot_seat(role, house_bot_kind(self.rng, self.house_bots, role), seeds[role])
        if self.mode == "bc":
            for role in self.learn_roles:
                seats[role] = self._bot_seat(role, self.bc_teachers[role], seeds[role], teacher=True)
            return seats
        focus = self.rng.choice(self.learn_roles)
        seats[focus] = Seat(name="live", policy="live", learn=True)
        for role in self.learn_roles:
            if role == focus:
                continue
            choice = self._weighted_choice(role)
            if choice == "live":
                seats[role] = Seat(name="live", policy="live", learn=True)
            elif choice == "snapshot":
                pid = self.rng.choice(self.snapshots[role])
                seats[role] = Seat(name=pid, policy=pid)
            else:
                kind = house_bot_kind(self.rng, self.house_bots, role) if choice == "scripted" else choice
                seats[role] = self._bot_seat(role, kind, seeds[role])
        return seats

    def _weighted_choice(self, role: str) -> str:
        return weighted_opponent(self.rng, self.opponent_weights, bool(self.snapshots[role]))

    def _new_match(self) -> _Match | None:
        if self.seed_source is not None:
            nxt = self.seed_source()
            if nxt is None:
                return None
            task_id, seed = nxt
        else:
            task_id, seed = self.rng.choice(self.task_ids), self.rng.getrandbits(62)
        env = _make_env(task_id, seed)
        m = _Match(env=env, task_id=task_id, seed=seed, seats=self._sample_seats(task_id, seed),
                   steps={r: [] for r in LEARNABLE})
        m.max_proposals = int(getattr(env, "max_proposals", 0) or
                              env.observe("fraudster", text=False).get("max_proposals") or 0)
        return m

    def _refill(self) -> None:
        while len(self.matches) < self.n_matches:
            m = self._new_match()
            if m is None:
                return
            self.matches.append(m)

    # ---------------------------------------------------------------------------------------------
    def run(self, n_steps: int | None = None) -> RolloutResult:
        """Advance every match ``n_steps`` times; with ``n_steps=None`` play until ``seed_source`` is
        exhausted and every match has finished (evaluation)."""
        t0 = time.perf_counter()
        # The cyclic garbage collector would rescan the whole (large, long-lived) heap of matches, caches and
        # records every few vector steps (~20% of the rollout time) while the loop makes almost no cyclic
        # garbage: pause it during the loop and run a young-generation pass now and then instead.
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            self._refill()
            env_steps = 0
            step = 0
            while self.matches and (n_steps is None or step < n_steps):
                env_steps += self._vector_step()
                step += 1
                if gc_enabled and step % _GC_EVERY == 0:
                    gc.collect(1)
        finally:
            if gc_enabled:
                gc.enable()
        batches = {}
        for role in LEARNABLE:
            if self.done_steps[role]:
                batches[role] = RoleBatch.from_steps(role, self.done_steps[role])
        out = RolloutResult(batches=batches, results=self.results, env_steps=env_steps,
                            seconds=time.perf_counter() - t0, sampled_records=self.sampled,
                            errors=self.errors)
        self.done_steps = {r: [] for r in LEARNABLE}
        self.results, self.sampled, self.errors = [], [], 0
        return out

    def _vector_step(self) -> int:
        groups: dict[tuple[str, str], list[tuple[int, dict]]] = {}
        stepped = 0
        for i, m in enumerate(self.matches):
            role = m.env.current_role
            seat = m.seats[role]
            obs = m.env.observe(role, text=False)
            if seat.bot is not None:
                action = seat.bot.act(obs)
                if seat.teacher and role in LEARNABLE:
                    self._record_teacher(m, role, obs, action)
                self._step(m, role, action)
                stepped += 1
            else:
                groups.setdefault((role, seat.policy or "live"), []).append((i, obs))
        for (role, pid), items in groups.items():
            stepped += self._policy_step(role, pid, items)
        if any(m.env.done for m in self.matches):
            keep = []
            for m in self.matches:
                if m.env.done:
                    self._finish(m)
                else:
                    keep.append(m)
            self.matches = keep
            self._refill()
        return stepped

    def _step(self, m: _Match, role: str, action: dict) -> None:
        from fraudarena.arena.errors import ArenaError

        try:
            m.env.apply(role, action)
        except ArenaError:
            self.errors += 1
            m.env.apply(role, m.env.default_action(role))
        m.env_steps += 1

    def _record_teacher(self, m: _Match, role: str, obs: dict, action: dict) -> None:
        if role == "investigator":
            enc = encode_investigator(obs, m.cache)
            idx = codecs.investigator_encode(action, enc)
            if idx is None:
                return
            mask = codecs.investigator_mask(obs, enc)
            if not mask[idx]:
                return
            m.steps[role].append(StepRecord(glob=enc.glob, mask=mask, action=idx, logp=0.0, value=0.0,
                                            ads=enc.ads))
        else:
            idx = codecs.fraudster_encode(action)
            mask = codecs.fraudster_mask(obs)
            if idx is None or not mask[idx]:
                return
            m.steps[role].append(StepRecord(glob=encode_fraudster(obs), mask=mask, action=idx, logp=0.0,
                                            value=0.0))

    @torch.no_grad()
    def _policy_step(self, role: str, pid: str, items: list[tuple[int, dict]]) -> int:
        model = self.models[(role, pid)]
        if role == "investigator":
            encs = [encode_investigator(obs, self.matches[i].cache) for i, obs in items]
            masks = [codecs.investigator_mask(obs, e) for (_, obs), e in zip(items, encs, strict=True)]
            inputs = pad_investigator([e.ads for e in encs], [e.glob for e in encs], masks)
            globs = [e.glob for e in encs]
        else:
            encs = [None] * len(items)
            globs = [encode_fraudster(obs) for _, obs in items]
            masks = [codecs.fraudster_mask(obs) for _, obs in items]
            inputs = {"glob": torch.from_numpy(np.stack(globs)),
                      "action_mask": torch.from_numpy(np.stack(masks))}
        logits, values = forward(model, role, inputs)
        if self.greedy:
            actions = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits, dim=-1)
            actions = torch.multinomial(probs, 1, generator=self.torch_gen).squeeze(-1)
        logps = torch.log_softmax(logits, dim=-1).gather(1, actions.unsqueeze(-1)).squeeze(-1)
        for row, (i, obs) in enumerate(items):
            m = self.matches[i]
            a = int(actions[row])
            if role == "investigator":
                enc = encs[row]
                action = codecs.investigator_decode(a, obs, enc)  # type: ignore[arg-type]
                kind = {"investigate": "investigate", "verdict": "verdict",
                        "link_accounts": "link"}.get(action["action_type"], "end")
                key: Any = action.get("ad_id")
                if kind == "link":
                    key = (action["ad_id"], action["linked_ad_id"])
            else:
                action = codecs.fraudster_decode(a, obs, self.rng)
                kind = "propose" if action["action_type"] == "propose_ad" else "control"
                key = int(obs.get("proposals_used") or 0)
            if m.seats[role].learn:
                n = int(masks[row].shape[0])
                m.steps[role].append(StepRecord(
                    glob=globs[row], mask=masks[row][:n], action=a, logp=float(logps[row]),
                    value=float(values[row]), ads=enc.ads if role == "investigator" else None,  # type: ignore[union-attr]
                    key=key, kind=kind))
            self._step(m, role, action)
        return len(items)

    def _finish(self, m: _Match) -> None:
        record = m.env.record()
        rewards = {k: float(v) for k, v in (record.get("rewards") or {}).items()}
        for role in LEARNABLE:
            steps = m.steps[role]
            seat = m.seats[role]
            if not steps or not (seat.learn or seat.teacher):
                continue
            if self.shaped_credit and seat.learn:
                shaped_rewards(role, steps, record, rewards.get(role, 0.0), m.max_proposals,
                               self.link_credit_to_pulls)
            else:
                for s in steps:
                    s.reward = 0.0
                steps[-1].reward = rewards.get(role, 0.0)
            steps[-1].done = True
            self.done_steps[role].extend(steps)
        grader = float((record.get("grader") or {}).get("score") or 0.0)
        self.results.append(MatchResult(task_id=m.task_id, seed=m.seed,
                                        seats={r: s.name for r, s in m.seats.items()},
                                        rewards=rewards, grader=grader, env_steps=m.env_steps))
        if self.archive_rate > 0 and self.rng.random() < self.archive_rate:
            self.sampled.append({"record": record, "seats": {r: s.name for r, s in m.seats.items()},
                                 "task_id": m.task_id, "seed": m.seed})
