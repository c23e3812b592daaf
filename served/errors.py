"""The protocol's error codes (docs/protocol.md#errors) and the one exception type that carries them.

Game errors raised by the engine (``ArenaError``) are translated here so every layer above the
match host speaks a single error vocabulary; the HTTP status of each code lives here too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    VALIDATION_ERROR = "validation_error"
    PHASE_VIOLATION = "phase_violation"
    ILLEGAL_ACTION = "illegal_action"
    NO_MATCH = "no_match"
    MISSING_MATCH_ID = "missing_match_id"
    UNKNOWN_MATCH = "unknown_match"
    UNAUTHORIZED = "unauthorized"
    SEAT_TAKEN = "seat_taken"
    CAPACITY = "capacity"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    RESET_ERROR = "reset_error"
    EXECUTION_ERROR = "execution_error"
    FATAL_ERROR = "fatal_error"
    UNAVAILABLE = "unavailable"
    MATCH_RESTARTED = "match_restarted"


HTTP_STATUS: dict[str, int] = {
    "validation_error": 400,
    "invalid_json": 400,
    "unauthorized": 401,
    "unknown_match": 404,
    "phase_violation": 409,
    "seat_taken": 409,
    "message_too_large": 413,
    "rate_limited": 429,
    "capacity": 503,
    "execution_error": 500,
    "reset_error": 500,
    "illegal_action": 400,
    "unavailable": 503,
    "match_restarted": 503,
}


class ProtocolError(Exception):
    """A request the server rejects with a docs/protocol.md#errors code; nothing was changed."""

    def __init__(self, code: str | ErrorCode, message: str, details: Any = None,
                 retry_after_ms: int | None = None) -> None:
        super().__init__(code, message, details, retry_after_ms)
        self.code = ErrorCode(code).value
        self.message = message
        self.details = details
        self.retry_after_ms = retry_after_ms

    def payload(self) -> dict[str, Any]:
        """The ``data`` of an ``error`` frame."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        if self.retry_after_ms is not None:
            out["retry_after_ms"] = self.retry_after_ms
        return out

    def to_wire(self) -> dict[str, Any]:
        """A picklable/JSON form, used to carry the error across an actor boundary."""
        return {"__error__": self.payload()}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ProtocolError:
        p = data["__error__"]
        return cls(p["code"], p["message"], p.get("details"), p.get("retry_after_ms"))

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def is_wire_error(value: Any) -> bool:
    return isinstance(value, dict) and "__error__" in value
