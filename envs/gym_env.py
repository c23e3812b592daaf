"""A Gymnasium single-agent environment: one learned role, the other seats played by bots.

``FraudArenaGymEnv(role="investigator", opponents={"fraudster": "reactive", "auditor": "scripted"},
task_id="task_3")`` plays the Investigator (or the Fraudster, or the Auditor with its two actions)
through the same fixed-shape observation Dict and flat Discrete action space as the AEC environment
(:mod:`fraudarena.envs.encoding`). Every other seat is a bot: any kind string
``fraudarena.agents.make_bot`` accepts (``"scripted"``, ``"reactive"``, ``"random"``,
``"policy:<checkpoint dir>"``, ...), or an object with ``.act(observation) -> action``. Kind strings
are built again at every reset with the seeds ``play_match`` uses (``rng.bot_seed(task, seed, role)``),
so ``reset(seed=s)`` against house bots replays the matches of ``play_match(task, s, ...)``; objects
are reused as given. Seats not named in ``opponents`` get ``"scripted"`` (the §12 house bots).

* ``step(a)`` plays the flat action, then lets the bots act until it is this role's turn again or the
  match is over. **Illegal actions** (masked out or out of range) play the role's ``end_turn`` (the
  Auditor's ``submit_audit_report``) instead and are counted in ``info["illegal_actions"]`` (per
  episode); ``action_masks()`` gives the current boolean mask (the ``sb3-contrib`` MaskablePPO
  convention).
* **Reward**: 0 until the match ends, then the role's docs/rules.md §10.3 reward (``record["rewards"]``);
  ``terminated`` is the match end; never truncated.
* **Info**: ``raw_obs`` (the role's §9 observation, a fresh copy), ``illegal_actions``, ``action`` (the
  wire action the step played), and at the end ``record`` (the match record) and ``rewards``.
* **Reset**: ``reset(seed=s, options={"task_id": ..., "overrides": {...}})``; ``s`` is the match seed.
  Options apply to that reset only; other keys are ignored. ``reset()`` draws the seed from ``np_random``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium
import numpy as np

from fraudarena.agents import Policy, make_bot
from fraudarena.arena import RefereeEnvironment, validate_config
from fraudarena.arena.rng import SEED_LIMIT, bot_seed
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
    play_bots,
)

GYM_ROLES: tuple[str, ...] = (Role.INVESTIGATOR.value, Role.FRAUDSTER.value, Role.AUDITOR.value)
"""The roles :class:`FraudArenaGymEnv` can play (the Auditor with its two-action space)."""


class FraudArenaGymEnv(MatchHost, gymnasium.Env):
    """One FraudArena role as a Gymnasium environment (module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, role: str = "investigator", opponents: Mapping[str, str | Policy] | None = None,
                 task_id: str = "task_3", overrides: dict[str, Any] | None = None, *,
                 max_ads: int | None = None, observe_text: bool = False, render_mode: str | None = None) -> None:
        if role not in GYM_ROLES:
            raise ValueError(f"role must be one of {', '.join(GYM_ROLES)}, got {role!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        task_id, _, clean = validate_config(task_id, None, dict(overrides or {}))
        self.role = role
        self.task_id = task_id
        self.overrides = clean
        seats = {r.value: "scripted" for r in Role if r.value != role}
        for seat, bot in (opponents or {}).items():
            if seat not in seats:
                raise ValueError(f"opponents may name {', '.join(seats)} (not {seat!r}) when playing {role}")
            if isinstance(bot, str):
                make_bot(bot, seat, 0)  # fail early on an unknown kind or a kind the seat cannot play
            elif not callable(getattr(bot, "act", None)):
                raise TypeError(f"opponent {seat} must be a bot kind string or an object with .act")
            seats[seat] = bot
        self.opponents: dict[str, str | Policy] = seats
        self.max_ads = max_ads if max_ads is not None else max(MAX_ADS, max_queue(task_id, clean))
        self.observe_text = observe_text
        self.render_mode = render_mode
        self.observation_space = observation_space(role, self.max_ads)
        self.action_space = action_space(role, self.max_ads)
        self.match: RefereeEnvironment | None = None
        self._codec: MatchCodec | None = None
        self._bots: dict[str, Policy] = {}
        self._view: RoleView | None = None
        self._illegal = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a match and play the bots up to this role's first turn."""
        super().reset(seed=seed)
        options = options or {}
        task_id, _, overrides = validate_config(options.get("task_id", self.task_id), None,
                                                dict(options.get("overrides", self.overrides) or {}))
        if max_queue(task_id, overrides) > self.max_ads:
            raise ValueError(f"{task_id} with {overrides} can reach {max_queue(task_id, overrides)} ads, more "
                             f"than max_ads={self.max_ads}; construct the environment with a larger max_ads")
        match_seed = seed if seed is not None else int(self.np_random.integers(0, SEED_LIMIT - 1))
        self.match = match = RefereeEnvironment(task_id=task_id, seed=match_seed, **overrides)
        self._codec = MatchCodec(match, self.max_ads)
        self._bots = {seat: make_bot(bot, seat, bot_seed(task_id, match.seed, seat)) if isinstance(bot, str) else bot
                      for seat, bot in self.opponents.items()}
        self._illegal = 0
        self._play_bots()
        obs, info = self._observe()
        return obs, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Play one flat action of this role, then the bots until its next turn or the match end."""
        match = self._require_match()
        assert self._codec is not None and self._view is not None
        if match.done:
            raise RuntimeError("the match is over; call reset()")
        view = self._view
        index = int(action)
        if self._codec.is_legal(view, index):
            wire = self._codec.decode(view, index)
        else:
            self._illegal += 1
            wire = dict(FALLBACK_ACTIONS[self.role])
        accepted = match.apply(self.role, wire)
        self._play_bots()
        obs, info = self._observe()
        info["action"] = fresh_copy(accepted)
        reward = 0.0
        if match.done:
            record = match.record()
            reward = float(record["rewards"][self.role])
            info["record"] = fresh_copy(record)
            info["rewards"] = dict(record["rewards"])
        return obs, reward, match.done, False, info

    def action_masks(self) -> np.ndarray:
        """The current legal-action mask as booleans (all False once the match is over)."""
        if self._view is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._view.mask.astype(bool)

    # ------------------------------------------------------------------------------------------------

    def _play_bots(self) -> None:
        """Let the bots act until it is this role's turn or the match is over."""
        play_bots(self._require_match(), self._bots, (self.role,), self.observe_text)

    def _observe(self) -> tuple[dict[str, Any], dict[str, Any]]:
        match = self._require_match()
        assert self._codec is not None
        self._view = self._codec.encode(self.role, match.observe(self.role, text=self.observe_text))
        info = {"raw_obs": fresh_copy(self._view.raw), "illegal_actions": self._illegal,
                "task_id": match.task_id, "seed": match.seed}
        return self._view.copy_observation(), info
