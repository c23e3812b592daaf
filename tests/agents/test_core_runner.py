"""The batched-core rollout runner: well-formed PPO batches, and every finished match equal to its referee replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fraudarena.agents.rl.core_runner import CoreRolloutRunner
from fraudarena.agents.rl.models import build_model
from fraudarena.arena.spec import TASK_IDS


def _weights(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return {"live": {r: build_model(r, 16).state_dict() for r in ("investigator", "fraudster")}}


@pytest.fixture(scope="module")
def runner() -> CoreRolloutRunner:
    r = CoreRolloutRunner(24, TASK_IDS, 7, ("investigator", "fraudster"), {"live": 1.0}, hidden=16,
                          archive_rate=1.0)
    r.set_weights(_weights())
    r.set_mode("ppo")
    return r


def test_every_finished_match_equals_its_referee_replay(runner: CoreRolloutRunner) -> None:
    results, errors, sampled = [], 0, []
    for _ in range(3):
        out = runner.run(80)
        results += out.results
        errors += out.errors
        sampled += out.sampled_records
    assert len(results) >= 40 and len(sampled) == len(results)
    assert errors == 0  # rewards and grader of each core match equal the referee's record of the same actions
    assert {r.task_id for r in results} == set(TASK_IDS)


def test_batches_hold_complete_trajectories(runner: CoreRolloutRunner) -> None:
    out = runner.run(120)
    assert out.results
    for role, batch in out.batches.items():
        assert len(batch) and batch.dones[-1]
        assert np.isfinite(batch.rewards).all()
        # one closed trajectory per finished match in which this role's live seat decided
        assert batch.dones.sum() <= len(out.results)
        if role == "investigator":
            assert batch.ads is not None and batch.n_ads is not None and batch.ad_rows is not None
            assert batch.ad_rows.shape[0] == batch.n_ads.sum() and batch.ad_rows.max() == len(batch.ads) - 1
            assert len(batch.ads) < batch.n_ads.sum()  # rows of unchanged ads are shared between decisions
            assert batch.masks.shape[0] == (1 + 10 * batch.n_ads).sum()
            tensors = batch.tensors(np.arange(len(batch)))
            assert tensors["action_mask"].gather(1, torch.from_numpy(batch.actions)[:, None]).all()
        else:
            assert batch.masks[np.arange(len(batch)), batch.actions].all()
    # the per-trajectory rewards add up to the matches' final rewards
    inv = out.batches["investigator"]
    ends = np.flatnonzero(inv.dones)
    starts = np.r_[0, ends[:-1] + 1]
    sums = sorted(round(float(inv.rewards[s:e + 1].sum()), 4) for s, e in zip(starts, ends, strict=True))
    finals = sorted(round(r.rewards["investigator"], 4) for r in out.results)
    assert set(sums) <= set(finals) | {round(x + 1e-4, 4) for x in finals} | {round(x - 1e-4, 4) for x in finals}


def test_the_learner_sees_what_the_policy_saw(runner: CoreRolloutRunner) -> None:
    """Log-probabilities recomputed by the module from the packed batches (shared ad rows, flat masks) equal
    the ones sampled in the rollout: the observations reach the learner unchanged."""
    out = runner.run(120)
    for role, batch in out.batches.items():
        model = runner.models[(role, "live")]
        idx = np.arange(len(batch))
        t = batch.tensors(idx)
        with torch.no_grad():
            if role == "investigator":
                logits, values = model(t["ads"], t["ad_mask"], t["glob"], t["action_mask"])
            else:
                logits, values = model(t["glob"], t["action_mask"])
        logp = torch.log_softmax(logits, -1).gather(1, torch.from_numpy(batch.actions)[:, None]).squeeze(1)
        assert torch.allclose(logp, torch.from_numpy(batch.logp), atol=1e-4), role
        assert torch.allclose(values, torch.from_numpy(batch.values), atol=1e-4), role


def test_bc_mode_runs_on_the_fallback_runner(runner: CoreRolloutRunner) -> None:
    runner.set_mode("bc")
    out = runner.run(30)
    assert out.env_steps > 0
    runner.set_mode("ppo")


def test_house_bot_and_snapshot_seats_replay_exactly() -> None:
    """Seats drawn from live / snapshot / scripted (the core bots); every match still equals its replay."""
    r = CoreRolloutRunner(16, ("task_2", "task_3"), 11, ("investigator", "fraudster"),
                          {"live": 0.4, "snapshot": 0.2, "scripted": 0.4}, hidden=16, archive_rate=1.0)
    w = _weights(1)
    r.set_weights({**w, "snap:1": _weights(2)["live"]})
    r.set_mode("ppo")
    results, errors = [], 0
    for _ in range(3):
        out = r.run(100)
        results += out.results
        errors += out.errors
    seats = {name for res in results for name in res.seats.values()}
    assert {"live", "snap:1", "bot:scripted"} <= seats
    assert errors == 0


def test_rollout_forward_equals_the_module() -> None:
    from fraudarena.agents.rl.inference import investigator_logits
    from fraudarena.agents.rl.models import InvestigatorNet

    torch.manual_seed(3)
    net = InvestigatorNet(24).eval()
    b, n = 9, 7
    ads = torch.randn(b, n, net.ad_in[0].in_features)
    ad_mask = torch.arange(n)[None, :] < torch.tensor([7, 1, 3, 5, 7, 0, 6, 4, 7])[:, None]
    glob = torch.randn(b, net.glob_in[0].in_features)
    action_mask = (torch.rand(b, 1 + 10 * n) < 0.6) & torch.cat(  # padding's actions are never legal
        [torch.ones(b, 1, dtype=torch.bool), ad_mask.repeat_interleave(10, dim=1)], dim=1)
    action_mask[:, 0] = True
    with torch.no_grad():
        want = net(ads, ad_mask, glob, action_mask)
    got = investigator_logits(net, ads, ad_mask, glob, action_mask)
    for w, g in zip(want, got, strict=True):
        assert torch.allclose(w, g, atol=1e-4)
    other = InvestigatorNet(24)  # new weights loaded into the same module: the folded copies follow
    net.load_state_dict(other.state_dict())
    with torch.no_grad():
        want = other.eval()(ads, ad_mask, glob, action_mask)
    for w, g in zip(want, investigator_logits(net, ads, ad_mask, glob, action_mask), strict=True):
        assert torch.allclose(w, g, atol=1e-4)
    import gc

    from fraudarena.agents.rl import inference

    assert net in inference._CACHE
    del net, other
    gc.collect()
    assert not any(isinstance(k, InvestigatorNet) and k.hidden == 24 for k in inference._CACHE)  # freed with it


def test_sampling_follows_the_softmax_never_draws_masked_actions_and_returns_log_softmax() -> None:
    from fraudarena.agents.rl.inference import sample_actions
    from fraudarena.agents.rl.models import NEG

    row = torch.tensor([0.0, 1.0, NEG, 2.0, NEG])
    logits = row.repeat(40_000, 1)
    acts, logps = sample_actions(logits, torch.Generator().manual_seed(5))
    freq = torch.bincount(acts, minlength=5).double() / len(acts)
    want = torch.softmax(row.double(), 0)
    assert freq[2] == 0 and freq[4] == 0
    assert torch.allclose(freq, want, atol=0.01)  # ~5 standard errors at n = 40,000
    assert torch.allclose(logps, torch.log_softmax(logits, -1).gather(1, acts[:, None]).squeeze(1), atol=1e-6)


def test_attention_heads_travel_with_the_weights_and_old_weights_load_as_four_heads() -> None:
    from fraudarena.agents.rl.inference import investigator_logits
    from fraudarena.agents.rl.models import InvestigatorNet

    torch.manual_seed(4)
    two = InvestigatorNet(16, heads=2).eval()
    ads = torch.randn(4, 6, two.ad_in[0].in_features)
    ad_mask = torch.arange(6)[None, :] < torch.tensor([6, 2, 4, 1])[:, None]
    glob = torch.randn(4, two.glob_in[0].in_features)
    action_mask = torch.cat([torch.ones(4, 1, dtype=torch.bool), ad_mask.repeat_interleave(10, dim=1)], dim=1)
    shipped = InvestigatorNet(16).eval()  # built with the default, as a rollout worker or a checkpoint load does
    shipped.load_state_dict(two.state_dict())
    assert shipped.attn.num_heads == 2
    with torch.no_grad():
        want = two(ads, ad_mask, glob, action_mask)
        got = shipped(ads, ad_mask, glob, action_mask)
    fast = investigator_logits(shipped, ads, ad_mask, glob, action_mask)
    for w, g, f in zip(want, got, fast, strict=True):
        assert torch.equal(w, g) and torch.allclose(w, f, atol=1e-4)
    legacy = {k: v for k, v in two.state_dict().items() if k != "attn_heads"}
    shipped.load_state_dict(legacy)
    assert shipped.attn.num_heads == 4
