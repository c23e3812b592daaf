"""House bots (docs/rules.md §12): legality over many matches, determinism, audit-cleanliness, coverage."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from fraudarena.agents import (
    HeuristicAuditor,
    RandomPolicy,
    ReactiveFraudster,
    ScriptedInvestigator,
    make_bot,
    play_match,
    register_bot_kind,
)
from fraudarena.agents import play as play_module
from fraudarena.arena import spec

TASKS = spec.TASK_IDS
N_SEEDS = 30
TEXT_FLAGS = {"missing_citation", "incoherent_rationale"}
HEURISTIC_FLAGS = {"missing_citation", "incoherent_rationale", *spec.TRACK_B_FLAGS}


def _flags(record: dict, key: str) -> set[tuple]:
    return {tuple(f) for f in record["audit"][key]}


@pytest.mark.parametrize("task_id", TASKS)
def test_house_bots_play_legal_matches(task_id: str) -> None:
    """Reactive vs Scripted vs Heuristic: every emitted action is accepted (play_match raises otherwise)."""
    for seed in range(N_SEEDS):
        rec = play_match(task_id, seed)
        assert rec["end_reason"] in {"commit_final", "max_rounds", "budget_exhausted", "all_decided"}
        assert rec["rewards"] is not None
        # the scripted rationales never trip the text checks of Track A
        assert not {f for f in _flags(rec, "ground_truth_flags") if f[1] in TEXT_FLAGS}, (task_id, seed)


@pytest.mark.parametrize("task_id", TASKS)
def test_camouflage_and_random_play_legal_matches(task_id: str) -> None:
    for seed in range(N_SEEDS // 3):
        play_match(task_id, seed, fraudster="camouflage")
        play_match(task_id, seed, fraudster="random", investigator="random", auditor="random")
        play_match(task_id, seed, fraudster="random", investigator="scripted", auditor="heuristic")
        for kind in ("do_nothing", "reject_all", "escalate_all", "surface_only"):
            play_match(task_id, seed, investigator=kind)


OVERRIDES = [
    {"max_rounds": 1},
    {"max_rounds": 8},
    {"max_proposals": 0},
    {"max_proposals": 12, "max_fraudster_actions_per_turn": 1},
    {"max_investigator_actions_per_turn": 30},
    {"max_investigator_actions_per_turn": 1},
    {"allowed_categories": ["saas", "fake_giveaway"]},
]


@pytest.mark.parametrize("overrides", OVERRIDES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_bots_stay_legal_under_overrides(overrides: dict) -> None:
    for task_id in ("task_1", "task_3"):
        for seed in range(3):
            for combo in (("reactive", "scripted", "heuristic"), ("camouflage", "surface_only", "heuristic"),
                          ("random", "random", "random")):
                rec = play_match(task_id, seed, *combo, observe_text=seed == 0, **overrides)
                assert rec["final_round"] <= overrides.get("max_rounds", spec.TASKS[task_id].max_rounds)


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_determinism_same_seed_same_record(task_id: str) -> None:
    for combo in (("reactive", "scripted", "heuristic"), ("random", "random", "random"),
                  ("camouflage", "scripted", "heuristic")):
        a = play_match(task_id, 11, *combo)
        b = play_match(task_id, 11, *combo)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_bot_seed_matters_for_random_policy() -> None:
    a = play_match("task_2", 5, "random", "random", "random")
    b = play_match("task_2", 5, RandomPolicy("fraudster", 999), RandomPolicy("investigator", 998),
                   RandomPolicy("auditor", 997))
    assert a["actions"] != b["actions"]


class _TerseInvestigator(RandomPolicy):
    """A random investigator whose verdict rationales are too short to cite anything."""

    def __init__(self, seed: int) -> None:
        super().__init__("investigator", seed)

    def act(self, observation: dict) -> dict:
        action = super().act(observation)
        if action["action_type"] == "verdict":
            action = {**action, "rationale": "looks fine"}
        return action


@pytest.mark.parametrize("task_id", TASKS)
def test_heuristic_auditor_flags_are_true(task_id: str) -> None:
    """Its flags are a subset of the ground truth and, for the checks it runs, all of it."""
    hits = 0
    for seed in range(12):
        # Every other match uses terse rationales, so the label-free checks have something to find.
        investigator = "random" if seed % 2 else _TerseInvestigator(seed)
        rec = play_match(task_id, seed, fraudster="random", investigator=investigator, auditor="heuristic")
        submitted = _flags(rec, "submitted_flags")
        truth = _flags(rec, "ground_truth_flags")
        assert submitted <= truth, (seed, submitted - truth)
        assert submitted == {f for f in truth if f[1] in HEURISTIC_FLAGS}, seed
        report = next(a["action"] for a in rec["actions"] if a["action"]["action_type"] == "submit_audit_report")
        n_a = sum(1 for f in submitted if f[0] == "A")
        assert report["audit_report"]["investigator_audit_score"] == pytest.approx(max(0.0, 1 - 0.1 * n_a))
        hits += len(submitted)
    assert hits > 0


def test_random_policy_covers_every_action_type() -> None:
    seen: dict[str, Counter] = {role: Counter() for role in spec.ROLES}
    for task_id in TASKS:
        for seed in range(8):
            rec = play_match(task_id, seed, "random", "random", "random")
            for entry in rec["actions"]:
                seen[entry["role"]][entry["action"]["action_type"]] += 1
    for role in spec.ROLES:
        assert set(seen[role]) == set(spec.ACTION_TYPES[role]), (role, seen[role])


def test_make_bot_kinds() -> None:
    assert isinstance(make_bot("scripted", "fraudster", 1), ReactiveFraudster)
    assert isinstance(make_bot("scripted", "investigator", 1), ScriptedInvestigator)
    assert isinstance(make_bot("scripted", "auditor", 1), HeuristicAuditor)
    assert isinstance(make_bot("reactive", "fraudster", 1), ReactiveFraudster)
    assert isinstance(make_bot("heuristic", "auditor", 1), HeuristicAuditor)
    assert isinstance(make_bot("random", "auditor", 1), RandomPolicy)
    with pytest.raises(ValueError, match="unknown bot kind"):
        make_bot("nope", "fraudster", 1)
    with pytest.raises(ValueError, match="plays fraudster"):
        make_bot("reactive", "investigator", 1)
    with pytest.raises(ValueError, match="unknown role"):
        make_bot("scripted", "referee", 1)


def test_register_bot_kind_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(play_module, "_PREFIXES", {})
    made = []

    def factory(kind: str, role: str, seed: int) -> ScriptedInvestigator:
        made.append((kind, role, seed))
        return ScriptedInvestigator(seed)

    register_bot_kind("policy:", factory)
    bot = make_bot("policy:ckpt/7", "investigator", 3)
    assert isinstance(bot, ScriptedInvestigator)
    assert made == [("policy:ckpt/7", "investigator", 3)]
    rec = play_match("task_1", 2, investigator="policy:ckpt/7")
    assert rec["rewards"] is not None
    with pytest.raises(ValueError):
        register_bot_kind("scripted", factory)


def test_agents_import_no_heavy_frameworks() -> None:
    code = ("import sys, fraudarena.agents; "
            "bad = [m for m in ('ray', 'fastapi', 'torch') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------
# RingHunterInvestigator (kind "ringhunter")


class _LegalityCheckingInvestigator:
    """Wraps an investigator and asserts each action is listed in the observation's ``legal_actions``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.n_links = 0

    def act(self, obs: dict) -> dict:
        action = self.inner.act(obs)
        legal = obs["legal_actions"]
        kind = action["action_type"]
        assert kind in legal["action_types"], action
        if kind == "investigate":
            assert action["investigation_target"] in legal["investigate"][action["ad_id"]], action
        elif kind == "verdict":
            assert action["ad_id"] in legal["verdict"], action
        elif kind == "link_accounts":
            allowed = set(legal["link_accounts"]["ad_ids"])
            assert {action["ad_id"], action["linked_ad_id"]} <= allowed, action
            self.n_links += 1
        return action


@pytest.mark.parametrize("task_id", TASKS)
def test_ringhunter_plays_legal_deterministic_matches(task_id: str) -> None:
    from fraudarena.agents.bots import RingHunterInvestigator

    assert isinstance(make_bot("ringhunter", "investigator", 1), RingHunterInvestigator)
    with pytest.raises(ValueError, match="plays investigator"):
        make_bot("ringhunter", "fraudster", 1)
    links = 0
    for seed in range(8):
        wrapped = _LegalityCheckingInvestigator(make_bot("ringhunter", "investigator", seed))
        rec = play_match(task_id, seed, "reactive", wrapped, "heuristic")
        links += wrapped.n_links
        assert rec["end_reason"] in {"commit_final", "max_rounds", "budget_exhausted", "all_decided"}
        assert not {f for f in _flags(rec, "ground_truth_flags") if f[1] in TEXT_FLAGS}, (task_id, seed)
        again = play_match(task_id, seed, "reactive", "ringhunter", "heuristic")
        assert json.dumps(again, sort_keys=True) == json.dumps(rec, sort_keys=True)  # deterministic per seed
        if task_id in ("task_1", "task_2"):
            assert not rec["links"]
    if spec.TASKS[task_id].n_rings:
        assert links / 8 >= 1.0, links  # ring hunting links every match on average


def test_ringhunter_links_more_than_scripted_and_never_wrongly() -> None:
    ring, scripted = 0, 0
    for seed in range(10):
        rec = play_match("task_3", seed, "reactive", "ringhunter", "heuristic")
        assert all(link["correct"] for link in rec["links"])
        ring += sum(1 for link in rec["links"] if link["credited"])
        scripted += sum(1 for link in play_match("task_3", seed)["links"] if link["credited"])
    assert ring > scripted


def test_ringhunter_stays_legal_under_overrides() -> None:
    for overrides in OVERRIDES:
        for task_id in ("task_1", "task_3"):
            play_match(task_id, 0, "reactive", "ringhunter", "heuristic", **overrides)
            play_match(task_id, 1, "random", "ringhunter", "heuristic", **overrides)
