"""A PettingZoo AEC environment for the three FraudArena roles.

Agents are ``"fraudster"``, ``"investigator"`` and ``"auditor"`` (``arena.spec.Role`` values). The game
is strictly turn-based and a role acts several times in a row (a Fraudster turn has up to
``max_fraudster_actions_per_turn`` actions, an Investigator turn up to its per-turn cap, the audit phase
one action per flag): ``agent_selection`` is always the referee's ``current_role``.

* **Observations / actions**: see :mod:`fraudarena.envs.encoding` (the training encoders and flat
  codecs, padded to ``max_ads`` ad slots; ``"action_mask"`` in the observation Dict).
* **Illegal actions** (masked out, or out of range): with ``illegal_action="end_turn"`` (default) the
  role's fallback action is played instead (``end_turn``, or ``submit_audit_report`` for the Auditor)
  and ``infos[agent]["illegal_actions"]`` counts it; ``illegal_action="raise"`` raises ``ValueError``
  and leaves the match unchanged.
* **Rewards**: 0 on every step until the match ends; then each role gets its docs/rules.md §10.3 reward
  (``record["rewards"]``) and all three agents terminate together. There is no truncation (every
  match ends within a bounded number of actions).
* **Infos**: ``infos[agent]["raw_obs"]`` is the agent's current role observation (§9, a fresh copy,
  refreshed for every agent after every step), ``"illegal_actions"`` the agent's count this match and
  ``"action"`` the wire action its last step played. :meth:`FraudArenaAECEnv.record` is the match record.
* **Reset**: ``reset(seed=s, options={"task_id": ..., "overrides": {...}})`` plays the same match as
  ``RefereeEnvironment(task_id, seed=s, **overrides)`` (options apply to that reset only; other option
  keys are ignored). Without a seed, the match seed is drawn from the environment's own generator.

No parallel wrapper: PettingZoo's ``aec_to_parallel`` needs every live agent to act once per cycle,
while here one role acts a variable number of times before another may act, so a parallel step would
have to ignore two of its three actions. Use the AEC API (or :class:`FraudArenaGymEnv` for one role).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from fraudarena.arena import RefereeEnvironment, validate_config
from fraudarena.arena.rng import SEED_LIMIT
from fraudarena.arena.spec import Role

from .encoding import (
    FALLBACK_ACTIONS,
    MAX_ADS,
    MatchCodec,
    MatchHost,
    RoleView,
    action_space,
    fresh_copy,
    max_queue,
    observation_space,
)

AGENTS: tuple[str, ...] = tuple(role.value for role in Role)
"""The agents in PettingZoo order: fraudster, investigator, auditor."""


class FraudArenaAECEnv(MatchHost, AECEnv):
    """FraudArena as a PettingZoo AEC environment (module docstring).

    ``task_id`` and ``overrides`` (docs/rules.md §3 knobs) are the defaults of every reset; ``max_ads`` fixes
    the Investigator's padded queue (default: the largest of the task and :data:`MAX_ADS`);
    ``observe_text`` adds the derived text summaries to ``raw_obs``; ``render_mode`` may be ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "fraudarena_v0", "render_modes": ["ansi"], "render_fps": 4,
                                          "is_parallelizable": False}

    def __init__(self, task_id: str = "task_3", overrides: dict[str, Any] | None = None, *,
                 max_ads: int | None = None, observe_text: bool = False, illegal_action: str = "end_turn",
                 render_mode: str | None = None) -> None:
        super().__init__()
        task_id, _, clean = validate_config(task_id, None, dict(overrides or {}))
        if illegal_action not in ("end_turn", "raise"):
            raise ValueError(f"illegal_action must be 'end_turn' or 'raise', got {illegal_action!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.task_id = task_id
        self.overrides = clean
        self.max_ads = max_ads if max_ads is not None else max(MAX_ADS, max_queue(task_id, clean))
        self.observe_text = observe_text
        self.illegal_action = illegal_action
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self.observation_spaces = {a: observation_space(a, self.max_ads) for a in AGENTS}
        self.action_spaces = {a: action_space(a, self.max_ads) for a in AGENTS}
        self.match: RefereeEnvironment | None = None
        self._codec: MatchCodec | None = None
        self._views: dict[str, RoleView] = {}
        self._views_at = -1
        self._np_random: np.random.Generator | None = None

    # ------------------------------------------------------------------------------------------------
    # Spaces

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        """The agent's observation space (the same object on every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        """The agent's action space (the same object on every call)."""
        return self.action_spaces[agent]

    # ------------------------------------------------------------------------------------------------
    # Episode

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a match: ``seed`` is the match seed; ``options`` may set ``task_id`` and ``overrides``."""
        options = options or {}
        task_id = options.get("task_id", self.task_id)
        overrides = options.get("overrides", self.overrides)
        task_id, _, overrides = validate_config(task_id, None, dict(overrides or {}))
        if max_queue(task_id, overrides) > self.max_ads:
            raise ValueError(f"{task_id} with {overrides} can reach {max_queue(task_id, overrides)} ads, more "
                             f"than max_ads={self.max_ads}; construct the environment with a larger max_ads")
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
            match_seed = seed
        else:
            if self._np_random is None:
                self._np_random, _ = seeding.np_random()
            match_seed = int(self._np_random.integers(0, SEED_LIMIT - 1))
        self.match = RefereeEnvironment(task_id=task_id, seed=match_seed, **overrides)
        self._codec = MatchCodec(self.match, self.max_ads)
        self._views = {}
        self._views_at = -1
        self.agents = list(AGENTS)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {"illegal_actions": 0} for a in self.agents}
        self.agent_selection = self.match.current_role or AGENTS[0]
        self._refresh_infos()

    def _view(self, agent: str) -> RoleView:
        match = self._require_match()
        assert self._codec is not None
        at = len(match.actions)
        if at != self._views_at:
            self._views = {}
            self._views_at = at
        view = self._views.get(agent)
        if view is None:
            raw = match.observe(agent, text=self.observe_text)
            view = self._views[agent] = self._codec.encode(agent, raw)
        return view

    def _refresh_infos(self) -> None:
        for agent in self.agents:
            info = self.infos[agent]
            info["raw_obs"] = fresh_copy(self._view(agent).raw)

    def observe(self, agent: str) -> dict[str, Any]:
        """The agent's fixed-shape observation of the current state (fresh arrays)."""
        return self._view(agent).copy_observation()

    def step(self, action: Any) -> None:
        """Play the selected agent's flat action (``None`` for an agent that has terminated)."""
        agent = self.agent_selection
        if self.terminations.get(agent) or self.truncations.get(agent):
            self._was_dead_step(action)
            return
        match = self._require_match()
        assert self._codec is not None
        view = self._view(agent)
        index = int(action)
        if self._codec.is_legal(view, index):
            wire = self._codec.decode(view, index)
        elif self.illegal_action == "raise":
            raise ValueError(f"action {index} is not legal for {agent} now (see the action_mask)")
        else:
            self.infos[agent]["illegal_actions"] += 1
            wire = dict(FALLBACK_ACTIONS[agent])
        self._cumulative_rewards[agent] = 0.0
        accepted = match.apply(agent, wire)
        self.infos[agent]["action"] = fresh_copy(accepted)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if match.done:
            final = match.rewards or {}
            for a in self.agents:
                self.rewards[a] = float(final[a])
                self.terminations[a] = True
        else:
            self.agent_selection = match.current_role or agent
        self._accumulate_rewards()
        self._refresh_infos()

    def close(self) -> None:
        """Nothing to release (the match lives in this process)."""


def raw_env(**kwargs: Any) -> FraudArenaAECEnv:
    """The unwrapped AEC environment (PettingZoo naming); ``kwargs`` go to :class:`FraudArenaAECEnv`."""
    return FraudArenaAECEnv(**kwargs)


def env(**kwargs: Any) -> FraudArenaAECEnv:
    """The AEC environment (PettingZoo naming). No PettingZoo wrappers: illegal actions are handled here."""
    return FraudArenaAECEnv(**kwargs)
