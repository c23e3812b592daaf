"""``LLMBot``: one role played by a chat model behind an OpenAI-compatible endpoint.

Each ``act(observation)``:

1. renders the observation as a compact prompt (:mod:`.prompts`) and asks for ONE JSON action, constrained
   where the server supports it to a JSON Schema that only the legal actions satisfy
   (:func:`.prompts.action_schema`; servers that refuse it are asked with JSON mode, then without);
2. parses the answer (the first JSON object in it; code fences and chatter around it are ignored),
   validates it with the wire models (:func:`fraudarena.arena.models.validate_action`) and checks it
   against ``obs["legal_actions"]`` (:func:`legality_error`);
3. if the answer is refused, asks once more with the reason (``max_reasks``, default 1);
4. if it is still refused, or the endpoint failed after its retries, plays the role's safe default
   (``end_turn``, or ``submit_audit_report`` for the Auditor) and counts a *fallback*.

A bot never raises on a bad answer or a dead endpoint: the match always goes on. ``bot.stats``
(:class:`LLMStats`) counts moves, chat calls, HTTP requests, retries, re-asks, fallbacks, token usage
(from each answer's ``usage``) and seconds per move; ``match_stats()`` is the hook ``play_match`` puts
into the record's ``metadata``. The API key is read from an environment variable
(``FRAUDARENA_LLM_API_KEY``, else ``OPENAI_API_KEY``) and never logged, stored in stats or records.

To keep a weak model from looping (the Auditor may send up to 200 flags), at most ``max_turn_moves``
actions are asked for in one turn; after that the safe default ends the turn (counted as
``forced_ends``, not as fallbacks).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fraudarena.arena import spec
from fraudarena.arena.errors import ArenaError
from fraudarena.arena.models import validate_action

from . import prompts
from .client import ChatClient, LLMError

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8080/v1"
URL_ENV = "FRAUDARENA_LLM_URL"
KEY_ENVS = ("FRAUDARENA_LLM_API_KEY", "OPENAI_API_KEY")
TIMEOUT_ENV = "FRAUDARENA_LLM_TIMEOUT"
MAX_TURN_MOVES = {"investigator": 40, "fraudster": 10, "auditor": 30}
"""Default ``max_turn_moves`` per role (the rules' per-turn caps are 8–12, 3 and 200)."""


@dataclass
class LLMStats:
    """Counters of one bot (cumulative over its life; ``LLMBot.reset_stats`` zeroes them)."""

    moves: int = 0
    """actions returned by ``act``"""
    calls: int = 0
    """chat completions received (first asks and re-asks)"""
    requests: int = 0
    """HTTP requests sent (calls + failed attempts)"""
    retries: int = 0
    timeouts: int = 0
    endpoint_failures: int = 0
    """moves on which the endpoint gave no answer after its retries"""
    invalid_answers: int = 0
    """answers refused (unparsable, invalid or illegal)"""
    reasks: int = 0
    fallbacks: int = 0
    """moves that played the safe default because no valid answer came"""
    forced_ends: int = 0
    """moves that ended the turn because ``max_turn_moves`` was reached"""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    """wall time spent in ``act``"""
    max_move_seconds: float = 0.0

    @property
    def fallback_rate(self) -> float:
        """Fallbacks per move (0.0 before the first move)."""
        return self.fallbacks / self.moves if self.moves else 0.0

    @property
    def seconds_per_move(self) -> float:
        """Mean wall time per move (0.0 before the first move)."""
        return self.seconds / self.moves if self.moves else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, with the derived rates."""
        out: dict[str, Any] = asdict(self)
        out["seconds"] = round(self.seconds, 4)
        out["max_move_seconds"] = round(self.max_move_seconds, 4)
        out["fallback_rate"] = round(self.fallback_rate, 4)
        out["seconds_per_move"] = round(self.seconds_per_move, 4)
        return out


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (markdown fences and surrounding prose are skipped).

    Raises ``ValueError`` with a short reason when there is none.
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    if not text.strip():
        raise ValueError("the answer was empty; expected one JSON object")
    raise ValueError("no JSON object found in the answer; expected one JSON object like {\"action_type\": ...}")


def legality_error(role: str, action: Mapping[str, Any], obs: Mapping[str, Any]) -> str | None:
    """Why a *validated* action is not legal now according to ``obs["legal_actions"]``; None if it is.

    Mirrors the referee's rules 7.1 as far as the observation tells them, plus one rule of the bot's own:
    an Auditor flag identical to one already sent is refused (it could only lower the F1 score).
    """
    legal = obs.get("legal_actions") or {}
    types = list(legal.get("action_types") or [])
    atype = action["action_type"]
    if atype not in types:
        return f"{atype} is not legal now; legal action types: {', '.join(types) or 'none'}"
    if atype == "investigate":
        options = legal.get("investigate") or {}
        ad_id, target = action["ad_id"], action["investigation_target"]
        if ad_id not in options:
            return f"{ad_id} cannot be investigated; ads that can: {', '.join(options) or 'none'}"
        if target not in options[ad_id]:
            return f"{target} cannot be pulled on {ad_id}; targets left there: {', '.join(options[ad_id]) or 'none'}"
    elif atype == "verdict":
        pending = list(legal.get("verdict") or [])
        if action["ad_id"] not in pending:
            return f"{action['ad_id']} is not a pending ad; pending ads: {', '.join(pending) or 'none'}"
    elif atype == "link_accounts":
        info = legal.get("link_accounts") or {}
        ids = set(info.get("ad_ids") or [])
        a, b = action["ad_id"], action["linked_ad_id"]
        if a == b:
            return "ad_id and linked_ad_id must differ"
        if a not in ids or b not in ids:
            return f"both ids must be published ads: {', '.join(sorted(ids))}"
        if any({x["ad_id"], x["linked_ad_id"]} == {a, b} for x in obs.get("links") or []):
            return f"{a} and {b} are already linked"
    elif atype == "propose_ad":
        info = legal.get("propose_ad") or {}
        cats = list(info.get("categories") or [])
        if action["category"] not in cats:
            return f"category {action['category']!r} is not allowed; allowed: {', '.join(cats)}"
        camo = list(action.get("camouflage") or [])
        left = int(info.get("camouflage_remaining") or 0)
        if len(camo) > left:
            return f"camouflage of {len(camo)} targets exceeds the {left} left"
    elif atype == "modify_pending_ad":
        slots = list(legal.get("modify_pending_ad") or [])
        if action["slot_index"] not in slots:
            return f"slot {action['slot_index']} cannot be modified; slots: {', '.join(map(str, slots)) or 'none'}"
    elif atype in ("flag_investigator", "flag_fraudster"):
        track = "A" if atype == "flag_investigator" else "B"
        allowed = list((legal.get("flag_types") or {}).get(track) or [])
        flag_type = action["flag_type"]
        if flag_type not in allowed:
            return f"{atype} takes flag_type {', '.join(allowed)}; {flag_type} belongs to the other track"
        target = action.get("target_ad_id")
        if flag_type not in spec.MATCH_LEVEL_FLAGS:
            targets = list(legal.get("target_ad_ids") or [])
            if not target:
                return f"{flag_type} needs a target_ad_id (one of {', '.join(targets)})"
            if target not in targets:
                return f"target_ad_id {target} is not a published ad; ads: {', '.join(targets)}"
        for sent in obs.get("pending_flags") or []:
            if (sent.get("track"), sent.get("flag_type"), sent.get("target_ad_id")) == (track, flag_type, target):
                return f"you already sent {flag_type} on {target or 'the match'}; send another flag or submit"
    return None


def safe_action(role: str) -> dict[str, Any]:
    """The role's safe default: ``submit_audit_report`` for the Auditor, ``end_turn`` otherwise."""
    return {"action_type": "submit_audit_report" if role == "auditor" else "end_turn"}


def _api_key(api_key_env: str | None) -> str | None:
    names = (api_key_env,) if api_key_env else KEY_ENVS
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class LLMBot:
    """A bot for ``role`` whose moves come from ``model`` at an OpenAI-compatible ``base_url``.

    ``api_key_env`` names the environment variable holding the key (default: ``FRAUDARENA_LLM_API_KEY``,
    else ``OPENAI_API_KEY``; none is fine for local servers). ``timeout`` is per HTTP request,
    ``max_retries`` extra attempts on connection errors, timeouts, 429 and 5xx with exponential backoff
    from ``backoff_s``. ``seed`` is sent with each request (servers that honour it answer reproducibly
    at ``temperature`` 0). ``response_format`` is the strongest answer constraint tried first (see
    :data:`.client.RESPONSE_FORMATS`): by default a JSON Schema that only the legal actions satisfy
    (:func:`.prompts.action_schema`), stepping down to JSON mode and to none on servers that refuse it.
    Nothing is sent before the first ``act``.
    """

    def __init__(self, role: str, model: str, base_url: str | None = None, *, api_key_env: str | None = None,
                 timeout: float | None = None, max_retries: int = 2, seed: int | None = None,
                 temperature: float = 0.0, max_tokens: int = 400, max_reasks: int = 1,
                 response_format: str = "json_schema", backoff_s: float = 0.5,
                 max_turn_moves: int | None = None) -> None:
        if role not in spec.ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(spec.ROLES)}")
        if not model:
            raise ValueError("an LLM bot needs a model name (llm:<model>)")
        self.role = role
        self.model = model
        self.base_url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        if timeout is None:
            timeout = float(os.environ.get(TIMEOUT_ENV) or 60.0)
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_reasks = max_reasks
        self.max_turn_moves = MAX_TURN_MOVES[role] if max_turn_moves is None else max_turn_moves
        self.client = ChatClient(self.base_url, model, api_key=_api_key(api_key_env), timeout=timeout,
                                 max_retries=max_retries, backoff_s=backoff_s, response_format=response_format,
                                 seed=seed)
        self.stats = LLMStats()
        self.last_error: str | None = None
        self._turn_key: tuple[Any, ...] | None = None
        self._turn_moves = 0
        self._turn_left = 0

    def __repr__(self) -> str:
        return f"LLMBot(role={self.role!r}, model={self.model!r}, base_url={self.base_url!r})"

    def reset_stats(self) -> None:
        """Zero the counters (e.g. between matches when one bot object plays several)."""
        self.stats = LLMStats()

    def match_stats(self) -> dict[str, Any]:
        """The hook ``play_match`` reads: model, endpoint and counters (never the API key)."""
        return {"kind": f"llm:{self.model}", "base_url": self.base_url,
                "response_format": self.client.response_format,
                "format_downgrades": self.client.counters.format_downgrades, **self.stats.as_dict()}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    # ----------------------------------------------------------------------------------------------------
    def act(self, observation: Mapping[str, Any]) -> dict[str, Any]:
        """One action for ``observation`` (always a valid, legal action; see the module docstring)."""
        start = time.perf_counter()
        try:
            return self._act(observation)
        finally:
            elapsed = time.perf_counter() - start
            self.stats.moves += 1
            self.stats.seconds += elapsed
            self.stats.max_move_seconds = max(self.stats.max_move_seconds, elapsed)

    def _count_turn(self, obs: Mapping[str, Any]) -> int:
        key = (obs.get("task_id"), obs.get("phase"), obs.get("round_number"))
        left = int(obs.get("actions_left_this_turn") or 0)
        if key != self._turn_key or left > self._turn_left:  # a new turn (or a new match)
            self._turn_key, self._turn_moves = key, 0
        self._turn_left = left
        self._turn_moves += 1
        return self._turn_moves

    def _act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        if self._count_turn(obs) > self.max_turn_moves:
            self.stats.forced_ends += 1
            return safe_action(self.role)
        msgs = prompts.messages(self.role, obs)
        schema = prompts.action_schema(self.role, obs)
        before = (self.client.counters.requests, self.client.counters.retries, self.client.counters.timeouts)
        try:
            for ask in range(self.max_reasks + 1):
                if ask:
                    self.stats.reasks += 1
                try:
                    result = self.client.complete(msgs, temperature=self.temperature, max_tokens=self.max_tokens,
                                                  schema=schema)
                except LLMError as exc:
                    self.stats.endpoint_failures += 1
                    self.last_error = str(exc)
                    log.warning("llm:%s (%s): %s; playing %s", self.model, self.role, exc,
                                safe_action(self.role)["action_type"])
                    break
                self.stats.calls += 1
                self.stats.prompt_tokens += result.prompt_tokens
                self.stats.completion_tokens += result.completion_tokens
                action, error = self.check(result.content, obs)
                if action is not None:
                    return action
                self.stats.invalid_answers += 1
                self.last_error = error
                msgs = [*msgs, {"role": "assistant", "content": result.content[:2000]},
                        prompts.reask_message(error or "invalid")]
        finally:
            c = self.client.counters
            self.stats.requests += c.requests - before[0]
            self.stats.retries += c.retries - before[1]
            self.stats.timeouts += c.timeouts - before[2]
        self.stats.fallbacks += 1
        return safe_action(self.role)

    def check(self, text: str, obs: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """(normalised action, None) if ``text`` holds a valid legal action, else (None, the reason)."""
        try:
            raw = parse_json_object(text)
        except ValueError as exc:
            return None, str(exc)
        try:
            action = validate_action(self.role, raw)
        except ArenaError as err:
            return None, err.message
        error = legality_error(self.role, action, obs)
        if error is not None:
            return None, error
        return action, None


def parse_kind(kind: str) -> tuple[str, str | None]:
    """``"llm:<model>"`` → (model, None); ``"llm:<model>@http://host:port/v1"`` → (model, url)."""
    if not kind.startswith("llm:"):
        raise ValueError(f"not an llm bot kind: {kind!r}")
    rest = kind[len("llm:"):]
    url = None
    for scheme in ("@http://", "@https://"):
        at = rest.rfind(scheme)
        if at != -1:
            rest, url = rest[:at], rest[at + 1:]
            break
    if not rest:
        raise ValueError("llm bot kind needs a model name: llm:<model> or llm:<model>@<base url>")
    return rest, url


def make_llm_bot(kind: str, role: str, seed: int) -> LLMBot:
    """The ``make_bot`` factory of ``llm:`` kinds: the base URL from the kind, else ``FRAUDARENA_LLM_URL``,
    else ``http://127.0.0.1:8080/v1``; the seed is passed on to the server (reduced to 31 bits)."""
    model, url = parse_kind(kind)
    return LLMBot(role, model, url, seed=int(seed) % (2**31))
