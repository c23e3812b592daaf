"""The one error type the referee raises for a rejected action (docs/rules.md §7, docs/protocol.md#errors codes)."""

from __future__ import annotations

from typing import Any

ERROR_CODES = ("validation_error", "phase_violation", "illegal_action")


class ArenaError(Exception):
    """A rejected action or reset: names what was wrong; the match is unchanged.

    ``code`` is ``validation_error`` (schema), ``phase_violation`` (wrong role/phase, or done) or
    ``illegal_action`` (well-formed but against a rule). ``details`` is a list of ``{loc, msg}`` for
    validation errors.
    """

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out

    def __repr__(self) -> str:
        return f"ArenaError({self.code!r}, {self.message!r})"


def validation_error(message: str, loc: tuple[str | int, ...] = ()) -> ArenaError:
    return ArenaError("validation_error", message, [{"loc": list(loc), "msg": message}])


def illegal(message: str) -> ArenaError:
    return ArenaError("illegal_action", message)
