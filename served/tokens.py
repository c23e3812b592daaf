"""Seat and admin tokens (docs/protocol.md#seats-and-tokens): CSPRNG, base64url without padding, stored only as sha256.

Tokens never leave this module except to the match creator; everything else keeps the digest and
compares in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_token() -> str:
    """32 random bytes as 43 base64url characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def digest(token: str) -> bytes:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def matches(token: str | None, stored: bytes | None) -> bool:
    """True when ``token`` hashes to ``stored`` (constant-time comparison)."""
    if not token or stored is None or not isinstance(token, str) or len(token) > 256:
        return False
    return hmac.compare_digest(digest(token), stored)


_conn_owner = ""


def set_conn_owner(owner: str) -> None:
    """Name the process that holds this process's sockets (a Serve replica's Ray actor id)."""
    global _conn_owner
    _conn_owner = owner


def new_conn_id() -> str:
    """A connection id, ``<owner>/<random>`` when an owner is set, so a match host can tell that the
    socket behind it died with its process (docs/protocol.md#reconnecting)."""
    rand = secrets.token_hex(8)
    return f"{_conn_owner}/{rand}" if _conn_owner else rand


def conn_owner(conn: str) -> str | None:
    """The owner part of a connection id (None when it has none)."""
    owner, sep, _ = conn.rpartition("/")
    return owner if sep and owner else None


def new_match_id() -> str:
    """An opaque, unguessable-enough public match id (not a secret)."""
    return "m_" + secrets.token_hex(8)
