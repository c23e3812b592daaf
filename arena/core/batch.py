"""``CoreBatch``: M matches of FraudArena as arrays, stepped by the numba kernels of ``kernels.py``.

The Python side does what needs text or the named random streams, once per match or per rare event: reset
(episode generation, evidence draws, the composed copies' markers), proposals and modifications (their texts
and hidden attributes) and organic copy edits (the composer). Every decision in between is one kernel call
for the whole batch. The rules are the referee's (``arena/referee.py``); ``tests/arena/test_core_differential.py``
checks the two against each other action by action.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ArenaError, illegal
from ..evidence import classifier_confidence
from ..generation import UsedIds, create_proposal, generate_episode
from ..referee import validate_config
from ..rng import stream_seed
from ..spec import CATEGORY_INDEX, CORE_COUNTRY_SET, LABELS, TARGETS, TASKS
from ..texts import compose, compose_marked, copy_markers
from . import kernels as K
from .actions import CAMO_SIZE, N_FRAUD_ACTIONS, n_investigator_actions
from .draws import draw_ads, mt_streams_values
from .layout import (
    AF_CCONF_SAFE,
    AF_CCONF_UNSAFE,
    AF_CU1,
    AF_IMPACT,
    AF_SEVERITY,
    AI_AOI,
    AI_ARRIVED,
    AI_CAT,
    AI_CMODE,
    AI_CORE,
    AI_DIRTY,
    AI_GROUP,
    AI_ID0,
    AI_KEY,
    AI_LABEL,
    AI_LATE,
    AI_MARKERS,
    AI_OVERLAP,
    AI_PDIFF,
    AI_PMARKERS,
    AI_PROPOSAL,
    AI_REV,
    AI_RING,
    AI_ROOT,
    AI_SLOT,
    AI_STAGED,
    AI_STATUS,
    IDENT_FIELDS,
    MARKER_BIT,
    MI_ALLOWED,
    MI_BUDGET,
    MI_CAMO_ALLOW,
    MI_CAMO_USED,
    MI_CAP,
    MI_FCAP,
    MI_ICAP,
    MI_MAX_LINKS,
    MI_MAX_PROPS,
    MI_MAX_ROUNDS,
    MI_NBASE,
    MI_NEDITS,
    MI_NPROPS,
    MI_NQUEUE,
    MI_NRINGS,
    MI_NSLOTS,
    MI_PHASE,
    MI_RING_LINKS,
    MI_ROUND,
    MI_TASK,
    MI_TERMS,
    MI_UNPUB,
    N_AF,
    N_AI,
    N_MI,
    NO_PENDING,
    PH_FRAUDSTER,
    ST_PENDING,
    TERM_CALIBRATION,
    TERM_COVERAGE,
    TERM_LINKS,
)
from .tables import CAT_GROUP, N_FIELDS, TASK_INDEX


def marker_bits(markers: list[str]) -> int:
    """``copy_markers`` families as the bitmask of ``AI_MARKERS``."""
    bits = 0
    for name in markers:
        bits |= MARKER_BIT[name]
    return bits


def id_sort_key(ad_id: str) -> int:
    """An integer that orders ad ids as the referee's queue does (string order of the ids)."""
    raw = ad_id.encode()
    if len(raw) > 8:  # ids are ``ad_`` + 6 base-32 characters; keep the order for longer ones too
        raw = raw[-8:]
    return int.from_bytes(raw.ljust(8, b"\0"), "big") >> 1


def max_slots(task_ids: tuple[str, ...], max_proposals: int | None = None) -> int:
    """Ad slots a batch needs for ``task_ids`` (base ads plus every proposal the task allows)."""
    return max(TASKS[t].n_base + (TASKS[t].max_proposals if max_proposals is None else max_proposals)
               for t in task_ids)


@dataclass
class MatchTexts:
    """Per-match data the kernels never read: ids, texts and the id registry for new proposals."""

    task_id: str
    seed: int
    overrides: dict[str, Any]
    ad_ids: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    text_seeds: list[int] = field(default_factory=list)
    copies: dict[int, str] = field(default_factory=dict)  # slot -> current copy where it is not the seed's
    pending: dict[int, str] = field(default_factory=dict)  # slot -> pending copy of a published proposal
    pending_blurbs: dict[int, str] = field(default_factory=dict)  # slot -> pending landing blurb
    proposal_texts: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # slot -> copy, targeting, blurb
    used: UsedIds | None = None
    ident_ids: list[dict[str, int]] = field(default_factory=list)


Proposal = tuple[int, str, tuple[str, ...], str, str | None, str | None]
"""One ``propose_ad``: (match, category, camouflage targets, copy, targeting or None, landing blurb or None)."""


class CoreBatch:
    """M matches as arrays; see the module docstring and ``docs/rules.md`` ("The batched core")."""

    def __init__(self, n_matches: int, n_slots: int = 33, max_rounds: int = 20) -> None:
        m, a = n_matches, n_slots
        self.n_matches, self.n_slots, self.max_rounds = m, a, max_rounds
        self.mi = np.zeros((m, N_MI), np.int64)
        self.ai = np.zeros((m, a, N_AI), np.int64)
        self.af = np.zeros((m, a, N_AF), np.float64)
        self.outc = np.zeros((m, a, N_FIELDS), np.int64)
        self.links = np.zeros((m, max(1, max(t.max_links for t in TASKS.values())), 2), np.int64)
        self.link_ok = np.zeros((m, self.links.shape[1]), np.int64)
        self.vorder = np.zeros((m, a), np.int64)
        self.queue = np.zeros((m, a), np.int64)
        self.edits = np.zeros((m, max_rounds + 1, 2 * a + 2), np.float64)
        self.events = np.zeros((m, a + 1, 2), np.int64)
        self.gr = np.zeros((m, K.N_GR), np.float64)
        self.codes = np.zeros(m, np.int64)
        self.texts: list[MatchTexts | None] = [None] * m
        self.inv_mask = np.zeros((m, n_investigator_actions(a)), bool)
        self.fraud_mask = np.zeros((m, N_FRAUD_ACTIONS), bool)
        self._pending_matches: set[int] = set()  # matches with proposal text changes waiting for a publish step
        # scratch arrays of _hidden (evidence/classifier seeds, modes, shares, outcomes, classifier draws)
        n = max(a, m)  # a reset's ads, or one new proposal per match
        self._scratch = (np.zeros(n, np.uint64), np.zeros(n, np.uint64), np.zeros((n, 5), np.int64),
                         np.zeros(n, np.bool_), np.zeros(n, np.int64), np.zeros((n, N_FIELDS), np.int64),
                         np.zeros((n, 2)), np.zeros((n, 2), np.int64))
        self.mi[:, MI_PHASE] = 3  # empty slots are done until reset

    # -------------------------------------------------------------------------------------------------------------
    def reset(self, m: int, task_id: str, seed: int, overrides: dict[str, Any] | None = None) -> None:
        """Start match ``m`` as ``RefereeEnvironment(task_id, seed, **overrides)`` would."""
        task_id, seed_v, clean = validate_config(task_id, seed, dict(overrides or {}))
        assert seed_v is not None
        task = TASKS[task_id]
        max_rounds = clean.get("max_rounds", task.max_rounds)
        max_props = clean.get("max_proposals", task.max_proposals)
        if task.n_base + max_props > self.n_slots or max_rounds > self.max_rounds:
            raise ValueError(f"batch too small for {task_id} with {clean}: {self.n_slots} slots, "
                             f"{self.max_rounds} rounds")
        mi, ai, af = self.mi[m], self.ai[m], self.af[m]
        mi[:] = 0
        ai[:] = 0
        af[:] = 0.0
        self.outc[m] = 0
        ep = generate_episode(task, task_id, seed_v, max_rounds)
        base = sorted(ep.base_ads, key=lambda ad: ad.ad_id)
        info = MatchTexts(task_id, seed_v, clean, used=ep.used, ident_ids=[{} for _ in IDENT_FIELDS])
        ring_index = {ring.ring_id: i for i, ring in enumerate(ep.rings)}
        rows = []
        for s, ad in enumerate(base):
            label = _LABEL_INDEX[ad.label]
            cat = CATEGORY_INDEX[ad.category]
            rows.append((label, cat, CAT_GROUP[cat], 1 if ad.country in CORE_COUNTRY_SET else 0,
                         marker_bits(compose_marked("copy", ad.category, ad.style, ad.text_seed)[1]),
                         ad.late_round or 0, ring_index[ad.ring_id] if ad.ring_id else -1, id_sort_key(ad.ad_id), s,
                         NO_PENDING, label))
            info.ad_ids.append(ad.ad_id)
            info.styles.append(ad.style)
            info.text_seeds.append(ad.text_seed)
        ai[:len(base), _RESET_COLUMNS] = rows
        af[:len(base), AF_SEVERITY] = [ad.severity for ad in base]
        n_base = len(base)
        self._hidden(np.full(len(base), m), np.arange(len(base)), base, [info] * len(base))
        mi[MI_TASK] = TASK_INDEX[task_id]
        mi[MI_PHASE] = PH_FRAUDSTER
        mi[MI_ROUND] = 1
        mi[MI_MAX_ROUNDS] = max_rounds
        mi[MI_FCAP] = clean.get("max_fraudster_actions_per_turn", task.max_fraudster_actions_per_turn)
        mi[MI_ICAP] = clean.get("max_investigator_actions_per_turn", task.max_investigator_actions_per_turn)
        mi[MI_CAP] = mi[MI_FCAP]
        mi[MI_BUDGET] = task.action_budget
        mi[MI_CAMO_ALLOW] = task.camouflage_allowance
        mi[MI_MAX_PROPS] = max_props
        mi[MI_UNPUB] = n_base
        mi[MI_MAX_LINKS] = task.max_links
        mi[MI_NRINGS] = task.n_rings
        mi[MI_NSLOTS] = mi[MI_NBASE] = n_base
        mi[MI_TERMS] = ((TERM_CALIBRATION if task.calibration_term else 0) | (TERM_LINKS if task.links_term else 0)
                        | (TERM_COVERAGE if task.coverage_term else 0))
        mi[MI_RING_LINKS] = sum(len(ring.members) - 1 for ring in ep.rings)
        allowed = clean.get("allowed_categories", task.category_pool)
        mi[MI_ALLOWED] = sum(1 << CATEGORY_INDEX[c] for c in allowed)
        draws = 2 * n_base + 2  # at most two per pending ad (the referee's organic edits), each round from 2
        self.edits[m] = 0.0
        seeds = np.array([stream_seed(task_id, seed_v, f"edits/{r}") for r in range(2, max_rounds + 1)], np.uint64)
        mt_streams_values(seeds, draws, self.edits[m, 2:max_rounds + 1])
        self.texts[m] = info
        self._pending_matches.discard(m)

    def _hidden(self, ms: np.ndarray, ss: np.ndarray, ads: Sequence[Any], infos: Sequence[MatchTexts]) -> None:
        """Evidence outcomes, classifier draws and identifiers of ``ads[i]`` in match ``ms[i]``, slot ``ss[i]`` (the
        referee's streams, compiled draws): a reset's ads, or the new proposals of several matches in one call."""
        n = len(ads)
        ev, cl, modes, shares, n_pay, outc, cls_u, vals = (a[:n] for a in self._scratch)
        pairs = list(zip(ads, infos, strict=True))
        ev[:] = [stream_seed(info.task_id, info.seed, f"evidence/{ad.ad_id}") for ad, info in pairs]
        cl[:] = [stream_seed(info.task_id, info.seed, f"classifier/{ad.ad_id}") for ad, info in pairs]
        modes[:] = [_modes(ad) for ad in ads]
        shares[:] = [ad.shares_fingerprint for ad in ads]
        n_pay[:] = [ad.n_on_payment for ad in ads]
        draw_ads(ev, cl, modes, shares, n_pay, outc, cls_u, vals)
        self.outc[ms, ss] = outc
        self.ai[ms, ss, AI_AOI] = vals[:, 0]
        self.ai[ms, ss, AI_OVERLAP] = vals[:, 1]
        self.af[ms, ss, AF_CU1] = cls_u[:, 0]
        u2s = cls_u[:, 1].tolist()  # the two confidences a pull can show (the evidence module's function)
        self.af[ms, ss, AF_CCONF_UNSAFE] = [classifier_confidence(True, u2) for u2 in u2s]
        self.af[ms, ss, AF_CCONF_SAFE] = [classifier_confidence(False, u2) for u2 in u2s]
        # identifiers as match-local integers, in first-seen order per field
        self.ai[ms, ss, AI_ID0:AI_ID0 + len(IDENT_FIELDS)] = [
            [ids.setdefault(value, len(ids) + 1) for ids, value in zip(info.ident_ids, _ident_values(ad),
                                                                        strict=True)]
            for ad, info in pairs]

    # -------------------------------------------------------------------------------------------------------------
    def step(self, actions: np.ndarray, conf: np.ndarray) -> np.ndarray:
        """Apply one action code per match (negative = no action); returns the kernels' codes (see kernels.py).

        Proposal codes come back as ``NEEDS_PYTHON`` untouched: call :meth:`propose` for them. Organic copy
        edits that the step triggered are resolved before this returns.
        """
        self.mi[:, MI_NEDITS] = 0
        rounds = self.mi[:, MI_ROUND].copy() if self._pending_matches else None
        K.step_batch(self.mi, self.ai, self.af, self.links, self.vorder, self.queue, self.edits, self.events,
                     self.gr, self.link_ok, actions, conf, self.codes)
        self.resolve_edits()
        if rounds is not None:
            for m in list(self._pending_matches):
                self._apply_pending_texts(m, int(rounds[m]))
        return self.codes

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """Legal-action masks of both roles for every match: ([M, 1 + 10*A], [M, N_FRAUD_ACTIONS]) bool."""
        K.masks_batch(self.mi, self.ai, self.queue, CAMO_SIZE, len(CATEGORY_INDEX), self.inv_mask, self.fraud_mask)
        return self.inv_mask, self.fraud_mask

    def _apply_pending_texts(self, m: int, round_before: int) -> None:
        """After a publish step, the pending copy and blurb changes of published proposals are public."""
        if self.mi[m, MI_PHASE] == PH_FRAUDSTER and self.mi[m, MI_ROUND] == round_before:
            return  # still the same Fraudster turn: nothing was published
        info = self.texts[m]
        assert info is not None
        for s, copy in info.pending.items():
            _old_copy, targeting, blurb = info.proposal_texts[s]
            info.copies[s] = copy
            info.proposal_texts[s] = (copy, targeting, blurb)
        for s, blurb in info.pending_blurbs.items():
            copy, targeting, _ = info.proposal_texts[s]
            info.proposal_texts[s] = (copy, targeting, blurb)
        info.pending.clear()
        info.pending_blurbs.clear()
        self._pending_matches.discard(m)

    def resolve_edits(self) -> None:
        """Compose the new copies the last publish steps drew, and update markers and revisions."""
        for m in np.nonzero(self.mi[:, MI_NEDITS])[0]:
            info = self.texts[m]
            assert info is not None
            for e in range(self.mi[m, MI_NEDITS]):
                s, text_seed = int(self.events[m, e, 0]), int(self.events[m, e, 1])
                cat = _CAT_IDS[self.ai[m, s, AI_CAT]]
                old = info.copies.get(s)
                if old is None:
                    old = compose("copy", cat, info.styles[s], info.text_seeds[s])
                new, markers = compose_marked("copy", cat, info.styles[s], text_seed)
                if new != old:
                    info.copies[s] = new
                    self.ai[m, s, AI_REV] += 1
                    self.ai[m, s, AI_MARKERS] = marker_bits(markers)
                    self.ai[m, s, AI_DIRTY] = 1
            self.mi[m, MI_NEDITS] = 0

    def _capped(self, m: int) -> None:
        self.mi[m, MI_NEDITS] = 0
        round_before = int(self.mi[m, MI_ROUND])
        K.fraudster_capped(self.mi, self.ai, self.af, self.links, self.vorder, self.queue, self.edits, self.events,
                           self.gr, self.link_ok, m)
        self.resolve_edits()
        if m in self._pending_matches:
            self._apply_pending_texts(m, round_before)

    def propose(self, m: int, category: str, camouflage: tuple[str, ...], ad_copy: str,
                targeting: str | None = None, blurb: str | None = None) -> None:
        """``propose_ad`` for match ``m`` (the referee's checks and effects). Raises ArenaError if illegal."""
        self.propose_many([(m, category, camouflage, ad_copy, targeting, blurb)])

    def propose_many(self, items: Sequence[Proposal]) -> None:
        """``propose_ad`` in several matches at once, at most one item per match: each item has the effects
        :meth:`propose` would have, and the new ads' evidence and classifier draws are made in one compiled
        call. Raises ArenaError, before any item takes effect, if one is illegal."""
        if len({it[0] for it in items}) != len(items):
            raise ValueError("propose_many takes at most one proposal per match")
        checked = [self._check_proposal(m, category, camouflage) for m, category, camouflage, *_ in items]
        ads, ms, ss = [], [], []
        for (m, category, _camo, ad_copy, _targeting, _blurb), (slot, c, camo) in zip(items, checked, strict=True):
            info = self.texts[m]
            assert info is not None and info.used is not None
            ad = create_proposal(info.task_id, info.seed, slot, category, camo, info.used)
            s = int(self.mi[m, MI_NSLOTS])
            row = self.ai[m, s]
            row[:] = 0
            self.af[m, s] = 0.0
            self.outc[m, s] = 0
            row[AI_LABEL] = _FRAUD
            row[AI_CAT] = c
            row[AI_GROUP] = CAT_GROUP[c]
            row[AI_CORE] = 1 if ad.country in CORE_COUNTRY_SET else 0
            row[AI_MARKERS] = marker_bits(copy_markers(ad_copy))
            row[AI_RING] = -1
            row[AI_KEY] = id_sort_key(ad.ad_id)
            row[AI_ROOT] = s
            row[AI_PMARKERS] = NO_PENDING
            row[AI_PROPOSAL] = 1
            row[AI_SLOT] = slot
            row[AI_STAGED] = 1
            row[AI_STATUS] = ST_PENDING
            row[AI_CMODE] = LABELS.index(ad.mode("policy_classifier"))
            self.af[m, s, AF_SEVERITY] = ad.severity
            self.af[m, s, AF_IMPACT] = ad.impact
            ads.append(ad)
            ms.append(m)
            ss.append(s)
        if not ads:
            return
        self._hidden(np.array(ms), np.array(ss), ads, [self.texts[m] for m in ms])  # type: ignore[misc]
        for (m, category, camo, ad_copy, targeting, blurb), ad, s in zip(items, ads, ss, strict=True):
            info = self.texts[m]
            assert info is not None
            info.ad_ids.append(ad.ad_id)
            info.styles.append("plain")
            info.text_seeds.append(ad.text_seed)
            info.copies[s] = ad_copy
            info.proposal_texts[s] = (ad_copy, targeting or compose("targeting", category, "plain", ad.text_seed),
                                      blurb or compose("landing", category, "plain", ad.text_seed))
            self.mi[m, MI_NSLOTS] = s + 1
            self.mi[m, MI_NPROPS] += 1
            self.mi[m, MI_CAMO_USED] += len(camo)
        for m in ms:
            self._capped(m)

    def _check_proposal(self, m: int, category: str, camouflage: tuple[str, ...]) -> tuple[int, int, tuple[str, ...]]:
        """The referee's checks of a ``propose_ad`` in match ``m``: (its proposal slot, category index, camouflage)."""
        mi = self.mi[m]
        if mi[MI_PHASE] != PH_FRAUDSTER:
            raise ArenaError("phase_violation", "it is not the fraudster's turn")
        slot = int(mi[MI_NPROPS])
        if slot >= mi[MI_MAX_PROPS]:
            raise illegal(f"no proposals left ({int(mi[MI_MAX_PROPS])} used)")
        c = CATEGORY_INDEX.get(category)
        if c is None or not (int(mi[MI_ALLOWED]) >> c) & 1:
            raise illegal(f"category {category!r} is not allowed")
        camo = tuple(camouflage)
        if len(camo) > mi[MI_CAMO_ALLOW] - mi[MI_CAMO_USED]:
            raise illegal(f"camouflage of {len(camo)} targets exceeds the allowance left")
        return slot, c, camo

    def modify(self, m: int, slot_index: int, new_copy: str | None = None, new_blurb: str | None = None) -> None:
        """``modify_pending_ad`` for match ``m``. Raises ArenaError if illegal."""
        mi, info = self.mi[m], self.texts[m]
        assert info is not None
        if mi[MI_PHASE] != PH_FRAUDSTER:
            raise ArenaError("phase_violation", "it is not the fraudster's turn")
        if slot_index >= mi[MI_NPROPS]:
            raise illegal(f"no own proposal in slot {slot_index}")
        s = int(mi[MI_NBASE]) + slot_index
        if self.ai[m, s, AI_STATUS] != ST_PENDING:
            raise illegal(f"the proposal in slot {slot_index} already has a verdict")
        _copy, targeting, blurb = info.proposal_texts[s]
        if self.ai[m, s, AI_ARRIVED] == 0:  # staged: changes at once
            if new_copy and new_copy != info.copies[s]:
                info.copies[s] = new_copy
                self.ai[m, s, AI_MARKERS] = marker_bits(copy_markers(new_copy))
            info.proposal_texts[s] = (info.copies[s], targeting, new_blurb or blurb)
        else:  # published: public at the next publish step
            if new_copy:
                info.pending[s] = new_copy
                self.ai[m, s, AI_PMARKERS] = marker_bits(copy_markers(new_copy))
                self.ai[m, s, AI_PDIFF] = 1 if new_copy != info.copies[s] else 0
            if new_blurb:
                info.pending_blurbs[s] = new_blurb
            if new_copy or new_blurb:
                self._pending_matches.add(m)
        self._capped(m)

    def ad_id(self, m: int, slot: int) -> str:
        """The ad id of slot ``slot`` of match ``m``."""
        info = self.texts[m]
        assert info is not None
        return info.ad_ids[slot]

    def queue_ids(self, m: int) -> list[str]:
        """Published ad ids of match ``m`` in queue order."""
        n = int(self.mi[m, MI_NQUEUE])
        return [self.ad_id(m, int(s)) for s in self.queue[m, :n]]


_CAT_IDS = tuple(sorted(CATEGORY_INDEX, key=CATEGORY_INDEX.__getitem__))
_LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}
_FRAUD = _LABEL_INDEX["fraud"]
_EVIDENCE_TARGETS = TARGETS[:5]
_ident_values = operator.attrgetter(*IDENT_FIELDS)
# The ad columns a reset writes for each base ad, in the order of ``CoreBatch.reset``'s rows.
_RESET_COLUMNS = np.array([AI_LABEL, AI_CAT, AI_GROUP, AI_CORE, AI_MARKERS, AI_LATE, AI_RING, AI_KEY, AI_ROOT,
                           AI_PMARKERS, AI_CMODE])


def _modes(ad: Any) -> list[int]:
    """The label column each evidence target of ``ad`` draws from (``Ad.mode``), as label indices."""
    if not ad.is_proposal:
        return [_LABEL_INDEX[ad.label]] * len(_EVIDENCE_TARGETS)
    return [_LABEL_INDEX[ad.mode(t)] for t in _EVIDENCE_TARGETS]

