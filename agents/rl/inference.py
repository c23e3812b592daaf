"""Rollout-time forward pass of ``InvestigatorNet``: the same function, fewer and cheaper kernels.

``InvestigatorNet.forward`` (used by the learner) runs ``nn.MultiheadAttention`` and ``tanh`` MLPs. On these
CPUs (AVX2, no AVX-512) a batched rollout step spent about a sixth of its forward pass in ``torch.tanh``
(3.5× the cost of ``torch.sigmoid`` per element) and more than a quarter in the CPU flash-attention kernel,
which is slow for 4 heads of width 12 over ~30 ads. :func:`investigator_logits` computes the same logits and
values with:

* every ``Linear → tanh → Linear`` block rewritten with the identity ``tanh(x) = 2·sigmoid(2x) − 1`` folded
  into the two layers' weights (``W1, b1 → 2W1, 2b1``; ``W2, b2 → 2W2, b2 − W2·1``), so each block is two
  matrix products and one in-place ``sigmoid_``. :class:`RolloutWeights` holds the folded copies and
  rebuilds them when the module's parameters change (their version counters move on ``load_state_dict``);
* attention as two batched matrix products and a softmax (one fused QKV projection, additive padding mask);
* the ad head's first layer split into its per-ad and per-match halves (the match half once per match).

Results equal the module's up to float rounding (``tests/agents/test_core_runner.py`` checks |Δ| < 1e-4);
only sampling uses them, the learner recomputes log-probabilities with the module itself.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import nn

from fraudarena.agents.rl.models import InvestigatorNet, mask_logits, masked_max_pool

Folded = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # 2W1, 2b1, 2W2, b2 − W2·1


def fold_tanh_block(first: nn.Linear, second: nn.Linear) -> Folded:
    """Weights of ``second(tanh(first(x)))`` rewritten for ``second'(sigmoid(first'(x)))`` (same function)."""
    w1, b1, w2, b2 = (t.detach() for t in (first.weight, first.bias, second.weight, second.bias))
    return 2 * w1, 2 * b1, 2 * w2, b2 - w2.sum(dim=1)


def folded_mlp(x: torch.Tensor, p: Folded) -> torch.Tensor:
    """``second(tanh(first(x)))`` from the folded weights: two matrix products and one in-place sigmoid."""
    return F.linear(F.linear(x, p[0], p[1]).sigmoid_(), p[2], p[3])


class RolloutWeights:
    """The folded copies of one ``InvestigatorNet``'s weights, rebuilt when its parameters change.

    It holds no reference to the module (the cache below is keyed weakly by it, so a dropped league snapshot's
    module and its folded copies are freed together)."""

    def __init__(self) -> None:
        self.key: tuple[int, ...] = ()

    @staticmethod
    def _version(net: InvestigatorNet) -> tuple[int, ...]:
        return tuple(t._version for t in (*net.parameters(), *net.buffers()))

    def refresh(self, net: InvestigatorNet) -> RolloutWeights:
        """Rebuild the folded weights if a parameter of ``net`` changed since the last build."""
        key = self._version(net)
        if key == self.key:
            return self
        hid = net.hidden
        self.glob_in = fold_tanh_block(net.glob_in[0], net.glob_in[2])
        self.ad_in = fold_tanh_block(net.ad_in[0], net.ad_in[2])
        self.end_head = fold_tanh_block(net.end_head[0], net.end_head[2])
        self.value_head = fold_tanh_block(net.value_head[0], net.value_head[2])
        w1, b1, w2, b2 = fold_tanh_block(net.ad_head[0], net.ad_head[2])
        self.ad_head_ad, self.ad_head_glob, self.ad_head_bias = w1[:, :hid], w1[:, hid:], b1
        self.ad_head_out = (w2, b2)
        attn = net.attn
        self.qkv = (attn.in_proj_weight.detach(), attn.in_proj_bias.detach())
        self.out_proj = (attn.out_proj.weight.detach(), attn.out_proj.bias.detach())
        self.key = key
        return self


_CACHE: weakref.WeakKeyDictionary[InvestigatorNet, RolloutWeights] = weakref.WeakKeyDictionary()


def rollout_weights(net: InvestigatorNet) -> RolloutWeights:
    """The folded weights of ``net``, current with its parameters."""
    w = _CACHE.get(net)
    if w is None:
        w = _CACHE[net] = RolloutWeights()
    return w.refresh(net)


@torch.inference_mode()
def investigator_logits(net: InvestigatorNet, ads: torch.Tensor, ad_mask: torch.Tensor, glob: torch.Tensor,
                        action_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [B, 1 + 10N], value [B]) of ``net`` for a batch (see ``InvestigatorNet.forward``)."""
    w = rollout_weights(net)
    b, n, _ = ads.shape
    hid = net.hidden
    g = folded_mlp(glob, w.glob_in)
    h = folded_mlp(ads, w.ad_in).add_(g.unsqueeze(1))
    if n > 0:
        heads = net.attn.num_heads
        d = hid // heads
        qkv = F.linear(h, *w.qkv).view(b, n, 3, heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(3, b * heads, n, d).unbind(0)
        pad = ~ad_mask & ad_mask.any(dim=1, keepdim=True)  # a match without ads attends to its padding (unused)
        bias = torch.zeros(b, 1, n, dtype=h.dtype).masked_fill_(pad[:, None, :], float("-inf"))
        scores = torch.baddbmm(bias.repeat_interleave(heads, dim=0), q, k.transpose(1, 2), alpha=d ** -0.5)
        a = torch.bmm(scores.softmax(dim=-1), v).view(b, heads, n, d).transpose(1, 2).reshape(b, n, hid)
        h = net.norm1(h + F.linear(a, *w.out_proj))
    m = ad_mask.unsqueeze(-1).to(h.dtype)
    count = m.sum(dim=1).clamp(min=1.0)
    mean = (h * m).sum(dim=1) / count
    mx = masked_max_pool(h, m) if n > 0 else torch.zeros_like(g)
    pooled = torch.cat([g, mean, mx], dim=-1)
    z = F.linear(h, w.ad_head_ad).add_(F.linear(g, w.ad_head_glob, w.ad_head_bias).unsqueeze(1))
    ad_logits = F.linear(z.sigmoid_(), *w.ad_head_out)
    logits = torch.cat([folded_mlp(pooled, w.end_head), ad_logits.reshape(b, n * 10)], dim=-1)
    logits = mask_logits(logits, action_mask)
    return logits, folded_mlp(pooled, w.value_head).squeeze(-1)


@torch.inference_mode()
def sample_actions(logits: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One action per row of ``logits`` drawn from its softmax, and its log-probability.

    Inverse-CDF sampling (one uniform per row, ``searchsorted`` in the running sum of the unnormalised
    probabilities) with one ``exp`` pass shared by the probabilities and the log-probability: on these CPUs
    ``torch.multinomial`` plus ``log_softmax`` cost about a fifth of the whole forward pass. Masked actions
    (``NEG`` logits) have probability 0 and are never drawn.
    """
    z = logits - logits.amax(dim=-1, keepdim=True)
    cdf = z.exp().cumsum_(dim=-1)
    total = cdf[:, -1:]
    u = (1.0 - torch.rand(total.shape, generator=generator, dtype=cdf.dtype)) * total  # in (0, total]
    acts = torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=logits.shape[-1] - 1)
    logps = z.gather(1, acts.unsqueeze(-1)).squeeze(-1) - total.squeeze(-1).log()
    return acts, logps
