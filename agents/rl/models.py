"""Torch actor-critic models, one per learned role.

* :class:`InvestigatorNet`: a shared per-ad MLP, conditioned on the global vector, then one
  self-attention layer (residual + LayerNorm, no feed-forward block: cheap on CPU) over the
  (padded, masked) set of ads, so it handles any queue length. Each ad
  emits ``PER_AD`` logits; a masked mean/max pool gives the ``end_turn`` logit and the value.
* :class:`FraudsterNet`: an MLP on the global vector; proposal logits are factored as
  ``category_logit + camouflage_logit`` over the flat (category × camouflage-set) space.

Both return ``(logits, value)`` with illegal actions masked to a large negative number.
"""

from __future__ import annotations

import torch
from torch import nn

from fraudarena.agents.rl.codecs import N_CAMO, N_FRAUD_ACTIONS, PER_AD
from fraudarena.agents.rl.encoders import AD_FEATURES, FRAUD_GLOBAL_FEATURES, INV_GLOBAL_FEATURES, N_CAT

NEG = -1e9
LEGACY_HEADS = 4  # the Investigator's attention heads in checkpoints that do not store them
PAD_FLOOR = 1e4  # subtracted from padded ads' hidden values before the max pool (hidden values are LayerNormed)


def mask_logits(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """``logits`` where ``action_mask`` is True, exactly ``NEG`` elsewhere.

    One fused multiply-add with the mask as 0/1 floats: on these CPUs ``torch.where`` and ``masked_fill`` with
    a bool mask cost 2.5-3x as much (measured on [256, 251]); the gradient is the same (1 where legal, else 0).
    """
    keep = action_mask.to(logits.dtype)
    return torch.addcmul((keep - 1.0) * -NEG, logits, keep)


def masked_max_pool(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Max over dim 1 of ``h`` [B,N,H] across the real ads (``keep`` [B,N,1], 1.0 = real; 0 for a row without any).

    ``amax`` of ``h`` pushed down by ``PAD_FLOOR`` where padded: ``max(dim).values`` also computes the indices
    and with ``torch.where`` cost 10x as much here (measured on [256, 25, 32]).
    """
    mx = (h + (keep - 1.0) * PAD_FLOOR).amax(dim=1)
    return mx * keep.amax(dim=1)


def _mlp(sizes: list[int], out_gain: float | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        nn.init.orthogonal_(lin.weight, gain=(out_gain if (last and out_gain is not None) else 2 ** 0.5))
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class InvestigatorNet(nn.Module):
    """Set-structured actor-critic for the Investigator."""

    def __init__(self, hidden: int = 48, heads: int = LEGACY_HEADS) -> None:
        super().__init__()
        self.hidden = hidden
        self.ad_in = _mlp([AD_FEATURES, hidden, hidden])
        self.glob_in = _mlp([INV_GLOBAL_FEATURES, hidden, hidden])
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        # The head count travels in the state dict (the weights' shapes do not depend on it), so every
        # ``load_state_dict`` -- checkpoints, weights shipped to rollout workers -- restores the same function.
        self.register_buffer("attn_heads", torch.tensor(heads))
        self.norm1 = nn.LayerNorm(hidden)
        self.ad_head = _mlp([2 * hidden, hidden, PER_AD], out_gain=0.01)
        self.end_head = _mlp([3 * hidden, hidden, 1], out_gain=0.01)
        self.value_head = _mlp([3 * hidden, hidden, 1], out_gain=1.0)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: object, **kwargs: object) -> None:
        key = prefix + "attn_heads"
        if key not in state_dict:  # a checkpoint from before the head count was stored
            state_dict[key] = torch.tensor(LEGACY_HEADS)
        heads = int(state_dict[key])
        if self.hidden % heads:
            raise ValueError(f"{heads} attention heads do not divide hidden width {self.hidden}")
        self.attn.num_heads, self.attn.head_dim = heads, self.hidden // heads
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, ads: torch.Tensor, ad_mask: torch.Tensor, glob: torch.Tensor,
                action_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """ads [B,N,F], ad_mask [B,N] (True = real ad), glob [B,G], action_mask [B,1+N*PER_AD]."""
        b, n, _ = ads.shape
        g = self.glob_in(glob)  # [B,H]
        h = self.ad_in(ads) + g.unsqueeze(1)
        if n > 0:
            # An all-padding row would make attention NaN; let such rows attend to themselves.
            pad = ~ad_mask
            pad = pad & ad_mask.any(dim=1, keepdim=True)
            a, _ = self.attn(h, h, h, key_padding_mask=pad, need_weights=False)
            h = self.norm1(h + a)
        m = ad_mask.unsqueeze(-1).to(h.dtype)
        count = m.sum(dim=1).clamp(min=1.0)
        mean = (h * m).sum(dim=1) / count
        mx = masked_max_pool(h, m) if n > 0 else torch.zeros_like(g)
        pooled = torch.cat([g, mean, mx], dim=-1)
        ad_logits = self.ad_head(torch.cat([h, g.unsqueeze(1).expand(b, n, self.hidden)], dim=-1))
        logits = torch.cat([self.end_head(pooled), ad_logits.reshape(b, n * PER_AD)], dim=-1)
        if action_mask is not None:
            logits = mask_logits(logits, action_mask)
        return logits, self.value_head(pooled).squeeze(-1)


class FraudsterNet(nn.Module):
    """MLP actor-critic for the Fraudster with factored proposal logits."""

    def __init__(self, hidden: int = 48) -> None:
        super().__init__()
        self.body = _mlp([FRAUD_GLOBAL_FEATURES, hidden, hidden])
        self.act = nn.Tanh()
        self.control = nn.Linear(hidden, 2)
        self.cat = nn.Linear(hidden, N_CAT)
        self.camo = nn.Linear(hidden, N_CAMO)
        for lin in (self.control, self.cat, self.camo):
            nn.init.orthogonal_(lin.weight, gain=0.01)
            nn.init.zeros_(lin.bias)
        self.value_head = _mlp([FRAUD_GLOBAL_FEATURES, hidden, hidden, 1], out_gain=1.0)

    def forward(self, glob: torch.Tensor, action_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.body(glob))
        prop = (self.cat(h).unsqueeze(-1) + self.camo(h).unsqueeze(-2)).flatten(1)
        logits = torch.cat([self.control(h), prop], dim=-1)
        assert logits.shape[-1] == N_FRAUD_ACTIONS
        if action_mask is not None:
            logits = mask_logits(logits, action_mask)
        return logits, self.value_head(glob).squeeze(-1)


def build_model(role: str, hidden: int = 48, heads: int = LEGACY_HEADS) -> nn.Module:
    """A fresh model for ``role`` ("investigator" or "fraudster"); ``heads``: the Investigator's attention heads
    (a later ``load_state_dict`` sets them from the weights)."""
    if role == "investigator":
        return InvestigatorNet(hidden, heads)
    if role == "fraudster":
        return FraudsterNet(hidden)
    raise ValueError(f"no learned model for role {role!r}")
