"""``CoreRolloutRunner``: self-play rollouts on the batched rules core, with no Python per match per step.

The drop-in sibling of ``agents.rl.runner.SelfPlayRunner`` (same ``set_weights`` / ``set_mode`` / ``run``
and the same ``RolloutResult``) for PPO self-play: M matches live in one ``arena.core.CoreBatch``; each
vector step is a handful of whole-batch calls: the feature kernels (``features.py``), one batched forward
pass per (role, policy) group, sampling, one ``CoreBatch.step``. Per-match Python runs only for events:
a proposal (its texts), a match end (Track-B checks, rewards, credit) and a reset. Decisions are written
into growing column chunks (no per-decision objects) and packed into ``RoleBatch``es at the end of ``run``.

Seats follow ``SelfPlayRunner``'s PPO rules: one focus role plays the live policy; the other learned role
is the live policy, a frozen snapshot or the house bot of that role (``opponent_weights``), the house bots
acting on the core's arrays (``core_bots.py``); with main exploiters (``exploiter_share`` > 0, set by the
league each iteration) that share of the matches seats one role's main exploiter against the other's live
policy, both learning (their decisions go to separate stores); the Auditor is the HeuristicAuditor, whose
flags are the text checks evaluated at match end (``rewards.py``). Behaviour cloning and evaluation, which need the
house bots' full observations, run on ``SelfPlayRunner`` (``set_mode("bc")`` delegates to it).

Archive-sampled matches are rebuilt by replaying their action codes through ``RefereeEnvironment``; a
replay whose rewards or grader differ from the core's counts as an error (``RolloutResult.errors``).
"""

from __future__ import annotations

import gc
import random
import time
from typing import Any

import numpy as np
import torch

from fraudarena.agents.rl.batch import RoleBatch
from fraudarena.agents.rl.codecs import MAX_REDRAWS
from fraudarena.agents.rl.encoders import AD_FEATURES, FRAUD_GLOBAL_FEATURES, INV_GLOBAL_FEATURES
from fraudarena.agents.rl.models import build_model
from fraudarena.agents.rl.runner import (
    LEARNABLE,
    MatchResult,
    RolloutResult,
    SelfPlayRunner,
    house_bot_kind,
    weighted_opponent,
)
from fraudarena.arena.core import CoreBatch
from fraudarena.arena.core import kernels as K
from fraudarena.arena.core.actions import FRAUD_PROPOSE0, K_LINK, K_VERDICT, N_FRAUD_ACTIONS, PER_AD, decode_proposal
from fraudarena.arena.core.batch import Proposal, max_slots
from fraudarena.arena.core.layout import (
    MI_NLINKS,
    MI_NPROPS,
    MI_NQUEUE,
    MI_PHASE,
    PH_AUDIT,
    PH_FRAUDSTER,
    PH_INVESTIGATOR,
)
from fraudarena.arena.rng import bot_seed

from ..bots.textkit import fresh_plain_texts
from .features import CoreFeatures
from .inference import investigator_logits, sample_actions
from .league import EXPLOITER, LEARNING, draw_opponent
from .rewards import (
    KIND_END,
    KIND_INVESTIGATE,
    KIND_LINK,
    KIND_VERDICT,
    fraudster_credit,
    investigator_credit,
    match_rewards,
)
from .storage import DecisionStore

ROLE_CODE = {"fraudster": PH_FRAUDSTER, "investigator": PH_INVESTIGATOR}
BOT = -1  # seat code of a house bot
LOG_LEN = 512  # action codes kept per match for the replay check (far above any task's action count)
_GC_EVERY = 50


class CoreRolloutRunner:
    """PPO self-play rollouts of ``n_matches`` concurrent matches on the batched core; see the module docstring."""

    def __init__(self, n_matches: int, task_ids: tuple[str, ...], seed: int, learn_roles: tuple[str, ...],
                 opponent_weights: dict[str, float] | None = None, hidden: int = 48, shaped_credit: bool = True,
                 archive_rate: float = 0.0, worker_index: int = 0, device_threads: int = 1,
                 bc_teachers: dict[str, str] | None = None, link_credit_to_pulls: float = 0.0,
                 house_bots: dict[str, tuple[str, ...]] | None = None) -> None:
        torch.set_num_threads(device_threads)
        from .core_bots import FRAUDSTER_KINDS, INVESTIGATOR_KINDS

        # house seat bot kinds per role (TrainConfig.house_bots), all played on the core (core_bots.py)
        self.house_bots = {r: tuple(k) for r, k in (house_bots or {}).items()}
        for role, known in (("investigator", INVESTIGATOR_KINDS), ("fraudster", FRAUDSTER_KINDS)):
            bad = [k for k in self.house_bots.get(role, ()) if k not in known]
            if bad:
                raise ValueError(f"no core bot {bad} for the {role}; one of {known}")
        self.n = n_matches
        self.task_ids = tuple(task_ids)
        self.learn_roles = tuple(learn_roles)
        self.opponent_weights = dict(opponent_weights or {"live": 0.4, "snapshot": 0.2, "scripted": 0.4})
        self.hidden = hidden
        self.shaped_credit = shaped_credit
        self.archive_rate = archive_rate
        self.worker_index = worker_index
        self.link_credit_to_pulls = link_credit_to_pulls
        self.rng = random.Random(f"core-selfplay:{seed}:{worker_index}")
        self.torch_gen = torch.Generator().manual_seed(self.rng.getrandbits(62))
        self.batch = CoreBatch(n_matches, n_slots=max_slots(self.task_ids),
                               max_rounds=max(_task_rounds(t) for t in self.task_ids))
        self.features = CoreFeatures(self.batch)
        self.models: dict[tuple[str, str], torch.nn.Module] = {}
        self.policy_ids: list[str] = ["live"]  # seat code k ≥ 0 = policy_ids[k]
        self.snapshots: dict[str, list[str]] = {r: [] for r in LEARNABLE}
        # per seat role, the league's (choice, probability) list under PFSP/Elo sampling (agents/rl/league.py)
        self.opponent_table: dict[str, list[tuple[str, float]]] = {}
        self.exploiter_share = 0.0  # share of matches seating a main exploiter (League, TrainConfig.main_exploiters)
        self.mode = "ppo"
        # behaviour cloning and evaluation run on SelfPlayRunner, built (and given the weights) on first use
        self._fallback_args = (n_matches, task_ids, seed, learn_roles, opponent_weights, hidden, shaped_credit,
                               archive_rate, worker_index, device_threads, bc_teachers, link_credit_to_pulls,
                               self.house_bots)
        self._fallback: SelfPlayRunner | None = None
        self._weights: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
        # per match
        self.seat = np.full((n_matches, 2), BOT, np.int64)  # [m, 0 fraudster / 1 investigator] → policy code
        self.learn = np.zeros((n_matches, 2), bool)
        self.active = np.zeros(n_matches, bool)
        self.uid = np.zeros(n_matches, np.int64)  # episode id of the match in each slot
        self.env_steps = np.zeros(n_matches, np.int64)
        self.seat_names: list[dict[str, str]] = [{} for _ in range(n_matches)]
        # the learned seats' action codes per match, in order (for the referee replay of sampled matches)
        self.log_code = np.zeros((n_matches, LOG_LEN), np.int64)
        self.log_n = np.zeros(n_matches, np.int64)
        self.bots: Any = None
        self._next_uid = 0
        self.stores = self._new_stores()
        self._finished: dict[int, dict[str, Any]] = {}
        self.results: list[MatchResult] = []
        self.sampled: list[dict] = []
        self.errors = 0

    # ---------------------------------------------------------------------------------------------
    def set_weights(self, weights: dict[str, dict[str, dict[str, torch.Tensor]]]) -> None:
        """``weights[policy_id][role]`` = state dict; policy ids "live", "exploiter", pool ids (``snap:…``)."""
        self._weights = weights
        for pid, per_role in weights.items():
            for role, sd in per_role.items():
                key = (role, pid)
                if key not in self.models:
                    self.models[key] = build_model(role, self.hidden)
                    self.models[key].eval()
                self.models[key].load_state_dict(sd)
                if pid not in self.policy_ids:
                    self.policy_ids.append(pid)
        for role in LEARNABLE:
            self.snapshots[role] = sorted(pid for (r, pid) in self.models if r == role and pid not in LEARNING)

    def set_mode(self, mode: str) -> None:
        """"ppo" runs on the core; "bc" and "eval" run on the fallback ``SelfPlayRunner``."""
        if mode != "ppo" or self._fallback is not None:
            self.fallback.set_mode(mode)
        if mode != self.mode:
            self.mode = mode
            self.active[:] = False
            self.stores = self._new_stores()

    @property
    def fallback(self) -> SelfPlayRunner:
        """The ``SelfPlayRunner`` that plays the modes the core does not (behaviour cloning, evaluation)."""
        if self._fallback is None:
            self._fallback = SelfPlayRunner(*self._fallback_args)
        return self._fallback

    def _new_stores(self) -> dict[tuple[str, str], DecisionStore]:
        """One decision store per (role, learning policy id)."""
        return {(role, pid): (DecisionStore(role, INV_GLOBAL_FEATURES, AD_FEATURES) if role == "investigator"
                              else DecisionStore(role, FRAUD_GLOBAL_FEATURES, mask_width=N_FRAUD_ACTIONS))
                for role in LEARNABLE for pid in LEARNING}

    # ---------------------------------------------------------------------------------------------
    def run(self, n_steps: int | None = None) -> RolloutResult:
        """Advance every match ``n_steps`` vector steps (PPO mode); other modes delegate to ``SelfPlayRunner``."""
        if self.mode != "ppo":
            self.fallback.set_weights(self._weights)
            return self.fallback.run(n_steps)
        if n_steps is None:
            raise ValueError("the core runner plays a fixed number of vector steps")
        t0 = time.perf_counter()
        gc_enabled = gc.isenabled()
        gc.disable()
        steps = 0
        try:
            self._refill()
            for i in range(n_steps):
                steps += self._vector_step()
                if gc_enabled and i % _GC_EVERY == _GC_EVERY - 1:
                    gc.collect(1)
        finally:
            if gc_enabled:
                gc.enable()
        batches = self._pack()
        out = RolloutResult(batches=batches, results=self.results, env_steps=steps,
                            seconds=time.perf_counter() - t0, sampled_records=self.sampled, errors=self.errors)
        self.results, self.sampled, self.errors = [], [], 0
        return out

    # ---------------------------------------------------------------------------------------------
    def _refill(self) -> None:
        for m in np.nonzero(~self.active)[0]:
            self._new_match(int(m))

    def _new_match(self, m: int) -> None:
        task_id = self.rng.choice(self.task_ids)
        seed = self.rng.getrandbits(62)
        self.batch.reset(m, task_id, seed)
        self.features.on_reset(m)
        self.uid[m] = self._next_uid
        self._next_uid += 1
        self.env_steps[m] = 0
        self.log_n[m] = 0
        names = {"auditor": "bot:scripted"}
        self.seat[m] = BOT
        self.learn[m] = False
        focus = self.rng.choice(self.learn_roles)
        exploiter = self._exploiter_role()
        bot_kinds: dict[str, str | None] = {"investigator": None, "fraudster": None}
        for role in LEARNABLE:
            col = 0 if role == "fraudster" else 1
            if role not in self.learn_roles:
                bot_kinds[role] = kind = house_bot_kind(self.rng, self.house_bots, role)
                names[role] = f"bot:{kind}"
                continue
            if exploiter is not None:
                choice = EXPLOITER if role == exploiter else "live"
            else:
                choice = "live" if role == focus else self._weighted_choice(role)
            if choice in LEARNING:
                self.seat[m, col] = self.policy_ids.index(choice)
                self.learn[m, col] = True
                names[role] = choice
            elif choice == "snapshot" or choice.startswith(("snap:", "exp:")):
                pid = self.rng.choice(self.snapshots[role]) if choice == "snapshot" else choice
                self.seat[m, col] = self.policy_ids.index(pid)
                names[role] = pid
            else:
                bot_kinds[role] = kind = house_bot_kind(self.rng, self.house_bots, role)
                names[role] = f"bot:{kind}"
        if bot_kinds["investigator"] or bot_kinds["fraudster"]:
            if self.bots is None:
                from .core_bots import CoreBots

                self.bots = CoreBots(self.batch, self.features)
            seeds = {r: bot_seed(task_id, seed, r) for r in LEARNABLE}
            self.bots.on_reset(m, bot_kinds["investigator"], bot_kinds["fraudster"], seeds)
        elif self.bots is not None:
            self.bots.on_reset(m, None, None, {})
        self.seat_names[m] = names
        self.active[m] = True

    def _exploiter_role(self) -> str | None:
        """The role whose main exploiter takes this match's seat (against the live policy), or None."""
        if self.exploiter_share <= 0 or len(self.learn_roles) < 2:
            return None
        ready = [r for r in self.learn_roles if (r, EXPLOITER) in self.models]
        if not ready or self.rng.random() >= self.exploiter_share:
            return None
        return self.rng.choice(ready)

    def _weighted_choice(self, role: str) -> str:
        if self.opponent_table.get(role):
            return draw_opponent(self.rng, self.opponent_table[role])
        return weighted_opponent(self.rng, self.opponent_weights, bool(self.snapshots[role]))

    # ---------------------------------------------------------------------------------------------
    def _vector_step(self) -> int:
        b, f = self.batch, self.features
        f.update()
        inv_mask, fraud_mask = b.masks()
        phase = b.mi[:, MI_PHASE]
        actions = np.full(self.n, -1, np.int64)
        conf = np.zeros(self.n)
        stepped = 0
        proposals: list[tuple[int, int]] = []
        for role, col in (("fraudster", 0), ("investigator", 1)):
            on_turn = phase == ROLE_CODE[role]
            seats = self.seat[:, col]
            for code in np.unique(seats[on_turn]):
                if code == BOT:
                    continue
                ms = np.nonzero(on_turn & (seats == code))[0]
                a = self._policy(role, self.policy_ids[int(code)], ms, inv_mask, fraud_mask)
                actions[ms] = a
                if role == "investigator":
                    self._confidences(ms, a, conf)
                else:
                    for m, c in zip(ms.tolist(), a.tolist(), strict=True):
                        if c >= FRAUD_PROPOSE0:
                            proposals.append((m, c))
                            actions[m] = -1
                stepped += len(ms)
        for m, c in proposals:
            actions[m] = c
        log_ms = np.nonzero(actions >= 0)[0]
        n_log = np.minimum(self.log_n[log_ms], LOG_LEN - 1)
        self.log_code[log_ms, n_log] = actions[log_ms]
        self.log_n[log_ms] += 1
        for m, _ in proposals:
            actions[m] = -1
        b.step(actions, conf)
        if proposals:
            self.batch.propose_many([self._proposal(m, c) for m, c in proposals])
        bot_ms = np.nonzero(((phase == PH_FRAUDSTER) & (self.seat[:, 0] == BOT))
                            | ((phase == PH_INVESTIGATOR) & (self.seat[:, 1] == BOT)))[0]
        if len(bot_ms):
            stepped += len(bot_ms)
            self.bots.act(bot_ms)
        self.env_steps[log_ms] += 1
        self.env_steps[bot_ms] += 1
        ended = np.nonzero(self.active & (b.mi[:, MI_PHASE] == PH_AUDIT))[0]
        for m in ended.tolist():
            stepped += self._finish(m)
            self._new_match(m)
        return stepped

    @torch.no_grad()
    def _policy(self, role: str, pid: str, ms: np.ndarray, inv_mask: np.ndarray, fraud_mask: np.ndarray
                ) -> np.ndarray:
        """Sample the group's actions; record the learning seats' decisions."""
        model = self.models[(role, pid)]
        f = self.features
        if role == "investigator":
            n_ads = self.batch.mi[ms, MI_NQUEUE]
            n_max = int(n_ads.max())
            ads = torch.from_numpy(f.ads[ms, :n_max])
            ad_mask = torch.from_numpy(np.arange(n_max)[None, :] < n_ads[:, None])
            glob = torch.from_numpy(f.glob[ms])
            amask_np = inv_mask[ms, :1 + PER_AD * n_max]
            logits, values = investigator_logits(model, ads, ad_mask, glob, torch.from_numpy(amask_np))
        else:
            glob = torch.from_numpy(f.fglob[ms])
            amask_np = fraud_mask[ms]
            logits, values = model(glob, torch.from_numpy(amask_np))
        acts, logps = sample_actions(logits, self.torch_gen)
        a = acts.numpy().astype(np.int64)
        col = 0 if role == "fraudster" else 1
        learn = self.learn[ms, col]
        if learn.any():
            self._record(self.stores[(role, pid)], ms[learn], a[learn], logps.numpy()[learn], values.numpy()[learn])
        return a

    def _record(self, store: DecisionStore, ms: np.ndarray, a: np.ndarray, logp: np.ndarray, value: np.ndarray
                ) -> None:
        f, b = self.features, self.batch
        role = store.role
        uid = self.uid[ms]
        zeros = np.zeros(len(ms), np.int64)
        inv_mask, fraud_mask = b.inv_mask, b.fraud_mask
        if role == "fraudster":
            kind = (a >= FRAUD_PROPOSE0).astype(np.int64)
            key = b.mi[ms, MI_NPROPS]  # the slot a proposal takes
            store.append(ms, f.fglob, fraud_mask, action=a, logp=logp, value=value, uid=uid, kind=kind,
                         key=key, slot=zeros, slot2=zeros, target=zeros, link_k=zeros)
            return
        n_ads = b.mi[ms, MI_NQUEUE]
        q = np.maximum(a - 1, 0) // PER_AD
        k = np.where(a > 0, (a - 1) % PER_AD, -1)
        kind = np.where(a == 0, KIND_END, np.where(k < K_VERDICT, KIND_INVESTIGATE,
                                                   np.where(k < K_LINK, KIND_VERDICT, KIND_LINK)))
        slot = b.queue[ms, np.minimum(q, b.queue.shape[1] - 1)]
        partner = f.partners[ms, np.minimum(q, f.partners.shape[1] - 1)]
        link_k = b.mi[ms, MI_NLINKS]  # the index this link takes
        store.append(ms, f.glob, inv_mask, n_ads=n_ads, ads_src=f.ads, slots_src=b.queue, action=a,
                     logp=logp, value=value, uid=uid, kind=kind, slot=slot, slot2=partner, target=k,
                     link_k=link_k, key=zeros)

    def _confidences(self, ms: np.ndarray, a: np.ndarray, conf: np.ndarray) -> None:
        """Verdict confidence = the posterior of the verdict's class, clipped to [0.05, 0.99], 2 dp (the codec's)."""
        k = np.where(a > 0, (a - 1) % PER_AD, -1)
        for i in np.nonzero((k >= K_VERDICT) & (k < K_LINK))[0].tolist():
            m = int(ms[i])
            q = (int(a[i]) - 1) // PER_AD
            p = float(np.clip(self.features.post[m, q, int(k[i]) - K_VERDICT], 0.05, 0.99))
            conf[m] = round(p, 2)

    def _proposal(self, m: int, code: int) -> Proposal:
        """A learned Fraudster's proposal code with its texts (plain, no template repetition), to apply."""
        category, camo = decode_proposal(code)
        info = self.batch.texts[m]
        assert info is not None
        earlier = [info.copies[s] for s in sorted(info.proposal_texts)]
        texts = fresh_plain_texts(self.rng, category, earlier, MAX_REDRAWS)
        return (m, category, camo, texts.copy, texts.targeting, texts.landing)

    # ---------------------------------------------------------------------------------------------
    def _finish(self, m: int) -> int:
        """Score a finished match, remember its trajectories' rewards; returns the Auditor's steps."""
        b = self.batch
        rewards, plaus, n_flags = match_rewards(b, m)
        audit_steps = 1 + n_flags
        self.env_steps[m] += audit_steps
        self._finished[int(self.uid[m])] = {"m_state": _MatchSnapshot.take(b, m), "rewards": rewards,
                                            "plaus": plaus, "learn": self.learn[m].copy()}
        grader = float(b.gr[m, K.GR_SCORE])
        info = b.texts[m]
        assert info is not None
        self.results.append(MatchResult(task_id=info.task_id, seed=info.seed,
                                        seats=dict(self.seat_names[m]), rewards=dict(rewards), grader=grader,
                                        env_steps=int(self.env_steps[m])))
        if self.archive_rate > 0 and self.rng.random() < self.archive_rate:
            self._replay_check(m, rewards, grader)
        self.active[m] = False
        return audit_steps

    def _replay_check(self, m: int, rewards: dict[str, float], grader: float) -> None:
        """Rebuild the match through the referee from its action codes; count a disagreement as an error."""
        from .replay import replay_codes

        info = self.batch.texts[m]
        assert info is not None
        try:
            codes = self.log_code[m, :min(int(self.log_n[m]), LOG_LEN)].tolist()
            env = replay_codes(info, codes, self.seat_names[m])
            record = env.record()
            same = (record["grader"]["score"] == grader
                    and all(record["rewards"][r] == v for r, v in rewards.items()))
        except Exception:
            same, record = False, None
        if not same:
            self.errors += 1
        if record is not None:
            self.sampled.append({"record": record, "seats": dict(self.seat_names[m]), "task_id": info.task_id,
                                 "seed": info.seed})

    def _pack(self) -> dict[str, RoleBatch]:
        """Complete trajectories of finished matches → RoleBatch per role (the live policy's, key ``role``;
        a main exploiter's, key ``"exploiter/<role>"``), rewards and dones set."""
        out: dict[str, RoleBatch] = {}
        finished = set(self._finished)
        for (role, pid), store in self.stores.items():
            batch, starts, uids = store.pack(finished)
            if batch is None:
                continue
            cols = store.last_cols
            ends = np.r_[starts[1:], len(batch)]
            for s0, s1, u in zip(starts.tolist(), ends.tolist(), uids.tolist(), strict=True):
                item = self._finished[int(u)]
                snap, final = item["m_state"], item["rewards"][role]
                if not self.shaped_credit:
                    r = np.zeros(s1 - s0)
                    r[-1] = final
                elif role == "investigator":
                    r = investigator_credit(snap, 0, cols["kind"][s0:s1], cols["slot"][s0:s1], cols["slot2"][s0:s1],
                                            cols["target"][s0:s1], cols["link_k"][s0:s1], final,
                                            self.link_credit_to_pulls)
                else:
                    r = fraudster_credit(snap, 0, cols["kind"][s0:s1], cols["key"][s0:s1], item["plaus"], final)
                batch.rewards[s0:s1] = r
                batch.dones[s1 - 1] = True
            out[role if pid == "live" else f"{pid}/{role}"] = batch
        self._finished = {}
        return out


class _MatchSnapshot:
    """The arrays of one finished match that credit assignment reads (its slot is reused at once)."""

    @staticmethod
    def take(batch: CoreBatch, m: int) -> CoreBatch:
        snap = CoreBatch.__new__(CoreBatch)
        snap.mi = batch.mi[m:m + 1].copy()
        snap.ai = batch.ai[m:m + 1].copy()
        snap.af = batch.af[m:m + 1].copy()
        snap.gr = batch.gr[m:m + 1].copy()
        snap.link_ok = batch.link_ok[m:m + 1].copy()
        snap.texts = [batch.texts[m]]
        return snap


def _task_rounds(task_id: str) -> int:
    from fraudarena.arena.spec import TASKS

    return TASKS[task_id].max_rounds
