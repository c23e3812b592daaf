"""docs/rules.md §3 and §4: overrides, named streams, ids, base ads, late arrivals, rings, identifiers."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter

import pytest
from test_rules_helpers import (
    ALL_CATS,
    CATS,
    CORE,
    KINDS,
    KNOBS,
    OTHER,
    POOLS,
    TASK_IDS,
    finish,
    int_range,
    new_env,
    pick,
    propose,
    rec_ads,
    ref_id,
    to_investigator,
)

from fraudarena.arena import ArenaError, RefereeEnvironment
from fraudarena.arena.rng import stream

A_WORDS = ["bright", "nova", "prime", "urban", "green", "swift", "true", "clear", "blue", "peak", "smart", "fresh",
           "gold", "north", "pure", "zen"]
B_WORDS = ["cart", "mart", "hub", "lane", "works", "labs", "point", "deals", "box", "shop", "wave", "nest", "path",
           "base", "field", "spot"]
STEM_RE = re.compile(rf"^({'|'.join(A_WORDS)})({'|'.join(B_WORDS)})([1-9][0-9]?)?$")
REGISTRARS = ("GoDaddy", "Namecheap", "Cloudflare", "Tucows", "Porkbun", "Gandi", "Njalla")
REG_P = (.30, .25, .15, .10, .08, .07, .05)


def test_stream_is_blake2b_keyed() -> None:
    for task_id, seed, name in [("task_1", 0, "episode"), ("task_3", 2**62, "evidence/ad_aaaaaa"),
                                ("task_2", 17, "proposal/3")]:
        key = f"fraudarena:v1:{task_id}:{seed}:{name}".encode()
        ref = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))
        got = stream(task_id, seed, name)
        assert [got.random() for _ in range(5)] == [ref.random() for _ in range(5)]


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_base_ads_counts_labels_and_category_rows(task_id: str) -> None:
    k = KNOBS[task_id]
    for seed in range(5):
        ads = [a for a in RefereeEnvironment(task_id, seed=seed).record()["ads"]]
        labels = Counter(a["label"] for a in ads)
        assert (labels["legit"], labels["fraud"], labels["gray"]) == k["base"]
        for a in ads:
            assert a["category"] in POOLS[task_id]
            assert a["is_fraudster_proposal"] is False
            if a["label"] == "fraud":
                assert (a["fraud_type"], a["severity"]) == (CATS[a["category"]][1], CATS[a["category"]][2])
            elif a["label"] == "gray":
                assert (a["fraud_type"], a["severity"]) == ("gray_area", 0.40)
            else:
                assert (a["fraud_type"], a["severity"]) == ("", 0.0)


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_first_base_ad_follows_episode_stream(task_id: str) -> None:
    """§4.5: the first ad in generation order is legit; ad_id, group, member, style, text_seed, country."""
    pool = POOLS[task_id]
    for seed in range(25):
        r = stream(task_id, seed, "episode")
        ad_id = ref_id("ad_", r.random())
        ads = rec_ads(new_env(task_id, seed))
        assert ad_id in ads
        ad = ads[ad_id]
        assert ad["label"] == "legit"
        probs = {"M": .70, "H": .20, "SUP": .10}
        groups = [g for g in ("M", "H", "SUP") if any(CATS[c][0] == g for c in pool)]
        total = sum(probs[g] for g in groups)
        group = groups[pick(r.random(), tuple(probs[g] / total for g in groups))]
        members = [c for c in pool if CATS[c][0] == group]
        assert ad["category"] == members[int(r.random() * len(members))]
        r.random()  # style
        r.random()  # text_seed
        country_group = pick(r.random(), (.80, .20))
        countries = CORE if country_group == 0 else OTHER
        assert ad["country"] == countries[int(r.random() * len(countries))]


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_id_formats_and_uniqueness_outside_rings(task_id: str) -> None:
    for seed in range(8):
        env = new_env(task_id, seed)
        propose(env, "ecommerce")
        propose(env, "saas", camouflage=["landing_page"])
        rec = finish(env)
        ads = rec["ads"]
        ring_of = {m: r for r in rec["rings"] for m in r["members"]}
        for a in ads:
            i = a["identifiers"]
            assert re.fullmatch(r"ad_[a-z2-7]{6}", a["ad_id"])
            assert re.fullmatch(r"adv_[a-z2-7]{6}", i["advertiser_id"])
            assert re.fullmatch(r"tf_[a-z2-7]{6}", i["targeting_fingerprint"])
            assert re.fullmatch(r"cfg_[a-z2-7]{6}", i["config_fingerprint"])
            assert re.fullmatch(r"pm_[a-z2-7]{8}", i["payment_id"])
            assert STEM_RE.fullmatch(i["domain_stem"]), i["domain_stem"]
            assert i["registrar"] in REGISTRARS
        assert len({a["ad_id"] for a in ads}) == len(ads)
        assert len({a["identifiers"]["advertiser_id"] for a in ads}) == len(ads)
        field = {"payment_id": "payment_id", "domain": "domain_stem", "targeting_fingerprint": "targeting_fingerprint",
                 "config_fingerprint": "config_fingerprint"}
        for kind in KINDS:
            for x in ads:
                for y in ads:
                    if x["ad_id"] >= y["ad_id"]:
                        continue
                    shared = x["identifiers"][field[kind]] == y["identifiers"][field[kind]]
                    rx, ry = ring_of.get(x["ad_id"]), ring_of.get(y["ad_id"])
                    expect = rx is not None and rx is ry and kind in rx["shared_kinds"]
                    assert shared == expect, (kind, x["ad_id"], y["ad_id"])


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_rings(task_id: str) -> None:
    k = KNOBS[task_id]
    sizes: Counter[int] = Counter()
    for seed in range(30):
        rec = new_env(task_id, seed).record()
        ads = rec_ads(rec)
        assert len(rec["rings"]) == k["n_rings"]
        seen: set[str] = set()
        remaining = k["base"][1]
        for i, ring in enumerate(rec["rings"]):
            left = k["n_rings"] - 1 - i
            assert len(ring["members"]) <= min(5, remaining - 3 * left)
            remaining -= len(ring["members"])
            assert ring["ring_id"] == f"ring_{i}"
            assert ring["topology"] == ("clique", "chain", "hub_spoke")[i % 3]
            assert 3 <= len(ring["members"]) <= 5
            sizes[len(ring["members"])] += 1
            assert 2 <= len(ring["shared_kinds"]) <= 4
            assert len(set(ring["shared_kinds"])) == len(ring["shared_kinds"])
            assert set(ring["shared_kinds"]) <= set(KINDS)
            for m in ring["members"]:
                assert ads[m]["label"] == "fraud" and not ads[m]["is_fraudster_proposal"]
                assert ads[m]["ring_id"] == ring["ring_id"]
                assert m not in seen
                seen.add(m)
        assert all(a["ring_id"] is None for a in rec["ads"] if a["ad_id"] not in seen)
    if task_id == "task_3":
        assert len(sizes) >= 2  # sizes vary (int[3, hi], hi = 4 for ring_0)


def _arrival_counts(rec: dict) -> Counter[int]:
    return Counter(a["arrived_round"] for a in rec["ads"] if not a["is_fraudster_proposal"])


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_late_arrival_schedule(task_id: str) -> None:
    k = KNOBS[task_id]
    n_base = sum(k["base"])
    for seed in range(4):
        counts = _arrival_counts(finish(new_env(task_id, seed)))
        expect = {1: n_base - k["L"], **{r + 2: c for r, c in enumerate(k["sched"])}}
        assert dict(counts) == expect


def test_late_arrival_schedule_under_max_rounds_override() -> None:
    n_base = 20
    assert dict(_arrival_counts(finish(new_env("task_3", 3, max_rounds=1)))) == {1: n_base}
    assert dict(_arrival_counts(finish(new_env("task_3", 3, max_rounds=2)))) == {1: n_base - 6, 2: 6}
    assert dict(_arrival_counts(finish(new_env("task_3", 3, max_rounds=3)))) == {1: n_base - 6, 2: 3, 3: 3}
    # max_rounds above L + 1 leaves later rounds without arrivals
    assert dict(_arrival_counts(finish(new_env("task_1", 3, max_rounds=8)))) == {1: 2, 2: 1, 3: 1, 4: 1}


def test_late_arrivals_mix_legit_heavy() -> None:
    labels: Counter[str] = Counter()
    for seed in range(60):
        rec = finish(new_env("task_3", seed))
        labels.update(a["label"] for a in rec["ads"] if not a["is_fraudster_proposal"] and a["arrived_round"] > 1)
    n = sum(labels.values())
    assert 0.45 <= labels["legit"] / n <= 0.72
    assert 0.08 <= labels["gray"] / n <= 0.28


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_nothing_published_at_reset_and_round_one_publish(task_id: str) -> None:
    k = KNOBS[task_id]
    env = new_env(task_id, 11)
    inv = env.observe("investigator")
    assert inv["queue"] == [] and env.observe("fraudster")["current_queue"] == []
    assert env.observe("auditor")["public_queue"] == []
    assert inv["arrivals_remaining"] == sum(k["base"])
    assert env.phase == "fraudster_turn" and env.round_number == 1
    propose(env, "ecommerce")
    assert env.observe("investigator")["queue"] == []
    to_investigator(env)
    q = env.observe("investigator")["queue"]
    assert len(q) == sum(k["base"]) - k["L"] + 1
    assert all(a["arrived_round"] == 1 for a in q)
    assert env.observe("investigator")["arrivals_remaining"] == k["L"]
    proposal = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])
    assert proposal["arrived_round"] == 1 and proposal["ad_id"] in {a["ad_id"] for a in q}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_every_later_round_has_an_organic_arrival(task_id: str) -> None:
    for seed in range(3):
        counts = _arrival_counts(finish(new_env(task_id, seed)))
        assert all(counts[r] >= 1 for r in range(2, KNOBS[task_id]["max_rounds"] + 1))


def test_proposal_stream_draw_order() -> None:
    """§6.1: proposal/<k>: ad_id; advertiser_id; payment_id; registrar; stem; tf; cfg; country group + member."""
    for seed in range(12):
        env = new_env("task_2", seed)
        propose(env, "ecommerce", camouflage=["advertiser_history"] if seed % 2 else [])
        propose(env, "saas")
        rec = finish(env)
        props = sorted((a for a in rec["ads"] if a["is_fraudster_proposal"]), key=lambda a: a["slot_index"])
        for k, ad in enumerate(props):
            r = stream("task_2", seed, f"proposal/{k}")
            assert ad["ad_id"] == ref_id("ad_", r.random())
            i = ad["identifiers"]
            assert i["advertiser_id"] == ref_id("adv_", r.random())
            assert i["payment_id"] == ref_id("pm_", r.random())
            assert i["registrar"] == REGISTRARS[pick(r.random(), REG_P)]
            stem = A_WORDS[int(r.random() * 16)] + B_WORDS[int(r.random() * 16)]
            n = int_range(r.random(), 0, 99)
            assert i["domain_stem"] == stem + (str(n) if n > 0 else "")
            assert i["targeting_fingerprint"] == ref_id("tf_", r.random())
            assert i["config_fingerprint"] == ref_id("cfg_", r.random())
            legit_col = "advertiser_history" in ad["camouflage"]
            g = pick(r.random(), (.80, .20) if legit_col else (.55, .45))
            countries = CORE if g == 0 else OTHER
            assert ad["country"] == countries[int(r.random() * len(countries))]


# ------------------------------------------------------------------------------------------------------------
# §2 overrides


@pytest.mark.parametrize("kwargs", [
    {"task_id": "task_9"},
    {"max_rounds": 0}, {"max_rounds": 21},
    {"max_proposals": -1}, {"max_proposals": 51},
    {"max_fraudster_actions_per_turn": 0}, {"max_fraudster_actions_per_turn": 11},
    {"max_investigator_actions_per_turn": 0}, {"max_investigator_actions_per_turn": 31},
    {"allowed_categories": []},
    {"allowed_categories": ["network_crypto"]},  # outside task_1's pool
    {"allowed_categories": ["ecommerce", "ecommerce"]},
    {"allowed_categories": ["nope"]},
    {"max_rounds": True}, {"max_rounds": 2.0}, {"allowed_categories": "saas"},
    {"action_budget": 99},  # not overridable
    {"camouflage_allowance": 3},
])
def test_bad_overrides_are_validation_errors(kwargs: dict) -> None:
    kw = {"task_id": "task_1", "seed": 1, **kwargs}
    with pytest.raises(ArenaError) as info:
        RefereeEnvironment(**kw)
    assert info.value.code == "validation_error"


@pytest.mark.parametrize("seed", [-1, 2**63, True, "5", 1.0])
def test_seed_out_of_range_rejected(seed: object) -> None:
    with pytest.raises(ArenaError) as info:
        RefereeEnvironment("task_1", seed=seed)
    assert info.value.code == "validation_error"


def test_overrides_at_bounds_accepted_and_effective() -> None:
    env = new_env("task_2", 1, max_rounds=20, max_proposals=50, max_fraudster_actions_per_turn=10,
                  max_investigator_actions_per_turn=30, allowed_categories=["saas", "ecommerce"])
    obs = env.observe("fraudster")
    assert obs["max_rounds"] == 20 and obs["max_proposals"] == 50
    assert obs["actions_left_this_turn"] == 10
    assert set(obs["allowed_categories"]) == {"saas", "ecommerce"}
    # base ads still use the task's pool
    base_cats = {a["category"] for a in env.record()["ads"]}
    assert base_cats <= set(POOLS["task_2"])
    for lo in ({"max_rounds": 1}, {"max_proposals": 0}, {"max_fraudster_actions_per_turn": 1},
               {"max_investigator_actions_per_turn": 1}, {"allowed_categories": list(ALL_CATS)}):
        new_env("task_3", 1, **lo)


# ------------------------------------------------------------------------------------------------------------
# A full reference of §4.5 from the rules text: every draw of the `episode` stream, in order.

GROUP_P = {"legit": (.70, .20, .10), "fraud": (.40, .50, .10), "gray": (.25, .35, .40)}
COUNTRY_P = {"legit": (.80, .20), "fraud": (.55, .45), "gray": (.70, .30)}
STYLE_P = {"legit": (.80, .20), "fraud": (.45, .55), "gray": (.40, .60)}
LATE_W = {"legit": 4, "gray": 2, "fraud": 1}


def ref_episode(task_id: str, seed: int, max_rounds: int | None = None) -> dict:
    """Every §4.5 draw of match (task_id, seed), with ``max_rounds`` overridden if given: ads in generation
    order (style, text seed, late round, ring, identifiers), the late-arrival order, and the rings."""
    k = KNOBS[task_id]
    rounds = k["max_rounds"] if max_rounds is None else max_rounds
    pool = POOLS[task_id]
    r = stream(task_id, seed, "episode").random
    used: dict[str, set[str]] = {"ad": set(), "adv": set(), "pm": set(), "stem": set(), "tf": set(), "cfg": set()}

    def uid(kind: str, prefix: str) -> str:
        while True:
            v = ref_id(prefix, r())
            if v not in used[kind]:
                used[kind].add(v)
                return v

    def stem() -> str:
        while True:
            a, b = A_WORDS[int(r() * 16)], B_WORDS[int(r() * 16)]
            n = int_range(r(), 0, 99)
            v = a + b + (str(n) if n > 0 else "")
            if v not in used["stem"]:
                used["stem"].add(v)
                return v

    labels = ["legit"] * k["base"][0] + ["fraud"] * k["base"][1] + ["gray"] * k["base"][2]
    ads = []
    for label in labels:
        ad_id = uid("ad", "ad_")
        groups = [g for g in ("M", "H", "SUP") if any(CATS[c][0] == g for c in pool)]
        probs = dict(zip(("M", "H", "SUP"), GROUP_P[label], strict=True))
        total = sum(probs[g] for g in groups)
        group = groups[pick(r(), tuple(probs[g] / total for g in groups))]
        members = [c for c in pool if CATS[c][0] == group]
        category = members[int(r() * len(members))]
        style = ("plain", "pushy")[pick(r(), STYLE_P[label])]
        text_seed = int(r() * 4294967296)
        countries = CORE if pick(r(), COUNTRY_P[label]) == 0 else OTHER
        ads.append({"ad_id": ad_id, "label": label, "category": category, "style": style, "text_seed": text_seed,
                    "country": countries[int(r() * len(countries))], "arrived_round": 1, "ring_id": None,
                    "ids": {}})
    # late arrivals
    remaining = list(range(len(ads)))
    late = []
    for j in range(k["L"] if rounds > 1 else 0):
        weights = [LATE_W[ads[i]["label"]] for i in remaining]
        target = r() * sum(weights)
        acc = 0
        chosen = remaining[-1]
        for i, w in zip(remaining, weights, strict=True):
            acc += w
            if target < acc:
                chosen = i
                break
        remaining.remove(chosen)
        late.append(ads[chosen]["ad_id"])
        ads[chosen]["arrived_round"] = 2 + j % (rounds - 1)
    # rings
    rings = []
    if k["n_rings"]:
        fraud = [a for a in ads if a["label"] == "fraud"]
        for i in range(len(fraud) - 1, 0, -1):
            j = int(r() * (i + 1))
            fraud[i], fraud[j] = fraud[j], fraud[i]
        pos = 0
        for i in range(k["n_rings"]):
            left = k["n_rings"] - 1 - i
            hi = min(5, len(fraud) - pos - 3 * left)
            if hi < 3:
                break
            size = int_range(r(), 3, hi)
            members = fraud[pos:pos + size]
            pos += size
            n_shared = int_range(r(), 2, 4)
            kinds = list(KINDS)
            for x in range(3, 0, -1):
                y = int(r() * (x + 1))
                kinds[x], kinds[y] = kinds[y], kinds[x]
            shared = kinds[:n_shared]
            for m in members:
                m["ring_id"] = f"ring_{i}"
            rings.append({"ring_id": f"ring_{i}", "members": members, "shared": shared})
    # identifiers
    prefix = {"payment_id": ("pm", "pm_"), "targeting_fingerprint": ("tf", "tf_"),
              "config_fingerprint": ("cfg", "cfg_")}

    def draw_kind(kind: str) -> dict[str, str]:
        if kind == "domain":
            reg = REGISTRARS[pick(r(), REG_P)]
            return {"registrar": reg, "domain_stem": stem()}
        return {kind: uid(*prefix[kind])}

    for ring in rings:
        for kind in KINDS:
            if kind in ring["shared"]:
                vals = draw_kind(kind)
                for m in ring["members"]:
                    m["ids"].update(vals)
    ring_of = {m["ad_id"]: ring for ring in rings for m in ring["members"]}
    for a in ads:
        a["ids"]["advertiser_id"] = uid("adv", "adv_")
        shared = ring_of[a["ad_id"]]["shared"] if a["ad_id"] in ring_of else []
        for kind in KINDS:
            if kind not in shared:
                a["ids"].update(draw_kind(kind))
    return {"ads": {a["ad_id"]: a for a in ads}, "late": late,
            "rings": [{"ring_id": g["ring_id"], "members": sorted(m["ad_id"] for m in g["members"]),
                       "shared": set(g["shared"])} for g in rings]}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_episode_matches_reference_draws(task_id: str) -> None:
    for seed in range(12):
        ref = ref_episode(task_id, seed)
        rec = finish(new_env(task_id, seed))
        got = {a["ad_id"]: a for a in rec["ads"]}
        assert set(got) == set(ref["ads"])
        for ad_id, a in ref["ads"].items():
            g = got[ad_id]
            assert (g["label"], g["category"], g["country"]) == (a["label"], a["category"], a["country"]), ad_id
            assert g["arrived_round"] == a["arrived_round"], ad_id
            assert g["ring_id"] == a["ring_id"], ad_id
            assert {k: g["identifiers"][k] for k in a["ids"]} == a["ids"], ad_id
        assert [(x["ring_id"], sorted(x["members"]), set(x["shared_kinds"])) for x in rec["rings"]] == \
            [(x["ring_id"], x["members"], x["shared"]) for x in ref["rings"]]
