"""PPO with GAE and behaviour cloning for the per-role policies (CleanRL-style pure functions + a learner).

``compute_gae`` and ``ppo_loss`` are pure functions with the usual names; :class:`PPOLearner` owns one
model and optimizer per learned role and updates each from a :class:`~fraudarena.agents.rl.batch.RoleBatch`
of that role's own decisions (turn-based credit: a role's trajectory holds only its decisions, the
episode reward sits on its last decision, or is redistributed over them by ``shaped_credit``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.distributions import Categorical

from fraudarena.agents.rl.batch import RoleBatch
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.models import build_model


def compute_gae(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, gamma: float, lam: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over concatenated complete trajectories.

    ``dones[t]`` marks the last decision of a trajectory: its next value is 0 (terminal) and nothing
    flows back across the boundary. Returns ``(advantages, returns)`` with returns = advantages + values.
    """
    t_len = len(rewards)
    adv = np.zeros(t_len, dtype=np.float32)
    last = 0.0
    for t in range(t_len - 1, -1, -1):
        nonterminal = 0.0 if dones[t] else 1.0
        next_value = values[t + 1] if (t + 1 < t_len and not dones[t]) else 0.0
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + values.astype(np.float32)


def ppo_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, new_value: torch.Tensor,
             returns: torch.Tensor, entropy: torch.Tensor, clip_coef: float, vf_coef: float,
             ent_coef: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped-surrogate PPO loss; returns (loss, stats)."""
    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    pg1 = -adv * ratio
    pg2 = -adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)
    pg_loss = torch.max(pg1, pg2).mean()
    v_loss = 0.5 * ((new_value - returns) ** 2).mean()
    ent = entropy.mean()
    loss = pg_loss + vf_coef * v_loss - ent_coef * ent
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean().item()
        clipfrac = ((ratio - 1).abs() > clip_coef).float().mean().item()
    return loss, {"pg_loss": pg_loss.item(), "v_loss": v_loss.item(), "entropy": ent.item(),
                  "approx_kl": approx_kl, "clipfrac": clipfrac}


def forward(model: torch.nn.Module, role: str, inputs: dict[str, torch.Tensor]
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Call the role's model on a tensor dict from ``RoleBatch.tensors`` / ``pad_investigator``."""
    if role == "investigator":
        return model(inputs["ads"], inputs["ad_mask"], inputs["glob"], inputs["action_mask"])
    return model(inputs["glob"], inputs["action_mask"])


def _entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits, dim=-1)
    p = logp.exp()
    return -(torch.where(mask, p * logp, torch.zeros_like(p))).sum(-1)


class PPOLearner:
    """One model + Adam optimizer per learned role; PPO and behaviour-cloning updates."""

    def __init__(self, config: TrainConfig, roles: tuple[str, ...] | None = None) -> None:
        self.config = config
        self.roles = tuple(roles or config.learn_roles)
        torch.manual_seed(config.seed)
        self.models = {r: build_model(r, config.hidden, config.attention_heads) for r in self.roles}
        self.optims = {r: torch.optim.Adam(m.parameters(), lr=config.lr, eps=1e-5)
                       for r, m in self.models.items()}
        self.updates = 0
        self.lr_scale = 1.0  # PPO's learning rate is ``config.lr * lr_scale`` (``anneal_lr`` lowers it)

    # ---------------------------------------------------------------------------------------------
    def get_weights(self) -> dict[str, dict[str, torch.Tensor]]:
        return {r: {k: v.detach().clone() for k, v in m.state_dict().items()} for r, m in self.models.items()}

    def set_weights(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        for r, sd in weights.items():
            if r in self.models:
                self.models[r].load_state_dict(sd)

    def restart(self, role: str, weights: dict[str, torch.Tensor]) -> None:
        """Start ``role``'s model over from ``weights`` with a fresh optimizer (a main exploiter's restart)."""
        self.models[role].load_state_dict(weights)
        self.optims[role] = torch.optim.Adam(self.models[role].parameters(), lr=self.config.lr, eps=1e-5)

    def state_dict(self) -> dict:
        return {"models": self.get_weights(),
                "optims": {r: o.state_dict() for r, o in self.optims.items()},
                "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.set_weights(state["models"])
        for r, sd in state.get("optims", {}).items():
            if r in self.optims:
                self.optims[r].load_state_dict(sd)
        self.updates = int(state.get("updates", 0))

    def _set_lr(self, role: str, lr: float) -> None:
        for g in self.optims[role].param_groups:
            g["lr"] = lr

    # ---------------------------------------------------------------------------------------------
    def update(self, batch: RoleBatch) -> dict[str, float]:
        """PPO update of ``batch.role`` from complete trajectories."""
        cfg = self.config
        role = batch.role
        model, opt = self.models[role], self.optims[role]
        self._set_lr(role, cfg.lr * self.lr_scale)
        adv, ret = compute_gae(batch.rewards, batch.values, batch.dones, cfg.gamma, cfg.gae_lambda)
        n = len(batch)
        rng = np.random.default_rng(cfg.seed + self.updates)
        stats: dict[str, list[float]] = {}
        t0 = time.perf_counter()
        stop = False
        for _ in range(cfg.update_epochs):
            order = rng.permutation(n)
            for start in range(0, n, cfg.minibatch_size):
                idx = order[start: start + cfg.minibatch_size]
                inputs = batch.tensors(idx)
                logits, value = forward(model, role, inputs)
                act = torch.from_numpy(batch.actions[idx])
                dist = Categorical(logits=logits)
                new_logp = dist.log_prob(act)
                ent = _entropy(logits, inputs["action_mask"])
                a = torch.from_numpy(adv[idx])
                a = (a - a.mean()) / (a.std() + 1e-8) if len(idx) > 1 else a
                loss, st = ppo_loss(new_logp, torch.from_numpy(batch.logp[idx]), a, value,
                                    torch.from_numpy(ret[idx]), ent, cfg.clip_coef, cfg.vf_coef, cfg.ent_coef)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
                for k, v in st.items():
                    stats.setdefault(k, []).append(v)
                if cfg.target_kl is not None and st["approx_kl"] > cfg.target_kl:
                    stop = True
                    break
            if stop:
                break
        self.updates += 1
        var_y = float(np.var(ret))
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        out["explained_var"] = float("nan") if var_y == 0 else 1 - float(np.var(ret - batch.values)) / var_y
        out["decisions"] = float(n)
        out["update_s"] = time.perf_counter() - t0
        return out

    def bc_update(self, batch: RoleBatch) -> dict[str, float]:
        """Behaviour cloning: cross-entropy to the recorded (teacher) actions + value regression."""
        cfg = self.config
        role = batch.role
        model, opt = self.models[role], self.optims[role]
        self._set_lr(role, cfg.bc_lr)
        _, ret = compute_gae(batch.rewards, np.zeros_like(batch.values), batch.dones, 1.0, 1.0)
        n = len(batch)
        rng = np.random.default_rng(cfg.seed + 7919 + self.updates)
        losses, accs = [], []
        t0 = time.perf_counter()
        # The Fraudster's model is a small MLP with few decisions per match: more, smaller steps.
        mb = cfg.bc_minibatch_size if role == "investigator" else max(16, cfg.bc_minibatch_size // 4)
        for _ in range(cfg.bc_epochs):
            order = rng.permutation(n)
            for start in range(0, n, mb):
                idx = order[start: start + mb]
                inputs = batch.tensors(idx)
                logits, value = forward(model, role, inputs)
                act = torch.from_numpy(batch.actions[idx])
                ce = torch.nn.functional.cross_entropy(logits, act)
                v_loss = 0.5 * ((value - torch.from_numpy(ret[idx])) ** 2).mean()
                loss = ce + cfg.vf_coef * v_loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                opt.step()
                losses.append(ce.item())
                accs.append((logits.argmax(-1) == act).float().mean().item())
        self.updates += 1
        return {"bc_loss": float(np.mean(losses)), "bc_acc": float(np.mean(accs)), "decisions": float(n),
                "update_s": time.perf_counter() - t0}
