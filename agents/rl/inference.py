"""Rollout-time forward pass of ``InvestigatorNet``: the same parameters and math, fewer and cheaper kernels.

``InvestigatorNet.forward`` (used by the learner) runs ``nn.MultiheadAttention``, whose masked-softmax kernel
and per-ad concatenations dominate a batched rollout step on CPU. :func:`investigator_logits` computes the
same logits and values with one fused QKV projection, ``scaled_dot_product_attention`` with an additive
padding mask, and the ad head's first layer split into its per-ad and per-match halves (the match half is
computed once per match instead of once per ad). Results equal the module's up to float rounding
(``tests/agents/test_core_runner.py`` checks |Δ| < 1e-4); only sampling uses them, the learner recomputes
log-probabilities with the module itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fraudarena.agents.rl.models import NEG, InvestigatorNet


@torch.inference_mode()
def investigator_logits(net: InvestigatorNet, ads: torch.Tensor, ad_mask: torch.Tensor, glob: torch.Tensor,
                        action_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [B, 1 + 10N], value [B]) of ``net`` for a batch (see ``InvestigatorNet.forward``)."""
    b, n, _ = ads.shape
    hid = net.hidden
    g = net.glob_in(glob)
    h = net.ad_in(ads) + g.unsqueeze(1)
    if n > 0:
        attn = net.attn
        heads = attn.num_heads
        qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).view(b, n, 3, heads, hid // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [B, heads, N, d]
        pad = ~ad_mask & ad_mask.any(dim=1, keepdim=True)
        bias = torch.zeros(b, 1, 1, n, dtype=h.dtype).masked_fill_(pad[:, None, None, :], float("-inf"))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        a = attn.out_proj(a.transpose(1, 2).reshape(b, n, hid))
        h = net.norm1(h + a)
    m = ad_mask.unsqueeze(-1).to(h.dtype)
    count = m.sum(dim=1).clamp(min=1.0)
    mean = (h * m).sum(dim=1) / count
    if n > 0:
        mx = h.masked_fill(~ad_mask.unsqueeze(-1), -1e4).max(dim=1).values
        mx = torch.where(ad_mask.any(dim=1, keepdim=True), mx, torch.zeros_like(mx))
    else:
        mx = torch.zeros_like(g)
    pooled = torch.cat([g, mean, mx], dim=-1)
    first, act, last = net.ad_head[0], net.ad_head[1], net.ad_head[2]
    w_ad, w_g = first.weight[:, :hid], first.weight[:, hid:]
    z = F.linear(h, w_ad) + (F.linear(g, w_g, first.bias)).unsqueeze(1)
    ad_logits = last(act(z))
    logits = torch.cat([net.end_head(pooled), ad_logits.reshape(b, n * 10)], dim=-1)
    logits = logits.masked_fill(~action_mask, NEG)
    return logits, net.value_head(pooled).squeeze(-1)
