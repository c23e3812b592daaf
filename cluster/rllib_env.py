"""FraudArena for RLlib's new API stack: a ``MultiAgentEnv``, an action-masking RLModule and an ``rllib:`` bot kind.

Needs the ``rllib`` extra (``pip install -e ".[rllib]"``: ``ray[rllib]``, torch). It lives in ``cluster/``
because it imports Ray (only cluster/ and serve/ do); it builds on the Ray-free ``fraudarena.envs``.

* :class:`FraudArenaMultiAgentEnv` — the roles named in ``config["learners"]`` (default: the Investigator)
  are RLlib agents; every other seat is a bot of any ``make_bot`` kind (``config["opponents"]``, default
  ``"scripted"``: the docs/rules.md §12 house bots). Agent ids are the role names. Turn-based: each step
  returns the observation of the one agent whose turn it is; at the match end every learner gets its final
  observation, its docs/rules.md §10.3 reward (0 before) and ``terminated``. An illegal action plays the
  role's ``end_turn`` and is counted in ``info["illegal_actions"]``, as in the Gymnasium env.
* Observations use the same encoders, masks and flat action codecs as :mod:`fraudarena.envs.encoding`,
  flattened to one vector per role: ``{"observations": Box, "action_mask": Box int8}`` (the Investigator's
  vector is its padded ad rows, then ``ads_present``, then the global features; :func:`split_investigator`
  undoes it).
* :class:`MaskedActorCritic` — a torch RLModule with ``ValueFunctionAPI`` that pushes masked logits to
  :data:`MASKED_LOGIT`, so PPO samples, scores and takes entropies over legal actions only. For the
  Investigator it scores every ad slot with one shared per-ad network (ad features + the global vector
  + a pooled summary of the queue), like ``agents/rl/models.py``'s ``InvestigatorNet`` without attention;
  other roles get a plain MLP.
* :func:`ppo_config` — a ``PPOConfig`` with one RLModule per learned role and the policy mapping
  ``agent id (role) -> module id (role)``; ``examples/rllib_ppo.py`` shows it end to end.
* ``rllib:<RLModule dir>`` — a bot kind (registered by :func:`register`) that plays a saved RLModule
  greedily in ``play_match``, ``fraudarena eval``'s matchups, tournaments, and the other envs.

See docs/training.md (*RLlib*).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from torch import nn

from fraudarena.agents import Policy, make_bot, register_bot_kind
from fraudarena.agents.rl.encoders import AD_FEATURES, FRAUD_GLOBAL_FEATURES, INV_GLOBAL_FEATURES
from fraudarena.agents.rl.runner import shaped_rewards
from fraudarena.arena import RefereeEnvironment, validate_config
from fraudarena.arena.rng import SEED_LIMIT, bot_seed
from fraudarena.arena.spec import Role
from fraudarena.envs.encoding import (
    AUDITOR_FEATURES,
    FALLBACK_ACTIONS,
    MAX_ADS,
    MatchCodec,
    MatchHost,
    RoleView,
    action_space,
    fresh_copy,
    max_queue,
    n_actions,
    play_bots,
)

MASKED_LOGIT = -1e9
"""The logit an illegal action gets (its probability underflows to exactly 0)."""

LEARNABLE_ROLES: tuple[str, ...] = (Role.INVESTIGATOR.value, Role.FRAUDSTER.value, Role.AUDITOR.value)
"""Roles that may be RLlib agents (the Auditor with the two actions of docs/training.md)."""


def obs_size(role: str, max_ads: int = MAX_ADS) -> int:
    """Length of ``role``'s flattened observation vector."""
    if role == Role.INVESTIGATOR:
        return max_ads * AD_FEATURES + max_ads + INV_GLOBAL_FEATURES
    if role == Role.FRAUDSTER:
        return FRAUD_GLOBAL_FEATURES
    if role == Role.AUDITOR:
        return AUDITOR_FEATURES
    raise ValueError(f"unknown role {role!r}")


def flat_observation_space(role: str, max_ads: int = MAX_ADS) -> spaces.Dict:
    """``role``'s RLlib observation space: ``{"observations": Box, "action_mask": Box int8}``."""
    from fraudarena.envs.encoding import OBS_BOUND

    return spaces.Dict({
        "observations": spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(obs_size(role, max_ads),), dtype=np.float32),
        "action_mask": spaces.Box(0, 1, shape=(n_actions(role, max_ads),), dtype=np.int8),
    })


def flatten_view(view: RoleView) -> dict[str, np.ndarray]:
    """The RLlib observation of an encoded role view (fresh arrays)."""
    inner = view.observation["observation"]
    if isinstance(inner, dict):
        vec = np.concatenate([inner["ads"].ravel(), inner["ads_present"].astype(np.float32), inner["global"]])
    else:
        vec = inner.copy()
    return {"observations": vec.astype(np.float32, copy=False), "action_mask": view.mask.copy()}


def split_investigator(obs: torch.Tensor, max_ads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Undo :func:`flatten_view` for a batch of Investigator vectors: (ads [B, N, F], present [B, N], global)."""
    n_ad = max_ads * AD_FEATURES
    ads = obs[..., :n_ad].reshape(*obs.shape[:-1], max_ads, AD_FEATURES)
    present = obs[..., n_ad:n_ad + max_ads]
    return ads, present, obs[..., n_ad + max_ads:]


@dataclass
class _Decision:
    """One learner decision as ``agents/rl/runner.shaped_rewards`` reads it (kind, key; reward is written)."""

    kind: str
    key: Any
    reward: float = 0.0

    @classmethod
    def of(cls, role: str, action: Mapping[str, Any], raw: Mapping[str, Any]) -> _Decision:
        """Classify an accepted wire action the way the python rollout runner does."""
        kind_name = str(action.get("action_type"))
        if role == Role.INVESTIGATOR:
            kind = {"investigate": "investigate", "verdict": "verdict", "link_accounts": "link"}.get(kind_name, "end")
            key: Any = action.get("ad_id")
            if kind == "link":
                key = (action.get("ad_id"), action.get("linked_ad_id"))
            return cls(kind, key)
        if role == Role.FRAUDSTER:
            return cls("propose" if kind_name == "propose_ad" else "control", int(raw.get("proposals_used") or 0))
        return cls("audit", None)


class ShapedCredit(ConnectorV2):
    """Learner connector: rewrites each finished match's learner rewards with our trainer's shaped credit.

    RLlib takes a reward at every step, but the credit of a decision (docs/training.md, *Credit assignment*:
    a verdict's matrix value, a pull's cost, a link's credit, the residual on the last decision) is known only
    from the final record. With ``credit="shaped"`` the environment puts the per-decision list in the final
    info (``info["credit"]``); this piece, placed before GAE, writes it over the episode's rewards. The sum of a
    match's rewards is unchanged (the §10.3 reward). Needs ``batch_mode="complete_episodes"`` so no match is
    split across train batches (:func:`ppo_config` sets it).
    """

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: list[Any], explore: Any = None,
                 shared_data: Any = None, **kwargs: Any) -> Any:
        """Rewrite the rewards of every single-agent episode that carries a ``credit`` list."""
        for sa_episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            credit = next((i["credit"] for i in reversed(list(sa_episode.get_infos())) if "credit" in i), None)
            if credit is None:
                continue
            n = min(len(credit), len(sa_episode.get_rewards()))
            with warnings.catch_warnings():
                # RLlib's reward buffer checks each scalar with Box.contains, which warns that it casts a scalar
                warnings.filterwarnings("ignore", message=".*Casting input x to numpy array", category=UserWarning)
                sa_episode.set_rewards(new_data=np.asarray(credit[:n], dtype=np.float32), at_indices=slice(0, n))
        return batch


# ------------------------------------------------------------------------------------------------------
# The environment


class FraudArenaMultiAgentEnv(MatchHost, MultiAgentEnv):
    """FraudArena as an RLlib ``MultiAgentEnv`` (module docstring).

    ``config`` keys (all optional): ``task_id`` (default ``"task_3"``), ``overrides`` (docs/rules.md §3
    knobs), ``learners`` (roles played by RLlib, default ``["investigator"]``), ``opponents`` (``{seat:
    make_bot kind}`` for the other seats, default ``"scripted"``), ``max_ads`` (padded queue; default the
    larger of the task's and :data:`MAX_ADS`), ``credit`` (``"match"``, default: the §10.3 reward at the match
    end; ``"shaped"``: also put our trainer's per-decision credit in the final info, see :class:`ShapedCredit`),
    ``link_credit_to_pulls`` (default 0.5, as ``TrainConfig``). ``reset(seed=s)`` plays the match of
    ``RefereeEnvironment(task_id, seed=s)``; ``options`` may set ``task_id`` and ``overrides``.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        config = dict(config or {})
        task_id, _, clean = validate_config(config.get("task_id", "task_3"), None, dict(config.get("overrides") or {}))
        learners = list(config.get("learners") or [Role.INVESTIGATOR.value])
        if not learners or any(r not in LEARNABLE_ROLES for r in learners) or len(set(learners)) != len(learners):
            raise ValueError(f"learners must be distinct roles among {', '.join(LEARNABLE_ROLES)}, got {learners}")
        seats: dict[str, str] = {r.value: "scripted" for r in Role if r.value not in learners}
        for seat, kind in (config.get("opponents") or {}).items():
            if seat not in seats:
                raise ValueError(f"opponents may name {', '.join(seats) or 'no seat'}, not {seat!r}")
            make_bot(kind, seat, 0)  # fail early on an unknown kind
            seats[seat] = kind
        self.task_id = task_id
        self.overrides = clean
        self.learners = learners
        self.opponents = seats
        self.max_ads = int(config.get("max_ads") or max(MAX_ADS, max_queue(task_id, clean)))
        self.credit = str(config.get("credit", "match"))
        if self.credit not in ("match", "shaped"):
            raise ValueError(f"credit must be 'match' or 'shaped', got {self.credit!r}")
        self.link_credit_to_pulls = float(config.get("link_credit_to_pulls", 0.5))
        self._decisions: dict[str, list[_Decision]] = {r: [] for r in learners}
        self.possible_agents = list(learners)
        self.agents = list(learners)
        self.observation_spaces = {r: flat_observation_space(r, self.max_ads) for r in learners}
        self.action_spaces = {r: action_space(r, self.max_ads) for r in learners}
        self.render_mode = "ansi"
        self.match: RefereeEnvironment | None = None
        self._codec: MatchCodec | None = None
        self._bots: dict[str, Policy] = {}
        self._view: RoleView | None = None
        self._illegal = dict.fromkeys(learners, 0)
        self._np_random: np.random.Generator | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a match and play the bots up to the first learner's turn."""
        options = options or {}
        task_id, _, overrides = validate_config(options.get("task_id", self.task_id), None,
                                                dict(options.get("overrides", self.overrides) or {}))
        if max_queue(task_id, overrides) > self.max_ads:
            raise ValueError(f"{task_id} with {overrides} can reach {max_queue(task_id, overrides)} ads, more "
                             f"than max_ads={self.max_ads}")
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
            match_seed = int(seed)
        else:
            if self._np_random is None:
                self._np_random, _ = seeding.np_random()
            match_seed = int(self._np_random.integers(0, SEED_LIMIT - 1))
        self.match = match = RefereeEnvironment(task_id=task_id, seed=match_seed, **overrides)
        self._codec = MatchCodec(match, self.max_ads)
        self._bots = {seat: make_bot(kind, seat, bot_seed(task_id, match.seed, seat))
                      for seat, kind in self.opponents.items()}
        self._illegal = dict.fromkeys(self.learners, 0)
        self._decisions = {r: [] for r in self.learners}
        self.agents = list(self.learners)
        self._play_bots()
        return self._turn()

    def step(self, action_dict: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Play the acting learner's flat action, then the bots until a learner's turn or the match end."""
        match = self._require_match()
        assert self._codec is not None
        if match.done or self._view is None:
            raise RuntimeError("the match is over; call reset()")
        view = self._view
        if view.role not in action_dict:
            raise ValueError(f"it is {view.role}'s turn; got actions for {sorted(action_dict)}")
        index = int(action_dict[view.role])
        if self._codec.is_legal(view, index):
            wire = self._codec.decode(view, index)
        else:
            self._illegal[view.role] += 1
            wire = dict(FALLBACK_ACTIONS[view.role])
        accepted = match.apply(view.role, wire)
        self._decisions[view.role].append(_Decision.of(view.role, accepted, view.raw))
        self._play_bots()
        if not match.done:
            obs, infos = self._turn()
            return obs, {view.role: 0.0}, {"__all__": False}, {"__all__": False}, infos
        record = match.record()
        obs, rewards, infos = {}, {}, {}
        for role in self.learners:
            final = self._codec.encode(role, match.observe(role))
            obs[role] = flatten_view(final)
            rewards[role] = float(record["rewards"][role])
            infos[role] = {"illegal_actions": self._illegal[role], "grader": float(record["grader"]["score"]),
                           "rewards": dict(record["rewards"]), "task_id": match.task_id, "seed": match.seed,
                           "match_actions": len(match.actions)}
            if self.credit == "shaped":
                steps = self._decisions[role]
                max_proposals = int(getattr(match, "max_proposals", 0)
                                    or match.observe(Role.FRAUDSTER.value).get("max_proposals") or 0)
                shaped_rewards(role, steps, record, rewards[role], max_proposals,  # type: ignore[arg-type]
                               self.link_credit_to_pulls)
                infos[role]["credit"] = [d.reward for d in steps]
        self._view = None
        done = dict.fromkeys(self.learners, True)
        return obs, rewards, {**done, "__all__": True}, {**dict.fromkeys(self.learners, False), "__all__": False}, infos

    def _play_bots(self) -> None:
        play_bots(self._require_match(), self._bots, self.learners)

    def _turn(self) -> tuple[dict[str, Any], dict[str, Any]]:
        match = self._require_match()
        assert self._codec is not None
        role = match.current_role
        assert role is not None
        self._view = self._codec.encode(role, match.observe(role))
        info = {"illegal_actions": self._illegal[role], "task_id": match.task_id, "seed": match.seed,
                "raw_obs": fresh_copy(self._view.raw)}
        return {role: flatten_view(self._view)}, {role: info}


# ------------------------------------------------------------------------------------------------------
# The action-masking RLModule


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class MaskedActorCritic(TorchRLModule, ValueFunctionAPI):
    """Actor-critic RLModule over :func:`flat_observation_space` with illegal actions masked (module docstring).

    ``model_config``: ``role`` (required), ``max_ads`` (default :data:`MAX_ADS`), ``hidden`` (default 128).
    """

    def setup(self) -> None:
        """Build the networks for ``model_config["role"]``."""
        cfg = self.model_config or {}
        self.role = str(cfg["role"])
        self.max_ads = int(cfg.get("max_ads", MAX_ADS))
        hidden = int(cfg.get("hidden", 128))
        if self.role == Role.INVESTIGATOR:
            self.ad_net = _mlp([AD_FEATURES + INV_GLOBAL_FEATURES, hidden, hidden])
            self.ad_head = nn.Linear(2 * hidden, 10)
            self.end_head = nn.Sequential(_mlp([hidden + INV_GLOBAL_FEATURES, hidden]), nn.Linear(hidden, 1))
            self.value_head = nn.Sequential(_mlp([hidden + INV_GLOBAL_FEATURES, hidden]), nn.Linear(hidden, 1))
        else:
            size = obs_size(self.role, self.max_ads)
            self.trunk = _mlp([size, hidden, hidden])
            self.pi_head = nn.Linear(hidden, n_actions(self.role, self.max_ads))
            self.value_head = nn.Sequential(_mlp([size, hidden, hidden]), nn.Linear(hidden, 1))

    def _investigator(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ads, present, glob = split_investigator(obs, self.max_ads)
        n = ads.shape[-2]
        per_ad = self.ad_net(torch.cat([ads, glob.unsqueeze(-2).expand(*glob.shape[:-1], n, glob.shape[-1])], -1))
        weight = present.unsqueeze(-1)
        pooled = (per_ad * weight).sum(-2) / weight.sum(-2).clamp(min=1.0)
        ad_logits = self.ad_head(torch.cat([per_ad, pooled.unsqueeze(-2).expand_as(per_ad)], -1))
        summary = torch.cat([pooled, glob], -1)
        logits = torch.cat([self.end_head(summary), ad_logits.flatten(-2)], -1)
        return logits, self.value_head(summary).squeeze(-1)

    def _logits_and_values(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        obs = batch[Columns.OBS]["observations"].float()
        if self.role == Role.INVESTIGATOR:
            logits, values = self._investigator(obs)
        else:
            logits, values = self.pi_head(self.trunk(obs)), self.value_head(obs).squeeze(-1)
        legal = batch[Columns.OBS]["action_mask"] > 0
        return torch.where(legal, logits, torch.full_like(logits, MASKED_LOGIT)), values

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits, _ = self._logits_and_values(batch)
        return {Columns.ACTION_DIST_INPUTS: logits}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        logits, values = self._logits_and_values(batch)
        return {Columns.ACTION_DIST_INPUTS: logits, Columns.EMBEDDINGS: values}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        """Value estimates (the train pass hands its values over as ``embeddings``)."""
        if embeddings is not None:
            return embeddings
        return self._logits_and_values(batch)[1]


def module_spec(role: str, max_ads: int = MAX_ADS, hidden: int = 128) -> RLModuleSpec:
    """The :class:`MaskedActorCritic` spec for ``role``."""
    return RLModuleSpec(module_class=MaskedActorCritic, observation_space=flat_observation_space(role, max_ads),
                        action_space=action_space(role, max_ads),
                        model_config={"role": role, "max_ads": max_ads, "hidden": hidden})


def policy_mapping_fn(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """Agent id -> module id: each role has its own module, named by the role."""
    return agent_id


def ppo_config(env_config: Mapping[str, Any] | None = None, *, hidden: int = 128, num_env_runners: int = 1,
               num_envs: int = 1,
               train_batch_size: int = 4000) -> PPOConfig:
    """A PPO config (new API stack) for :class:`FraudArenaMultiAgentEnv` with one module per learned role.

    Hyperparameters follow our trainer where they have a counterpart (docs/training.md: lr 5e-4, 3 epochs,
    minibatch 512, γ = 1, λ = 0.95, entropy 0.01); the learner runs in the driver process.
    """
    env_config = dict(env_config or {})
    learners = list(env_config.get("learners") or [Role.INVESTIGATOR.value])
    task_id = env_config.get("task_id", "task_3")
    max_ads = int(env_config.get("max_ads") or max(MAX_ADS, max_queue(task_id, env_config.get("overrides"))))
    env_config["max_ads"] = max_ads
    config = (
        PPOConfig()
        .environment(FraudArenaMultiAgentEnv, env_config=env_config)
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=num_envs, num_cpus_per_env_runner=1)
        .learners(num_learners=0)
        .multi_agent(policies=set(learners), policy_mapping_fn=policy_mapping_fn, policies_to_train=learners)
        .rl_module(rl_module_spec=MultiRLModuleSpec(
            rl_module_specs={r: module_spec(r, max_ads, hidden) for r in learners}))
        .training(lr=5e-4, gamma=1.0, lambda_=0.95, num_epochs=3, minibatch_size=512, entropy_coeff=0.01,
                  train_batch_size_per_learner=train_batch_size, vf_clip_param=10.0)
    )
    if env_config.get("credit") == "shaped":
        config = config.env_runners(batch_mode="complete_episodes").learners(
            learner_connector=lambda obs_space, act_space: ShapedCredit())
    return config


# ------------------------------------------------------------------------------------------------------
# The rllib: bot kind


class RLlibPolicyBot:
    """Plays a saved :class:`MaskedActorCritic` greedily (argmax over legal actions) through ``act(obs)``."""

    def __init__(self, module: RLModule, role: str, seed: int) -> None:
        self.module = module
        self.role = role
        self.codec = MatchCodec.for_bot(seed, int(getattr(module, "max_ads", MAX_ADS)))
        self.fallbacks = 0  # moves where the module's choice was not legal (cannot happen with a live mask)

    def act(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The wire action for ``observation`` (the role's docs/protocol.md observation)."""
        view = self.codec.encode(self.role, observation)
        flat = flatten_view(view)
        batch = {Columns.OBS: {k: torch.from_numpy(v).unsqueeze(0) for k, v in flat.items()}}
        with torch.no_grad():
            logits = self.module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS][0]
        index = int(torch.argmax(logits))
        if not self.codec.is_legal(view, index):
            self.fallbacks += 1
            return dict(FALLBACK_ACTIONS[self.role])
        return self.codec.decode(view, index)


_MODULES: dict[tuple[str, str], RLModule] = {}


def module_dir(checkpoint: str | Path, role: str) -> Path:
    """The RLModule directory of ``role`` inside an RLlib checkpoint: an algorithm checkpoint
    (``learner_group/learner/rl_module/<role>``), a MultiRLModule directory, or the module's own directory."""
    path = Path(checkpoint)
    for candidate in (path / "learner_group" / "learner" / "rl_module" / role, path / role, path):
        if (candidate / "class_and_ctor_args.pkl").exists():
            return candidate
    raise ValueError(f"no RLlib module for {role} under {path}")


def load_module(checkpoint: str | Path, role: str) -> RLModule:
    """Load (once per process) ``role``'s RLModule from ``checkpoint`` (see :func:`module_dir`)."""
    key = (str(checkpoint), role)
    if key not in _MODULES:
        module = RLModule.from_checkpoint(str(module_dir(checkpoint, role).resolve()))
        module.eval()
        _MODULES[key] = module
    return _MODULES[key]


def _rllib_bot(kind: str, role: str, seed: int) -> Policy:
    return RLlibPolicyBot(load_module(kind.removeprefix("rllib:"), role), role, seed)


def register() -> None:
    """Register the bot kind ``rllib:<checkpoint>`` with ``make_bot`` (idempotent)."""
    register_bot_kind("rllib:", _rllib_bot)


register()

__all__ = [
    "LEARNABLE_ROLES",
    "MASKED_LOGIT",
    "FraudArenaMultiAgentEnv",
    "MaskedActorCritic",
    "RLlibPolicyBot",
    "ShapedCredit",
    "flat_observation_space",
    "flatten_view",
    "load_module",
    "module_dir",
    "module_spec",
    "obs_size",
    "policy_mapping_fn",
    "ppo_config",
    "register",
    "split_investigator",
]
