"""PPO/GAE math, models and the batch format, without the engine (pure tensors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fraudarena.agents.rl.batch import RoleBatch, StepRecord, pad_investigator
from fraudarena.agents.rl.codecs import N_FRAUD_ACTIONS, PER_AD
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.encoders import AD_FEATURES, FRAUD_GLOBAL_FEATURES, INV_GLOBAL_FEATURES
from fraudarena.agents.rl.models import FraudsterNet, InvestigatorNet
from fraudarena.agents.rl.ppo import PPOLearner, compute_gae, forward, ppo_loss

torch.set_num_threads(1)  # a 2-core box shared with other suites: no intra-op threads


def _gae_reference(r, v, d, gamma, lam):
    n = len(r)
    adv = np.zeros(n)
    for t in range(n):
        a, discount = 0.0, 1.0
        for k in range(t, n):
            nv = 0.0 if d[k] else v[k + 1]
            delta = r[k] + gamma * nv - v[k]
            a += discount * delta
            if d[k]:
                break
            discount *= gamma * lam
        adv[t] = a
    return adv


@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.99, 0.95), (1.0, 0.0)])
def test_gae_matches_reference(gamma, lam):
    rng = np.random.default_rng(0)
    r = rng.normal(size=40).astype(np.float32)
    v = rng.normal(size=40).astype(np.float32)
    d = np.zeros(40, dtype=bool)
    d[[9, 10, 25, 39]] = True
    adv, ret = compute_gae(r, v, d, gamma, lam)
    np.testing.assert_allclose(adv, _gae_reference(r, v, d, gamma, lam), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6)


def test_gae_monte_carlo_returns_and_no_leak_across_matches():
    r = np.array([0, 0, 1.0, 0, -1.0], dtype=np.float32)
    v = np.zeros(5, dtype=np.float32)
    d = np.array([0, 0, 1, 0, 1], dtype=bool)
    _, ret = compute_gae(r, v, d, 1.0, 1.0)
    np.testing.assert_allclose(ret, [1, 1, 1, -1, -1])


def test_ppo_loss_clips_and_reduces_to_pg_at_ratio_one():
    logp = torch.zeros(4)
    adv = torch.tensor([1.0, -1.0, 2.0, 0.5])
    value = torch.zeros(4)
    ret = torch.zeros(4)
    ent = torch.zeros(4)
    loss, st = ppo_loss(logp, logp, adv, value, ret, ent, 0.2, 0.5, 0.0)
    assert loss.item() == pytest.approx(-adv.mean().item())
    assert st["approx_kl"] == pytest.approx(0.0)
    # A big ratio on a positive advantage is clipped at 1.2.
    loss2, st2 = ppo_loss(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0]), torch.zeros(1),
                          torch.zeros(1), torch.zeros(1), 0.2, 0.5, 0.0)
    assert loss2.item() == pytest.approx(-1.2)
    assert st2["clipfrac"] == 1.0


def test_investigator_net_is_padding_invariant_and_masks():
    torch.manual_seed(0)
    net = InvestigatorNet(hidden=32).eval()
    ads = torch.randn(1, 5, AD_FEATURES)
    glob = torch.randn(1, INV_GLOBAL_FEATURES)
    mask = torch.ones(1, 1 + PER_AD * 5, dtype=torch.bool)
    mask[0, 3] = False
    l1, v1 = net(ads, torch.ones(1, 5, dtype=torch.bool), glob, mask)
    padded = torch.cat([ads, torch.randn(1, 4, AD_FEATURES)], dim=1)
    ad_mask = torch.tensor([[True] * 5 + [False] * 4])
    pmask = torch.zeros(1, 1 + PER_AD * 9, dtype=torch.bool)
    pmask[0, : 1 + PER_AD * 5] = mask[0]
    l2, v2 = net(padded, ad_mask, glob, pmask)
    torch.testing.assert_close(l1, l2[:, : 1 + PER_AD * 5], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(v1, v2, atol=1e-4, rtol=1e-4)
    assert l1[0, 3] < -1e8
    assert (l2[0, 1 + PER_AD * 5:] < -1e8).all()
    # An empty queue still gives a finite end_turn logit and value.
    l3, v3 = net(torch.zeros(1, 0, AD_FEATURES), torch.zeros(1, 0, dtype=torch.bool), glob,
                 torch.ones(1, 1, dtype=torch.bool))
    assert torch.isfinite(l3).all() and torch.isfinite(v3).all()


def _fraud_batch(n_traj: int, good: int, rng: np.random.Generator) -> RoleBatch:
    steps = []
    for _ in range(n_traj):
        glob = rng.normal(size=FRAUD_GLOBAL_FEATURES).astype(np.float32)
        mask = np.zeros(N_FRAUD_ACTIONS, dtype=bool)
        mask[[0, 1, good]] = True
        a = int(rng.choice([0, 1, good]))
        steps.append(StepRecord(glob=glob, mask=mask, action=a, logp=float(np.log(1 / 3)), value=0.0,
                                reward=1.0 if a == good else 0.0, done=True))
    return RoleBatch.from_steps("fraudster", steps)


def test_ppo_update_prefers_rewarded_action():
    cfg = TrainConfig(learn_roles=("fraudster",), minibatch_size=64, update_epochs=4, lr=3e-3, target_kl=None)
    learner = PPOLearner(cfg)
    rng = np.random.default_rng(1)
    good = 5
    probe = _fraud_batch(32, good, rng)
    inputs = probe.tensors(np.arange(len(probe)))

    def p_good() -> float:
        logits, _ = forward(learner.models["fraudster"], "fraudster", inputs)
        return torch.softmax(logits, -1)[:, good].mean().item()

    before = p_good()
    for _ in range(5):
        batch = _fraud_batch(256, good, rng)
        stats = learner.update(batch)
        assert all(np.isfinite(v) for k, v in stats.items() if k != "explained_var")
    assert p_good() > before + 0.2


def test_bc_update_learns_teacher_action():
    cfg = TrainConfig(learn_roles=("fraudster",), minibatch_size=64, bc_epochs=10, bc_lr=3e-3)
    learner = PPOLearner(cfg)
    rng = np.random.default_rng(2)
    batch = _fraud_batch(128, 7, rng)
    batch.actions[:] = 7
    stats = learner.bc_update(batch)
    assert stats["bc_acc"] > 0.5


def test_investigator_batch_round_trip():
    rng = np.random.default_rng(3)
    steps = []
    for n in (3, 0, 6):
        mask = np.zeros(1 + PER_AD * n, dtype=bool)
        mask[0] = True
        steps.append(StepRecord(glob=rng.normal(size=INV_GLOBAL_FEATURES).astype(np.float32), mask=mask,
                                action=0, logp=0.0, value=0.0,
                                ads=rng.normal(size=(n, AD_FEATURES)).astype(np.float32)))
    steps[-1].done = True
    b = RoleBatch.concat([RoleBatch.from_steps("investigator", steps[:2]),
                          RoleBatch.from_steps("investigator", steps[2:])])
    t = b.tensors(np.array([2, 0]))
    assert t["ads"].shape == (2, 6, AD_FEATURES)
    torch.testing.assert_close(t["ads"][1, :3], torch.from_numpy(steps[0].ads))
    assert t["ad_mask"].sum().item() == 9
    live = pad_investigator([s.ads for s in steps], [s.glob for s in steps], [s.mask for s in steps])
    net = InvestigatorNet(hidden=16)
    logits, value = forward(net, "investigator", live)
    assert logits.shape == (3, 1 + PER_AD * 6) and value.shape == (3,)
    assert torch.isfinite(value).all()


def test_fraudster_net_shapes():
    net = FraudsterNet(hidden=16)
    logits, value = net(torch.randn(4, FRAUD_GLOBAL_FEATURES), torch.ones(4, N_FRAUD_ACTIONS, dtype=torch.bool))
    assert logits.shape == (4, N_FRAUD_ACTIONS) and value.shape == (4,)
