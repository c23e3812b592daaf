"""Inbound WebSocket frames and REST bodies (docs/protocol.md#the-shape-of-it–2), validated by one discriminated union.

``parse_frame`` turns raw text into a typed frame or a ``ProtocolError`` with the right code:
``invalid_json`` (not JSON / not an object / no string ``type``), ``unknown_type``, or
``validation_error`` with ``details`` = [{loc, msg}]. Every inbound model forbids unknown keys.
``loads`` is the one JSON decoder of every endpoint (role sockets, OpenEnv ``/ws``, REST, ``/mcp``): text
nested deeper than ``max_json_depth`` is refused with ``invalid_json`` before it is parsed.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from fraudarena.arena.spec import OVERRIDE_RANGES, ROLES, TASK_IDS, TASKS
from fraudarena.served.errors import ErrorCode, ProtocolError

RoleName = Literal["fraudster", "investigator", "auditor"]
FrameId = Annotated[str, StringConstraints(max_length=64)] | Annotated[int, Field(ge=-(2**63), lt=2**63)]
BOT_KINDS = ("scripted", "random")
POLICY_PREFIX = "policy:"
LLM_PREFIX = "llm:"
NAMED_PREFIXES = (POLICY_PREFIX, LLM_PREFIX)
"""House-bot kinds that name an entry of the server's settings (``policies``, ``llm_bots``)."""


def resolve_house_bots(bots: dict[str, str], policies: dict[str, str], loc: tuple[str, ...] = ("data", "house_bots"),
                       llm_bots: dict[str, str] | None = None) -> dict[str, str]:
    """Map ``policy:<name>`` house bots to ``policy:<checkpoint dir>`` and ``llm:<name>`` to
    ``llm:<model>[@<base url>]`` (names from the server's settings ``policies`` and ``llm_bots``).

    An unknown name is a ``validation_error`` naming the known ones; other kinds pass through.
    """
    out = {}
    for role, kind in bots.items():
        if kind.startswith(LLM_PREFIX):
            name = kind[len(LLM_PREFIX):]
            if name not in (llm_bots or {}):
                known = ", ".join(sorted(llm_bots or {})) or "none configured"
                raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"unknown llm bot {name!r} for {role}; known: {known}",
                                    [{"loc": [*loc, role], "msg": "unknown llm bot name"}])
            kind = LLM_PREFIX + (llm_bots or {})[name]
        elif kind.startswith(POLICY_PREFIX):
            name = kind[len(POLICY_PREFIX):]
            if name not in policies:
                known = ", ".join(sorted(policies)) or "none configured"
                raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"unknown policy {name!r} for {role}; known: {known}",
                                    [{"loc": [*loc, role], "msg": "unknown policy name"}])
            kind = POLICY_PREFIX + policies[name]
        out[role] = kind
    return out
KNOWN_TYPES = ("reset", "join", "step", "obs", "state", "close", "queue")


def _known_task(v: str) -> str:
    if v not in TASK_IDS:
        raise ValueError(f"unknown task_id {v!r}; expected one of {', '.join(TASK_IDS)}")
    return v


TaskId = Annotated[str, AfterValidator(_known_task)]


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ResetData(_Inbound):
    """``reset`` data and the POST /matches body (docs/rules.md §3 ranges)."""

    task_id: TaskId | None = None
    seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    max_rounds: Annotated[int, Field(ge=OVERRIDE_RANGES["max_rounds"][0],
                                     le=OVERRIDE_RANGES["max_rounds"][1])] | None = None
    max_proposals: Annotated[int, Field(ge=OVERRIDE_RANGES["max_proposals"][0],
                                        le=OVERRIDE_RANGES["max_proposals"][1])] | None = None
    max_fraudster_actions_per_turn: Annotated[int, Field(
        ge=OVERRIDE_RANGES["max_fraudster_actions_per_turn"][0],
        le=OVERRIDE_RANGES["max_fraudster_actions_per_turn"][1])] | None = None
    max_investigator_actions_per_turn: Annotated[int, Field(
        ge=OVERRIDE_RANGES["max_investigator_actions_per_turn"][0],
        le=OVERRIDE_RANGES["max_investigator_actions_per_turn"][1])] | None = None
    allowed_categories: Annotated[list[Annotated[str, StringConstraints(max_length=64)]],
                                  Field(min_length=1, max_length=32)] | None = None
    house_bots: dict[RoleName, Annotated[str, StringConstraints(max_length=128)]] | None = None
    episode_id: Any = None  # accepted and ignored (ids are server-generated)

    @field_validator("allowed_categories")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("allowed_categories must be distinct")
        return v

    @field_validator("house_bots")
    @classmethod
    def _bots(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for role, kind in (v or {}).items():
            if kind not in BOT_KINDS and not kind.startswith(NAMED_PREFIXES):
                raise ValueError(f"unknown house bot {kind!r} for {role}; this server knows "
                                 f"{', '.join(BOT_KINDS)}, {POLICY_PREFIX}<name> and {LLM_PREFIX}<name>")
        return v

    def params(self) -> dict[str, Any]:
        """The engine's keyword arguments (task, seed, overrides; None = default)."""
        out = self.model_dump(exclude={"house_bots", "episode_id"}, exclude_none=True)
        task = out.get("task_id") or "task_1"
        cats = out.get("allowed_categories")
        if cats is not None:
            bad = [c for c in cats if c not in TASKS[task].category_pool]
            if bad:
                raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"categories outside {task}'s pool: {bad}",
                                    [{"loc": ["data", "allowed_categories"], "msg": f"not in the pool: {bad}"}])
        return out


class JoinData(_Inbound):
    match_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    token: Annotated[str, StringConstraints(max_length=256)] | None = None
    takeover: bool = False


class EmptyData(_Inbound):
    pass


class QueueData(_Inbound):
    """``queue`` data (docs/protocol.md#matchmaking-queue).

    ``role`` must be the path's role; ``task_id`` defaults to task_1.
    """

    role: RoleName
    task_id: TaskId | None = None



class _Frame(_Inbound):
    id: FrameId | None = None
    seq: Annotated[int, Field(ge=0, lt=2**63)] | None = None


class ResetFrame(_Frame):
    type: Literal["reset"]
    data: ResetData = Field(default_factory=ResetData)


class JoinFrame(_Frame):
    type: Literal["join"]
    data: JoinData = Field(default_factory=JoinData)


class StepFrame(_Frame):
    type: Literal["step"]
    data: dict[str, Any] = Field(default_factory=dict)


class ObsFrame(_Frame):
    type: Literal["obs"]
    data: EmptyData = Field(default_factory=EmptyData)


class StateFrame(_Frame):
    type: Literal["state"]
    data: EmptyData = Field(default_factory=EmptyData)


class CloseFrame(_Frame):
    type: Literal["close"]
    data: EmptyData = Field(default_factory=EmptyData)


class QueueFrame(_Frame):
    type: Literal["queue"]
    data: QueueData


ClientFrame = Annotated[ResetFrame | JoinFrame | StepFrame | ObsFrame | StateFrame | CloseFrame | QueueFrame,
                        Field(discriminator="type")]
FRAME_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientFrame)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]


def validation_error(exc: ValidationError, what: str = "frame") -> ProtocolError:
    details = validation_details(exc)
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"]) or what
    return ProtocolError(ErrorCode.VALIDATION_ERROR, f"invalid {what}: {where}: {first['msg']}", details)


DEFAULT_MAX_JSON_DEPTH = 64
_JSON_SPECIAL = re.compile(r'[\[\]{}"\\]')


def json_too_deep(text: str, limit: int) -> bool:
    """True when ``text`` opens more than ``limit`` arrays/objects inside one another (strings skipped).

    Linear in the text: only brackets, quotes and backslashes are looked at, and only when the text has
    more than ``limit`` opening brackets at all (the common case costs two ``str.count``).
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, skip_to = 0, False, -1
    for m in _JSON_SPECIAL.finditer(text):
        i = m.start()
        if i < skip_to:
            continue
        c = m.group()
        if in_string:
            if c == "\\":
                skip_to = i + 2  # the escaped character, a quote or a backslash included
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False


def loads(raw: str | bytes, max_depth: int = DEFAULT_MAX_JSON_DEPTH, what: str = "frame") -> Any:
    """Decode JSON text (or UTF-8 bytes); anything not JSON, or nested deeper than ``max_depth``, is
    ``invalid_json`` (never a ``RecursionError`` or an unexpected fault)."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.INVALID_JSON, f"{what} is not UTF-8 text") from None
    if json_too_deep(raw, max_depth):
        raise ProtocolError(ErrorCode.INVALID_JSON, f"{what} nests JSON deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"{what} nests JSON too deeply") from None


def decode_object(text: str, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> dict[str, Any]:
    """JSON text → object with a string ``type``, else ``invalid_json``."""
    obj = loads(text, max_depth)
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.INVALID_JSON, "frame must be a JSON object")
    if not isinstance(obj.get("type"), str):
        raise ProtocolError(ErrorCode.INVALID_JSON, "frame needs a string 'type'")
    return obj


def echo_id(obj: dict[str, Any]) -> str | int | None:
    """The frame's ``id`` when it is a valid one (so even rejected frames are matched to their reply)."""
    value = obj.get("id")
    if isinstance(value, str) and len(value) <= 64:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


def parse_frame(obj: dict[str, Any]) -> Any:
    """A decoded object → typed frame (``unknown_type`` / ``validation_error`` otherwise)."""
    if obj["type"] not in KNOWN_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE,
                            f"unknown frame type {obj['type'][:64]!r}; expected one of {', '.join(KNOWN_TYPES)}")
    if "data" in obj and obj["data"] is None:
        obj = {k: v for k, v in obj.items() if k != "data"}
    try:
        return FRAME_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise validation_error(exc, f"{obj['type']} frame") from None


def validate_reset(data: Any) -> ResetData:
    try:
        return ResetData.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise validation_error(exc, "reset data") from None


ROLE_NAMES: tuple[str, ...] = ROLES
