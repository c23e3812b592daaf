"""Bot construction (``make_bot``) and in-process matches (``play_match``).

``make_bot(kind, role, seed)`` resolves a *kind* string:

* ``"scripted"`` — the docs/rules.md §12 house bot of the role (ReactiveFraudster, ScriptedInvestigator,
  HeuristicAuditor);
* ``"random"`` — :class:`RandomPolicy` for the role;
* explicit names: ``"reactive"`` (fraudster), ``"camouflage"`` (fraudster), ``"heuristic"`` (auditor),
  ``"bayesian"`` (investigator, = scripted), and the investigator baselines ``"do_nothing"``,
  ``"reject_all"``, ``"escalate_all"``, ``"surface_only"`` (argmax verdicts), ``"surface_ev"``
  (expected-value verdicts), ``"bayesian_ev"`` (the ScriptedInvestigator with expected-value
  verdicts; not §12) and ``"ringhunter"`` (:class:`RingHunterInvestigator`, the ScriptedInvestigator
  plus ring hunting; not §12, the default behaviour-cloning teacher of the learned Investigator);
* any prefix registered with :func:`register_bot_kind` (e.g. the trainer registers ``"policy:"`` so
  that ``"policy:<checkpoint>"`` loads a learned policy). A registered factory is called as
  ``factory(kind, role, seed)`` with the full kind string and must return an object with ``.act``;
* ``"llm:<model>"`` (or ``"llm:<model>@<base url>"``): :class:`fraudarena.agents.llm.LLMBot`, a chat
  model behind an OpenAI-compatible endpoint (``FRAUDARENA_LLM_URL``); registered on first use.

Anything else raises ``ValueError`` naming the known kinds. A kind given for a role it does not play
(``"reactive"`` as investigator) is also a ``ValueError``.

``play_match`` drives one full match in-process with ``RefereeEnvironment``; each bot's seed is
``rng.bot_seed(task_id, env.seed, role)``. Each role argument is a kind string or any object with
``.act(observation) -> action``. Bots see ``env.observe(role, text=False)`` (the §9 observation
without the derived text summaries, which no house bot reads) unless ``observe_text=True``. It returns
``env.record()``; when a bot has a ``match_stats()`` method (the LLM bot: calls, tokens, fallbacks, seconds
per move), a copy of the record with ``metadata = {"bot_stats": {role: match_stats()}}`` instead. That key
is not part of the rules record (``replay`` does not rebuild it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fraudarena.arena import spec
from fraudarena.arena.rng import bot_seed

from .bots import (
    CamouflageFraudster,
    DoNothingInvestigator,
    EscalateAllInvestigator,
    HeuristicAuditor,
    RandomPolicy,
    ReactiveFraudster,
    RejectAllInvestigator,
    RingHunterInvestigator,
    ScriptedInvestigator,
    SurfaceOnlyInvestigator,
)


class Policy(Protocol):
    """Anything that maps an observation to a wire action dict."""

    def act(self, observation: dict[str, Any]) -> dict[str, Any]: ...


BotFactory = Callable[[str, str, int], Policy]

# kind -> {role: constructor(seed)}
_BUILTIN: dict[str, dict[str, Callable[[int], Policy]]] = {
    "scripted": {"fraudster": ReactiveFraudster, "investigator": ScriptedInvestigator,
                 "auditor": HeuristicAuditor},
    "reactive": {"fraudster": ReactiveFraudster},
    "camouflage": {"fraudster": CamouflageFraudster},
    "heuristic": {"auditor": HeuristicAuditor},
    "bayesian": {"investigator": ScriptedInvestigator},
    "do_nothing": {"investigator": DoNothingInvestigator},
    "reject_all": {"investigator": RejectAllInvestigator},
    "escalate_all": {"investigator": EscalateAllInvestigator},
    "surface_only": {"investigator": SurfaceOnlyInvestigator},
    "surface_ev": {"investigator": lambda seed: SurfaceOnlyInvestigator(seed, decision="expected_value")},
    "bayesian_ev": {"investigator": lambda seed: ScriptedInvestigator(seed, decision="expected_value")},
    "ringhunter": {"investigator": RingHunterInvestigator},
}
_PREFIXES: dict[str, BotFactory] = {}


def register_bot_kind(prefix: str, factory: BotFactory) -> None:
    """Register ``factory(kind, role, seed)`` for every kind string starting with ``prefix``.

    Used by the trainer for ``"policy:<checkpoint>"``: ``register_bot_kind("policy:", load_policy)``.
    Re-registering a prefix replaces its factory; built-in kind names cannot be overridden.
    """
    if not prefix or prefix in _BUILTIN or prefix == "random":
        raise ValueError(f"cannot register bot kind prefix {prefix!r}")
    _PREFIXES[prefix] = factory


def known_kinds() -> list[str]:
    """Built-in kind names plus registered prefixes (shown as ``prefix*``)."""
    return ["random", *sorted(_BUILTIN), *(f"{p}*" for p in sorted(_PREFIXES))]


def make_bot(kind: str, role: str, seed: int) -> Policy:
    """Build the bot of ``kind`` for ``role`` with ``seed`` (see the module docstring)."""
    if role not in spec.ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(spec.ROLES)}")
    if kind == "random":
        return RandomPolicy(role, seed)
    if kind in _BUILTIN:
        ctor = _BUILTIN[kind].get(role)
        if ctor is None:
            plays = ", ".join(_BUILTIN[kind])
            raise ValueError(f"bot kind {kind!r} plays {plays}, not {role}")
        return ctor(seed)
    if kind.startswith("policy:") and "policy:" not in _PREFIXES:
        from .rl import neural_policy  # learned policies need torch: imported only when one is asked for

        neural_policy.register()
    if kind.startswith("llm:") and "llm:" not in _PREFIXES:
        try:
            from . import llm  # LLM bots need httpx: imported only when one is asked for
        except ImportError as exc:
            raise ValueError(f"{kind}: LLM bots need httpx ({exc}); pip install 'fraudarena[llm]'") from None
        llm.register()
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if kind.startswith(prefix):
            return _PREFIXES[prefix](kind, role, seed)
    raise ValueError(f"unknown bot kind {kind!r}; known kinds: {', '.join(known_kinds())}")


def _resolve(arg: str | Policy, role: str, task_id: str, seed: int) -> Policy:
    if isinstance(arg, str):
        return make_bot(arg, role, bot_seed(task_id, seed, role))
    if not callable(getattr(arg, "act", None)):
        raise TypeError(f"{role} must be a bot kind string or an object with .act, got {type(arg).__name__}")
    return arg


def play_match(task_id: str, seed: int | None, fraudster: str | Policy = "reactive",
               investigator: str | Policy = "scripted", auditor: str | Policy = "heuristic", *,
               observe_text: bool = False, **overrides: Any) -> dict[str, Any]:
    """Play one full match in-process and return its record (docs/rules.md §11).

    ``overrides`` are the §2 knobs passed to ``RefereeEnvironment``; ``observe_text=True`` gives the
    bots the observations' derived text summaries too (for text-reading policies). Raises
    ``ArenaError`` if a bot emits an action the referee rejects, and ``RuntimeError`` if the match runs
    past the action bound of invariant 13.6 (every accepted action counts here, so that bound is exact).
    """
    from fraudarena.arena import RefereeEnvironment

    env = RefereeEnvironment(task_id=task_id, seed=seed, **overrides)
    real_seed = int(env.seed)
    bots = {
        "fraudster": _resolve(fraudster, "fraudster", task_id, real_seed),
        "investigator": _resolve(investigator, "investigator", task_id, real_seed),
        "auditor": _resolve(auditor, "auditor", task_id, real_seed),
    }
    rounds, f_cap = env.max_rounds, env.f_cap
    limit = rounds * (f_cap + 1) + env.action_budget + rounds + spec.MAX_AUDIT_FLAGS + 1
    steps = 0
    while not env.done:
        role = env.current_role
        if role is None:  # pragma: no cover - every phase but done has a role
            break
        action = bots[role].act(env.observe(role, text=observe_text))
        env.apply(role, action)
        steps += 1
        if steps > limit:
            raise RuntimeError(f"match {task_id}/{real_seed} did not finish within {limit} actions")
    record = env.record()
    stats = {role: bot.match_stats() for role, bot in bots.items() if callable(getattr(bot, "match_stats", None))}
    if stats:  # outside the rules record: replay() does not reproduce it (it holds wall-clock times)
        record = {**record, "metadata": {"bot_stats": stats}}
    return record
