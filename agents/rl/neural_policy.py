"""Learned policies behind the bots' ``act(observation) -> action`` interface, and checkpoints.

A checkpoint is a directory::

    <ckpt>/config.json        TrainConfig + {"iteration", "roles", "format"}
    <ckpt>/<role>.pt          torch state dict of each learned role's model
    <ckpt>/learner.pt         optimizer state (resume only)
    <ckpt>/league.json        snapshot list and ratings (resume only)
    <ckpt>/snapshots/<id>/<role>.pt

``load_policy(path, role)`` returns a :class:`NeuralPolicy`; :func:`register` hooks it into
``make_bot`` as ``"policy:<path>"`` (optionally ``"policy:<path>#sample"`` to sample instead of argmax).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fraudarena.agents.rl import codecs
from fraudarena.agents.rl.batch import pad_investigator
from fraudarena.agents.rl.encoders import encode_fraudster, encode_investigator
from fraudarena.agents.rl.models import build_model
from fraudarena.agents.rl.ppo import forward

CHECKPOINT_FORMAT = "fraudarena.policy/1"


class NeuralPolicy:
    """A trained model for one role, playing one observation at a time."""

    def __init__(self, role: str, model: torch.nn.Module, seed: int = 0, greedy: bool = True) -> None:
        if role not in ("investigator", "fraudster"):
            raise ValueError(f"no learned policy for role {role!r}")
        self.role = role
        self.model = model.eval()
        self.greedy = greedy
        self.rng = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.cache: dict = {}

    @torch.no_grad()
    def act(self, observation: dict[str, Any]) -> dict[str, Any]:
        legal = observation.get("legal_actions") or {}
        if not legal.get("action_types"):
            return {"action_type": "end_turn"}
        if self.role == "investigator":
            if len(self.cache) > 20000:
                self.cache.clear()
            enc = encode_investigator(observation, self.cache)
            mask = codecs.investigator_mask(observation, enc)
            inputs = pad_investigator([enc.ads], [enc.glob], [mask])
        else:
            enc = None
            mask = codecs.fraudster_mask(observation)
            inputs = {"glob": torch.from_numpy(encode_fraudster(observation)[None]),
                      "action_mask": torch.from_numpy(mask[None])}
        if not mask.any():
            return {"action_type": "end_turn"}
        logits, _ = forward(self.model, self.role, inputs)
        if self.greedy:
            a = int(logits[0].argmax())
        else:
            a = int(torch.multinomial(torch.softmax(logits[0], -1), 1, generator=self.gen))
        if self.role == "investigator":
            return codecs.investigator_decode(a, observation, enc)  # type: ignore[arg-type]
        return codecs.fraudster_decode(a, observation, self.rng)


def save_checkpoint(path: str | Path, weights: dict[str, dict[str, torch.Tensor]], config: dict,
                    iteration: int, extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory (atomically enough: files are written, then config.json last)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    for role, sd in weights.items():
        torch.save(sd, p / f"{role}.pt")
    for name, obj in (extra or {}).items():
        if name.endswith(".json"):
            (p / name).write_text(json.dumps(obj, indent=1, sort_keys=True))
        else:
            torch.save(obj, p / name)
    meta = {"format": CHECKPOINT_FORMAT, "iteration": iteration, "roles": sorted(weights), "config": config}
    (p / "config.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return p


def read_meta(path: str | Path) -> dict:
    """The checkpoint's ``config.json``."""
    meta = json.loads((Path(path) / "config.json").read_text())
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    return meta


def load_model(path: str | Path, role: str) -> torch.nn.Module:
    """The role's model from a checkpoint directory."""
    p = Path(path)
    meta = read_meta(p)
    if role not in meta["roles"]:
        raise ValueError(f"checkpoint {p} has no {role} policy (has {', '.join(meta['roles'])})")
    model = build_model(role, int(meta["config"].get("hidden", 64)))
    model.load_state_dict(torch.load(p / f"{role}.pt", weights_only=True))
    return model


def load_policy(path: str | Path, role: str, seed: int = 0, greedy: bool = True) -> NeuralPolicy:
    """A :class:`NeuralPolicy` for ``role`` from a checkpoint directory."""
    return NeuralPolicy(role, load_model(path, role), seed=seed, greedy=greedy)


def policy_bot_factory(kind: str, role: str, seed: int) -> NeuralPolicy:
    """``make_bot`` factory for ``"policy:<path>[#sample]"``."""
    spec = kind.split(":", 1)[1]
    path, _, flag = spec.partition("#")
    return load_policy(path, role, seed=seed, greedy=flag != "sample")


def register() -> None:
    """Register the ``"policy:"`` kind with ``fraudarena.agents.make_bot``."""
    from fraudarena.agents import register_bot_kind

    register_bot_kind("policy:", policy_bot_factory)


def weights_fingerprint(weights: dict[str, dict[str, torch.Tensor]]) -> float:
    """A cheap scalar summary of weights (tests use it to see that weights moved)."""
    return float(sum(np.abs(v.numpy()).sum() for sd in weights.values() for v in sd.values()))
