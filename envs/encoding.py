"""Fixed-shape observations, legal-action masks and flat actions shared by the RL environments.

The Investigator and Fraudster use the encoders and codecs that training uses
(``fraudarena.agents.rl.encoders`` / ``fraudarena.agents.rl.codecs``); this module only pads them to fixed
shapes so that Gymnasium / PettingZoo spaces can describe them:

* **Investigator** — ``{"observation": {"ads": [max_ads, AD_FEATURES] float32, "ads_present":
  [max_ads] int8, "global": [INV_GLOBAL_FEATURES] float32}, "action_mask": [1 + 10 * max_ads] int8}``.
  Row ``i`` of ``ads`` is the ``i``-th published ad in queue order (ascending ``ad_id``); rows past the
  queue are zero and ``ads_present`` is 0 there. Actions are the flat Investigator codec: 0 =
  ``end_turn``, ``1 + 10 i + k`` = target/verdict/link ``k`` on ad slot ``i`` (slots past the queue are
  masked out).
* **Fraudster** — ``{"observation": [FRAUD_GLOBAL_FEATURES] float32, "action_mask": [N_FRAUD_ACTIONS]
  int8}``; actions are the flat Fraudster codec (0 ``end_turn``, 1 ``commit_final``, ``2 + 22 c + s``
  propose category ``c`` with camouflage set ``s``).
* **Auditor** — it has no learned codec. Its action space is ``Discrete(2)``: ``AUDITOR_SUBMIT`` (0) =
  ``submit_audit_report`` (ends the match), ``AUDITOR_HEURISTIC_FLAG`` (1) = play the next flag that the
  HeuristicAuditor (docs/rules.md §12) would send (legal only while it has an unsent flag and the flag limit
  is not reached). Its observation is a small vector, :data:`AUDITOR_FEATURES` long (see
  :func:`encode_auditor`).

``max_ads`` defaults to :data:`MAX_ADS`, the largest final queue of any task at its default knobs
(base ads + ``max_proposals``; late arrivals are part of the base ads), so one space fits every task.
Observation entries are clipped to ±:data:`OBS_BOUND` so that the Box bounds are finite; the encoders'
features stay far inside that range. An off-turn role gets an all-zero ``action_mask``.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from fraudarena.agents.bots.heuristic import HeuristicAuditor, analyse
from fraudarena.agents.rl.codecs import (
    N_FRAUD_ACTIONS,
    fraudster_decode,
    fraudster_mask,
    investigator_decode,
    investigator_mask,
    n_investigator_actions,
)
from fraudarena.agents.rl.encoders import (
    AD_FEATURES,
    FRAUD_GLOBAL_FEATURES,
    INV_GLOBAL_FEATURES,
    InvestigatorEncoding,
    encode_fraudster,
    encode_investigator,
)
from fraudarena.arena import RefereeEnvironment
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.spec import MAX_AUDIT_FLAGS, TASK_IDS, TASKS, Role

OBS_BOUND = 100.0
"""Observation Box bound: every encoded entry is clipped to [-OBS_BOUND, OBS_BOUND]."""

MAX_ADS: int = max(task.n_base + task.max_proposals for task in TASKS.values())
"""The largest possible final queue over all tasks at their default knobs (33, ``task_3_unseen``)."""

AUDITOR_SUBMIT = 0
"""Auditor action: ``submit_audit_report``."""
AUDITOR_HEURISTIC_FLAG = 1
"""Auditor action: send the HeuristicAuditor's next unsent flag."""
N_AUDITOR_ACTIONS = 2
"""Size of the Auditor's action space."""
AUDITOR_FEATURES = 12 + len(TASK_IDS)
"""Length of the Auditor's observation vector."""
_AUDITOR_ANY_UNSENT = 6  # the entry of encode_auditor's vector that says a heuristic flag is left

FALLBACK_ACTIONS: dict[str, dict[str, Any]] = {
    Role.FRAUDSTER.value: {"action_type": "end_turn"},
    Role.INVESTIGATOR.value: {"action_type": "end_turn"},
    Role.AUDITOR.value: {"action_type": "submit_audit_report"},
}
"""The wire action played in place of an illegal flat action (always legal on the role's turn)."""


def max_queue(task_id: str, overrides: Mapping[str, Any] | None = None) -> int:
    """The largest final queue of ``task_id`` under ``overrides`` (base ads + effective ``max_proposals``)."""
    task = TASKS[task_id]
    proposals = (overrides or {}).get("max_proposals")
    return task.n_base + (task.max_proposals if proposals is None else int(proposals))


def n_actions(role: str, max_ads: int = MAX_ADS) -> int:
    """Size of ``role``'s flat action space."""
    if role == Role.INVESTIGATOR:
        return n_investigator_actions(max_ads)
    if role == Role.FRAUDSTER:
        return N_FRAUD_ACTIONS
    if role == Role.AUDITOR:
        return N_AUDITOR_ACTIONS
    raise ValueError(f"unknown role {role!r}")


def _box(*shape: int) -> spaces.Box:
    return spaces.Box(-OBS_BOUND, OBS_BOUND, shape=shape, dtype=np.float32)


def observation_space(role: str, max_ads: int = MAX_ADS) -> spaces.Dict:
    """``role``'s observation space: a Dict with ``"observation"`` and ``"action_mask"`` (module docstring)."""
    mask = spaces.Box(0, 1, shape=(n_actions(role, max_ads),), dtype=np.int8)
    if role == Role.INVESTIGATOR:
        inner: spaces.Space[Any] = spaces.Dict({
            "ads": _box(max_ads, AD_FEATURES),
            "ads_present": spaces.MultiBinary(max_ads),
            "global": _box(INV_GLOBAL_FEATURES),
        })
    elif role == Role.FRAUDSTER:
        inner = _box(FRAUD_GLOBAL_FEATURES)
    else:
        inner = _box(AUDITOR_FEATURES)
    return spaces.Dict({"observation": inner, "action_mask": mask})


def action_space(role: str, max_ads: int = MAX_ADS) -> spaces.Discrete:
    """``role``'s flat Discrete action space."""
    return spaces.Discrete(n_actions(role, max_ads))


def fresh_copy(value: Any) -> Any:
    """A copy of a JSON-like value whose dicts and lists are all new (observations share the match's)."""
    if isinstance(value, dict):
        return {k: fresh_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(fresh_copy(v) for v in value)
    return value


@dataclass
class RoleView:
    """One role's encoded observation of one match state, with what decoding an action needs."""

    role: str
    raw: dict[str, Any]
    observation: dict[str, Any]
    mask: np.ndarray  # int8, the same array as observation["action_mask"]
    encoding: InvestigatorEncoding | None = None

    def copy_observation(self) -> dict[str, Any]:
        """The observation with fresh arrays (safe to hand out: callers may keep or modify it)."""
        obs = self.observation
        inner = obs["observation"]
        if isinstance(inner, dict):
            inner = {k: v.copy() for k, v in inner.items()}
        else:
            inner = inner.copy()
        return {"observation": inner, "action_mask": obs["action_mask"].copy()}


def encode_auditor(raw: Mapping[str, Any], heuristic_flags: list[tuple[str, str, str | None]]) -> np.ndarray:
    """The Auditor's observation vector (:data:`AUDITOR_FEATURES` entries).

    [audit phase, flags remaining / 200, flags sent / 16, Track-A sent / 16, Track-B sent / 16,
    HeuristicAuditor flags not yet sent / 16, any unsent, next unsent is Track A, next is Track B,
    the grader score, manual verdicts / 33, proposals / 10, task one-hot]. ``heuristic_flags`` are the
    HeuristicAuditor's flags in its submission order.
    """
    legal = raw.get("legal_actions") or {}
    active = bool(legal.get("action_types"))
    sent = raw.get("pending_flags") or []
    sent_keys = {(f.get("track"), f.get("flag_type"), f.get("target_ad_id")) for f in sent}
    n_a = sum(1 for f in sent if f.get("track") == "A")
    unsent = [f for f in heuristic_flags if f not in sent_keys]
    record = raw.get("full_episode_record") or {}
    score = float((record.get("grader") or {}).get("score") or 0.0)
    verdicts = sum(1 for e in raw.get("investigator_actions") or ()
                   if (e.get("action") or {}).get("action_type") == "verdict")
    proposals = sum(1 for e in raw.get("fraudster_proposals") or ()
                    if (e.get("action") or {}).get("action_type") == "propose_ad")
    vec = [
        1.0 if active else 0.0,
        float(raw.get("flags_remaining") or 0) / MAX_AUDIT_FLAGS,
        len(sent) / 16.0, n_a / 16.0, (len(sent) - n_a) / 16.0,
        len(unsent) / 16.0, 1.0 if unsent else 0.0,
        1.0 if unsent and unsent[0][0] == "A" else 0.0, 1.0 if unsent and unsent[0][0] == "B" else 0.0,
        score, verdicts / 33.0, proposals / 10.0,
        *(1.0 if raw.get("task_id") == t else 0.0 for t in TASK_IDS),
    ]
    return np.clip(np.asarray(vec, dtype=np.float32), -OBS_BOUND, OBS_BOUND)


class MatchCodec:
    """Encodes observations and decodes flat actions for every role of one match.

    ``submit_audit_report`` (Auditor action 0) is sent without a report body (the report is not scored).

    Holds the per-match state the codecs need: the Investigator encoder's cache, the random stream
    for proposal texts (seeded from the match, ``rng.bot_seed(task, seed, "fraudster")``) and the
    HeuristicAuditor that plays the Auditor's action 1.
    """

    def __init__(self, match: RefereeEnvironment, max_ads: int = MAX_ADS) -> None:
        self.max_ads = max_ads
        self.text_rng = random.Random(bot_seed(match.task_id, match.seed, Role.FRAUDSTER.value))
        self.auditor = HeuristicAuditor(bot_seed(match.task_id, match.seed, Role.AUDITOR.value))
        self._reset_caches()

    @classmethod
    def for_bot(cls, seed: int, max_ads: int = MAX_ADS) -> MatchCodec:
        """A codec for a bot that sees only its own role's observations: its random streams start from ``seed``
        (the bot seed ``make_bot`` receives, which is ``rng.bot_seed(task, match seed, role)`` in matches)."""
        codec = cls.__new__(cls)
        codec.max_ads = max_ads
        codec.text_rng = random.Random(seed)
        codec.auditor = HeuristicAuditor(seed)
        codec._reset_caches()
        return codec

    def _reset_caches(self) -> None:
        self._inv_cache: dict[Any, Any] = {}
        self._audit_key: int | None = None
        self._audit_flags: list[tuple[str, str, str | None]] = []

    def _heuristic_flags(self, raw: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
        record = raw.get("full_episode_record")
        if record is None:
            return []
        played = sum(1 for e in record.get("actions") or () if e.get("role") != Role.AUDITOR)
        if played != self._audit_key:
            self._audit_key = played
            self._audit_flags = analyse(record)[0]
        return self._audit_flags

    def encode(self, role: str, raw: dict[str, Any]) -> RoleView:
        """``role``'s fixed-shape observation and mask from its raw observation ``raw``."""
        if role == Role.INVESTIGATOR:
            enc = encode_investigator(raw, self._inv_cache)
            n = len(enc.ad_ids)
            if n > self.max_ads:
                raise ValueError(f"the queue has {n} ads but the observation space holds {self.max_ads}; "
                                 "construct the environment with a larger max_ads")
            ads = np.zeros((self.max_ads, AD_FEATURES), dtype=np.float32)
            np.clip(enc.ads, -OBS_BOUND, OBS_BOUND, out=ads[:n])
            present = np.zeros(self.max_ads, dtype=np.int8)
            present[:n] = 1
            mask = np.zeros(n_investigator_actions(self.max_ads), dtype=np.int8)
            small = investigator_mask(raw, enc)
            mask[: small.shape[0]] = small
            inner: Any = {"ads": ads, "ads_present": present,
                          "global": np.clip(enc.glob, -OBS_BOUND, OBS_BOUND).astype(np.float32)}
            return RoleView(role, raw, {"observation": inner, "action_mask": mask}, mask, enc)
        if role == Role.FRAUDSTER:
            vec = np.clip(encode_fraudster(raw), -OBS_BOUND, OBS_BOUND).astype(np.float32)
            mask = fraudster_mask(raw).astype(np.int8)
            return RoleView(role, raw, {"observation": vec, "action_mask": mask}, mask)
        if role == Role.AUDITOR:
            flags = self._heuristic_flags(raw)
            vec = encode_auditor(raw, flags)
            legal = raw.get("legal_actions") or {}
            types = set(legal.get("action_types") or ())
            mask = np.zeros(N_AUDITOR_ACTIONS, dtype=np.int8)
            mask[AUDITOR_SUBMIT] = "submit_audit_report" in types
            mask[AUDITOR_HEURISTIC_FLAG] = bool(int(legal.get("flags_remaining") or 0) > 0
                                                and types & {"flag_investigator", "flag_fraudster"}
                                                and vec[_AUDITOR_ANY_UNSENT] > 0.0)
            return RoleView(role, raw, {"observation": vec, "action_mask": mask}, mask)
        raise ValueError(f"unknown role {role!r}")

    def is_legal(self, view: RoleView, index: int) -> bool:
        """Whether flat action ``index`` is legal in ``view``."""
        return 0 <= index < view.mask.shape[0] and bool(view.mask[index])

    def decode(self, view: RoleView, index: int) -> dict[str, Any]:
        """The wire action of a legal flat action ``index`` in ``view``."""
        if view.role == Role.INVESTIGATOR:
            assert view.encoding is not None
            return investigator_decode(index, view.raw, view.encoding)
        if view.role == Role.FRAUDSTER:
            return fraudster_decode(index, view.raw, self.text_rng)
        if index == AUDITOR_HEURISTIC_FLAG:
            action = self.auditor.act(view.raw)
            if action.get("action_type") in ("flag_investigator", "flag_fraudster"):
                return action
        return dict(FALLBACK_ACTIONS[Role.AUDITOR.value])


def describe(match: RefereeEnvironment) -> str:
    """A one-line text summary of a match's state (the ``"ansi"`` render)."""
    pending = sum(1 for ad in match.queue if ad.status == "pending")
    line = (f"{match.task_id} seed={match.seed} round {match.round_number}/{match.max_rounds} "
            f"phase={match.phase} queue={len(match.queue)} (pending {pending}) "
            f"proposals={len(match.proposals)}/{match.max_proposals} "
            f"budget={match.budget_remaining}/{match.action_budget} flags={len(match.flags)}")
    if match.rewards is not None:
        line += " rewards=" + ", ".join(f"{k} {v:.3f}" for k, v in match.rewards.items())
    return line


def play_bots(match: RefereeEnvironment, bots: Mapping[str, Any], stop: Collection[str],
              observe_text: bool = False) -> None:
    """Let the bots of ``bots`` (role -> ``.act(obs)``) play until a role in ``stop`` is to move or the match ends."""
    limit = match.max_rounds * (match.f_cap + 1) + match.action_budget + match.max_rounds + MAX_AUDIT_FLAGS + 1
    for _ in range(limit):
        role = match.current_role
        if role is None or role in stop:
            return
        match.apply(role, bots[role].act(match.observe(role, text=observe_text)))
    raise RuntimeError(f"the bots did not hand the turn back within {limit} actions")


class MatchHost:
    """What every FraudArena environment does with its current match: ``record()``, ``render()`` and the
    check that ``reset()`` came first. Mixed in before the API base class (AECEnv, gymnasium.Env,
    MultiAgentEnv), so its ``render`` is the one used."""

    match: RefereeEnvironment | None
    render_mode: str | None

    def _require_match(self) -> RefereeEnvironment:
        if self.match is None:
            raise RuntimeError("call reset() before using the environment")
        return self.match

    def record(self) -> dict[str, Any]:
        """The current match record (docs/rules.md §11; complete with ``rewards`` once the match is done)."""
        return self._require_match().record()

    def render(self) -> str | None:
        """A one-line text summary of the match (``render_mode="ansi"``); ``None`` without a render mode."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi'")
            return None
        return describe(self._require_match())
