"""Hostile-input generators and drivers for every endpoint of the served arena (issue 10's fuzzing).

Used by ``tests/serve/test_fuzz.py`` (a few hundred inputs per endpoint type, default test run) and by
``benchmarks/fuzz.py`` (>= 100,000 per endpoint type). Inputs come from a seeded ``random.Random``, so a
failing run is reproduced by its seed. Four endpoint types are driven over real loopback connections:

* ``role_ws``: ``/ws/<role>`` frames: random bytes, random text, malformed and truncated JSON, wrong
  types in every field, deep and huge nesting, oversized frames, valid-looking frames of every type with
  random data (actions from the engine's vocabulary, the connection's own match ids and tokens), in any
  order, and connections that end with ``close``, a clean close or a dropped TCP socket;
* ``openenv_ws``: the OpenEnv ``/ws`` the same way, plus bursts past the in-flight limit;
* ``rest``: every ``/api/v1`` route and the root metadata routes with random methods, ids, queries,
  headers and bodies, plus a few raw malformed HTTP requests;
* ``mcp``: ``POST /mcp`` JSON-RPC bodies, valid-looking, batched, notifications and garbage.

What counts as a **server fault** (docs/protocol.md#errors, #deadlines-idling-and-limits): an HTTP 5xx other
than 503 ``capacity``; a REST error body that is not ``{"error": {"code"}}`` with a documented code; a
WebSocket frame that is not a JSON object of a documented type, an error code outside the documented set or
``fatal_error``; a close code other than 1000 (``close``), 1008 (flooding), 1009 (frame over the close
limit), 1013 (OpenEnv capacity) or 4409 (taken over); a socket dropped without a close frame; a request
left without an answer for ``reply_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import string
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.exceptions import ConnectionClosed

from fraudarena.agents import make_bot
from fraudarena.agents.client import RoleClient, play_seat
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.spec import ACTION_TYPES, CATEGORIES, ROLES, TASK_IDS, TRACK_A_FLAGS, TRACK_B_FLAGS, VERDICTS
from fraudarena.serve import frames
from fraudarena.served.errors import ErrorCode

ENDPOINT_TYPES = ("role_ws", "openenv_ws", "rest", "mcp")
ROLE_CODES = frozenset(c.value for c in ErrorCode) - {ErrorCode.FATAL_ERROR.value}
ROLE_TYPES = frozenset({"observation", "state", "error", "event", "queued"})
OPENENV_CODES = frozenset({"INVALID_JSON", "UNKNOWN_TYPE", "VALIDATION_ERROR", "EXECUTION_ERROR", "CAPACITY_REACHED"})
OK_CLOSE = frozenset({1000, 1008, 1009, 1013, 4409})
MCP_CODES = frozenset({-32700, -32600, -32601, -32602})
FAULT_SAMPLES = 20

# Settings for a fuzzed server: rates high enough that frames reach the parser, TTLs short enough that every
# match the fuzzer made is gone again within a few seconds (the leak check waits for that).
FUZZ_ARGS: dict[str, Any] = {"rate_per_s": 1e6, "rate_burst": 1_000_000, "rate_close_rejections": 1_000_000,
                             "create_per_min": 1e6, "create_burst": 1_000_000, "idle_ttl_s": 2.0,
                             "unjoined_ttl_s": 2.0, "done_linger_s": 0.5, "turn_timeout_s": 5.0,
                             "queue_timeout_s": 2.0, "queue_notify_s": 1.0, "max_live_matches": 2000,
                             "archive_capacity": 200,  # the in-memory ring fills at once: RSS growth after is a leak
                             "max_frame_bytes": 16 * 1024, "close_frame_bytes": 256 * 1024}


# ----- values ------------------------------------------------------------------------------------------
class Gen:
    """Seeded generators of hostile and valid-looking inputs."""

    def __init__(self, seed: int, max_frame_bytes: int = FUZZ_ARGS["max_frame_bytes"],
                 close_frame_bytes: int = FUZZ_ARGS["close_frame_bytes"]) -> None:
        self.r = random.Random(seed)
        self.max_frame_bytes = max_frame_bytes
        self.close_frame_bytes = close_frame_bytes
        self.match_ids: list[str] = []  # harvested from replies: valid-looking joins and REST ids
        self.tokens: list[str] = []

    # scalars and trees
    def text(self, n: int | None = None) -> str:
        r = self.r
        n = r.choice((0, 1, 3, 8, 20, 70)) if n is None else n
        pick = r.random()
        if pick < 0.5:
            return "".join(r.choice(string.printable) for _ in range(n))
        if pick < 0.8:
            return "".join(chr(r.choice((r.randint(0x80, 0x2FF), r.randint(0x4E00, 0x4FFF), r.randint(0x1F300, 0x1F5FF),
                                         0x0, 0xFEFF, 0x202E))) for _ in range(n))
        return r.choice(("", "null", "\\", '"', "\u0000", "'; DROP TABLE matches;--", "../../etc/passwd", "%00",
                         "m_" + "0" * 16, "task_1", "fraudster", "NaN", "-0", "1e400", "__error__"))

    def scalar(self) -> Any:
        r = self.r
        return r.choice((
            lambda: None, lambda: True, lambda: False, lambda: 0, lambda: -1, lambda: 2**63, lambda: -(2**63) - 1,
            lambda: 2**200, lambda: r.randint(-10, 10), lambda: r.random() * 1e6, lambda: -0.0, lambda: 1e308,
            lambda: self.text(), lambda: r.choice(TASK_IDS), lambda: r.choice(ROLES),
        ))()

    def value(self, depth: int = 0) -> Any:
        r = self.r
        if depth >= 4 or r.random() < 0.55:
            return self.scalar()
        if r.random() < 0.5:
            return [self.value(depth + 1) for _ in range(r.randint(0, 4))]
        return {self.text(r.choice((1, 5, 12))): self.value(depth + 1) for _ in range(r.randint(0, 4))}

    def nested(self, depth: int) -> Any:
        out: Any = self.scalar()
        for _ in range(depth):
            out = [out] if self.r.random() < 0.5 else {"k": out}
        return out

    def nested_text(self, depth: int) -> str:
        opener, closer = self.r.choice((("[", "]"), ('{"a":', "}")))
        return opener * depth + "1" + closer * depth

    # game-shaped data
    def action(self, role: str | None = None) -> dict[str, Any]:
        r = self.r
        role = role or r.choice(ROLES)
        kind = r.choice(ACTION_TYPES[role] + ("bogus", "END_TURN"))
        out: dict[str, Any] = {"action_type": kind}
        fields = {"category": lambda: r.choice(CATEGORIES).id if r.random() < 0.8 else self.text(),
                  "ad_copy": lambda: self.text(r.choice((0, 10, 200, 2000))),
                  "ad_id": lambda: r.choice(("ad_1", "ad_2", "p_1", "ad_0", "")) + str(r.randint(0, 99)),
                  "verdict": lambda: r.choice((*VERDICTS, "maybe")),
                  "target": lambda: self.text(8),
                  "account_ids": lambda: [self.text(6) for _ in range(r.randint(0, 4))],
                  "flag": lambda: r.choice(TRACK_A_FLAGS + TRACK_B_FLAGS + ("bias", "miscalibration", "nope")),
                  "rationale": lambda: self.text(r.choice((0, 30, 600))),
                  "confidence": lambda: r.choice((0.0, 0.5, 1.0, 1.5, -1, "high"))}
        for name in r.sample(sorted(fields), r.randint(0, 4)):
            out[name] = fields[name]()
        if r.random() < 0.15:
            out[self.text(5)] = self.value()
        return out

    def reset_data(self) -> dict[str, Any]:
        r = self.r
        out: dict[str, Any] = {}
        options = {"task_id": lambda: r.choice((*TASK_IDS, "task_9", "")),
                   "seed": lambda: r.choice((r.randint(0, 10**6), -5, 2**64, "7", 1.5)),
                   "max_rounds": lambda: r.randint(-1, 12), "max_proposals": lambda: r.randint(-1, 40),
                   "max_fraudster_actions_per_turn": lambda: r.randint(0, 9),
                   "max_investigator_actions_per_turn": lambda: r.randint(0, 20),
                   "allowed_categories": lambda: [r.choice(CATEGORIES).id for _ in range(r.randint(0, 5))],
                   "house_bots": lambda: {r.choice((*ROLES, "nobody")): r.choice(("scripted", "random", "policy:x",
                                                                                   "llm:y", "human"))
                                          for _ in range(r.randint(0, 2))},
                   "episode_id": lambda: self.value()}
        for name in r.sample(sorted(options), r.randint(0, 4)):
            out[name] = options[name]()
        return out

    def known_id(self) -> str:
        r = self.r
        if self.match_ids and r.random() < 0.6:
            return r.choice(self.match_ids)
        return r.choice(("m_" + "".join(r.choice("0123456789abcdef") for _ in range(16)), self.text(), "m_", "x" * 65))

    def known_token(self) -> str | None:
        if self.tokens and self.r.random() < 0.5:
            return self.r.choice(self.tokens)
        return self.r.choice((None, self.text(43), "", "x" * 300))

    def harvest(self, data: Any) -> None:
        """Remember match ids and seat tokens seen in a reply (for later valid-looking joins and ids)."""
        if not isinstance(data, dict):
            return
        mid = data.get("match_id")
        if isinstance(mid, str) and mid.startswith("m_") and len(self.match_ids) < 64:
            self.match_ids.append(mid)
        for tok in (data.get("seat_tokens") or {}).values() if isinstance(data.get("seat_tokens"), dict) else ():
            if isinstance(tok, str) and len(self.tokens) < 64:
                self.tokens.append(tok)

    # malformed text
    def mutate(self, text: str) -> str:
        r = self.r
        if not text:
            return r.choice(("{", "[", '"'))
        ops = r.randint(1, 4)
        chars = list(text)
        for _ in range(ops):
            i = r.randrange(len(chars) + 1)
            op = r.random()
            if op < 0.35 and chars:
                del chars[min(i, len(chars) - 1)]
            elif op < 0.7:
                chars.insert(i, r.choice('{}[]",:\\ 0eE-+.tfn\x00\x7f'))
            elif chars:
                chars[min(i, len(chars) - 1)] = r.choice(string.printable)
        return "".join(chars)

    def malformed(self, valid: str) -> str:
        r = self.r
        pick = r.random()
        if pick < 0.3:
            return valid[: r.randrange(len(valid))] if valid else "{"
        if pick < 0.75:
            return self.mutate(valid)
        return r.choice(("", " ", "{", "}", "[1,", '{"type":}', '{"type":"step",', "NaN", "Infinity", "-Infinity",
                         '{"type":"step","data":{"x":NaN}}', '{"type":"reset","data":{"seed":1e999}}', "\ufeff{}",
                         '{"type":"obs"}{"type":"obs"}', '{"type":"obs",,}', "'{}'", "nul", "[]", "1", '"obs"',
                         '{"type":"state","data":' + '"' + "\\u" * 3 + '"}', '{"type":"\\ud800"}'))

    def huge(self) -> str:
        """Big but legal-depth JSON: a wide array, a long string, or a long object; some past the frame limit."""
        r = self.r
        size = r.choice((self.max_frame_bytes // 2, self.max_frame_bytes - 64, self.max_frame_bytes + 1,
                         self.max_frame_bytes * 2))
        pick = r.random()
        if pick < 0.33:
            return json.dumps({"type": "step", "data": {"action_type": "end_turn", "pad": "x" * size}})
        if pick < 0.66:
            return json.dumps({"type": "reset", "data": {"allowed_categories": [0] * (size // 2)}})
        return json.dumps({"type": "obs", "id": 1, **{f"k{i}": i for i in range(size // 12)}})

    def deep(self) -> str:
        """Nesting around and far beyond ``max_json_depth`` (64), inside a frame or bare."""
        r = self.r
        depth = r.choice((60, 63, 64, 65, 66, 200, 990, 5000, 20000))
        if r.random() < 0.5:
            return self.nested_text(depth)
        inner = self.nested_text(depth)
        return r.choice(('{"type":"step","data":{"x":%s}}', '{"type":"reset","data":{"seed":%s}}',
                         '{"type":%s}', '{"id":%s,"type":"obs"}')) % inner

    # frames
    def role_frame(self, role: str) -> str | bytes:
        """One frame for a role socket: a mix of hostile and valid-looking, in any order."""
        r = self.r
        pick = r.random()
        if pick < 0.002:  # past the close limit: the socket is closed 1009
            return r.choice(("x" * (self.close_frame_bytes + 1), b"\0" * (self.close_frame_bytes + 1)))
        if pick < 0.06:
            return r.randbytes(r.choice((0, 1, 16, 300)))
        if pick < 0.12:
            return self.text(r.choice((0, 5, 100)))
        if pick < 0.30:
            return self.malformed(json.dumps(self.role_object(role)))
        if pick < 0.38:
            return self.deep()
        if pick < 0.41:
            return self.huge()
        if pick < 0.55:
            return json.dumps(self.wrong_types(self.role_object(role)))
        if pick < 0.62:
            return json.dumps(self.value())
        return json.dumps(self.role_object(role))

    def role_object(self, role: str) -> dict[str, Any]:
        r = self.r
        kind = r.choices(("step", "obs", "state", "join", "reset", "queue", "close", "bogus"),
                         weights=(40, 12, 10, 14, 6, 3, 1, 4))[0]
        frame: dict[str, Any] = {"type": kind if kind != "bogus" else self.text(6)}
        if kind == "step":
            frame["data"] = self.action(role if r.random() < 0.8 else None)
            if r.random() < 0.5:
                frame["seq"] = r.choice((0, 1, r.randint(2, 50), 2**63 - 1))
        elif kind == "join":
            frame["data"] = {"match_id": self.known_id(), "token": self.known_token(),
                             "takeover": r.random() < 0.2}
        elif kind == "reset":
            frame["data"] = self.reset_data()
        elif kind == "queue":
            frame["data"] = {"role": role if r.random() < 0.7 else r.choice(ROLES), "task_id": r.choice(TASK_IDS)}
        elif r.random() < 0.2:
            frame["data"] = r.choice(({}, None, {"x": 1}))
        if r.random() < 0.6:
            frame["id"] = r.choice((r.randint(0, 10**6), self.text(8), 2**63, -1, None))
        return frame

    def wrong_types(self, obj: dict[str, Any]) -> Any:
        """The same frame with one or more fields (top level or in ``data``) replaced by random values."""
        r = self.r
        out = dict(obj)
        target = out
        if isinstance(out.get("data"), dict) and out["data"] and r.random() < 0.6:
            target = out["data"] = dict(out["data"])
        keys = list(target) or ["type"]
        for _ in range(r.randint(1, 2)):
            target[r.choice(keys)] = self.value()
        return out

    def openenv_frame(self) -> str | bytes:
        r = self.r
        pick = r.random()
        if pick < 0.05:
            return r.randbytes(r.choice((0, 1, 16, 300)))
        if pick < 0.10:
            return self.text(r.choice((0, 5, 100)))
        if pick < 0.28:
            return self.malformed(json.dumps(self.openenv_object()))
        if pick < 0.36:
            return self.deep()
        if pick < 0.39:
            return self.huge()
        if pick < 0.52:
            return json.dumps(self.wrong_types(self.openenv_object()))
        if pick < 0.58:
            return json.dumps(self.value())
        return json.dumps(self.openenv_object())

    def openenv_object(self) -> dict[str, Any]:
        r = self.r
        kind = r.choices(("step", "state", "reset", "close", "obs", "bogus"), weights=(60, 12, 6, 1, 4, 4))[0]
        frame: dict[str, Any] = {"type": kind if kind != "bogus" else self.text(6)}
        if kind == "step":
            frame["data"] = self.action("investigator" if r.random() < 0.85 else None)
        elif kind == "reset":
            data = self.reset_data()
            data.pop("house_bots", None)
            if r.random() < 0.3:
                data[r.choice(("fraudster", "auditor"))] = r.choice(("scripted", "random", "policy:x", 3, "human"))
            frame["data"] = data
        elif r.random() < 0.3:
            frame["data"] = r.choice(({}, None, [], "x"))
        return frame

    # HTTP
    def rest_request(self) -> tuple[str, str, dict[str, str], dict[str, str], bytes | None]:
        """(method, path, query, headers, body) for one REST request."""
        r = self.r
        mid = self.known_id()
        paths = ["/api/v1/info", "/api/v1/tasks", "/api/v1/health", "/api/v1/matches", "/api/v1/matches",
                 f"/api/v1/matches/{mid}", f"/api/v1/matches/{mid}/events", f"/api/v1/matches/{mid}/report",
                 "/api/v1/archive", "/health", "/metadata", "/schema", "/openapi.json", "/",
                 "/api/v1/" + self.text(6), "/api/v1/matches/" + "a" * r.choice((1, 300, 5000)),
                 "/api/v1/matches/%2e%2e/%2e%2e", "/api/v1/matches//events", "/api/v2/info"]
        path = r.choice(paths)
        if path == "/api/v1/matches" and r.random() < 0.6:
            method = "POST"
        elif path.startswith("/api/v1/matches/") and r.random() < 0.25:
            method = "DELETE"
        else:
            method = r.choices(("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"),
                               weights=(60, 15, 8, 4, 4, 5, 4))[0]
        query: dict[str, str] = {}
        if r.random() < 0.3:
            query["limit"] = r.choice(("1", "1000", "1001", "0", "-1", "abc", "1e3", "", "9" * 40))
        if r.random() < 0.1:
            query[self.text(4)] = self.text(8)
        headers: dict[str, str] = {}
        if r.random() < 0.4:
            token = self.known_token() or ""
            headers["authorization"] = r.choice((f"Bearer {token}", "Bearer", "Basic abc", token, "bearer  x "))
        if r.random() < 0.2:
            headers["content-type"] = r.choice(("text/plain", "application/x-www-form-urlencoded",
                                                "multipart/form-data", "application/json; charset=latin-1"))
        body = None
        if method in ("POST", "PUT", "PATCH", "DELETE") and r.random() < 0.9:
            body = self.http_body(lambda: self.reset_data())
        # What an HTTP client can send at all: percent-encoded paths, printable ASCII header values.
        path = urllib.parse.quote(path, safe="/%")
        headers = {k: "".join(c for c in v.encode("ascii", "backslashreplace").decode() if " " <= c < "\x7f").strip()
                   for k, v in headers.items()}
        return method, path, query, headers, body

    def http_body(self, valid) -> bytes:
        r = self.r
        pick = r.random()
        if pick < 0.35:
            return json.dumps(valid()).encode()
        if pick < 0.55:
            return json.dumps(self.wrong_types(valid() or {"seed": 1})).encode()
        if pick < 0.7:
            return self.malformed(json.dumps(valid())).encode("utf-8", "surrogatepass")
        if pick < 0.8:
            return self.deep().encode()
        if pick < 0.85:
            return self.huge().encode()
        if pick < 0.92:
            return r.randbytes(r.choice((1, 64, 1000)))
        return json.dumps(self.value()).encode()

    def mcp_body(self) -> bytes:
        r = self.r

        def rpc() -> dict[str, Any]:
            method = r.choice(("initialize", "ping", "tools/list", "tools/call", "tools/call", "resources/list",
                               "notifications/initialized", self.text(6)))
            out: dict[str, Any] = {"jsonrpc": r.choice(("2.0", "2.0", "2.0", "1.0", 2)), "method": method}
            if r.random() < 0.85:
                out["id"] = r.choice((r.randint(0, 10**6), self.text(6), None, 1.5, [1], 2**70))
            if method == "tools/call":
                name = r.choice(("arena_info", "list_tasks", "list_live_matches", "get_match", "match_report",
                                 self.text(5)))
                args = r.choice(({}, {"match_id": self.known_id()}, {"match_id": self.value()}, self.value()))
                out["params"] = {"name": name, "arguments": args}
            elif r.random() < 0.3:
                out["params"] = self.value()
            return out

        if r.random() < 0.08:
            return json.dumps([rpc() for _ in range(r.randint(0, 3))]).encode()
        return self.http_body(rpc)


# ----- results -----------------------------------------------------------------------------------------
@dataclass
class Tally:
    """Per endpoint type: inputs tried, answers by kind, and server faults (with a few samples)."""

    tried: int = 0
    faults: int = 0
    fault_samples: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    connections: int = 0

    def answer(self, kind: str) -> None:
        self.answers[kind] = self.answers.get(kind, 0) + 1

    def fault(self, what: str) -> None:
        self.faults += 1
        if len(self.fault_samples) < FAULT_SAMPLES:
            self.fault_samples.append(what[:400])

    def merge(self, other: Tally) -> None:
        self.tried += other.tried
        self.faults += other.faults
        self.connections += other.connections
        self.fault_samples.extend(other.fault_samples[: FAULT_SAMPLES - len(self.fault_samples)])
        for k, v in other.answers.items():
            self.answers[k] = self.answers.get(k, 0) + v

    def as_dict(self) -> dict[str, Any]:
        return {"tried": self.tried, "faults": self.faults, "connections": self.connections,
                "answers": dict(sorted(self.answers.items(), key=lambda kv: -kv[1])),
                "fault_samples": self.fault_samples}


def _show(x: Any) -> str:
    s = x if isinstance(x, str) else repr(x)
    return s[:160] + ("…" if len(s) > 160 else "")


# ----- WebSocket drivers -------------------------------------------------------------------------------
async def _recv(ws, timeout: float) -> Any:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(raw)


def _check_close(tally: Tally, rcvd: Any, sent: Any) -> None:
    """Judge how the server closed a socket (``rcvd``: the close frame it sent, None when it sent none)."""
    if rcvd is None:
        tally.fault(f"socket dropped without a close frame after {_show(sent)}")
        tally.answer("close:none")
        return
    tally.answer(f"close:{rcvd.code}")
    if rcvd.code not in OK_CLOSE:
        tally.fault(f"close code {rcvd.code} ({rcvd.reason!r}) after {_show(sent)}")


def _check_role_frame(tally: Tally, gen: Gen, frame: Any, sent: Any) -> bool:
    """Validate one server frame of a role socket; True when it is an answer (not a pushed event)."""
    if not isinstance(frame, dict) or frame.get("type") not in ROLE_TYPES:
        tally.fault(f"undocumented frame {_show(frame)} after {_show(sent)}")
        return True
    kind = frame["type"]
    if kind == "event":
        return False
    data = frame.get("data")
    if kind == "error":
        code = data.get("code") if isinstance(data, dict) else None
        tally.answer(f"error:{code}")
        if code not in ROLE_CODES:
            tally.fault(f"error code {code!r} after {_show(sent)}: {_show(data)}")
    else:
        tally.answer(kind)
        gen.harvest(data)
    return kind != "queued" or "id" in frame


async def role_connection(url: str, gen: Gen, tally: Tally, frames_left: int, reply_timeout_s: float) -> int:
    """One role socket: send up to ``frames_left`` fuzzed frames one at a time; returns how many were sent."""
    r = gen.r
    role = r.choice(ROLES)
    suffix = r.choice(("", "", "", "?events=0", "?events=1", "?events=" + urllib.parse.quote(gen.text(3))))
    n = min(frames_left, r.choice((1, 5, 20, 60, 200)))
    sent = 0
    frame: Any = None
    tally.connections += 1
    async with websockets.connect(f"{url}/ws/{role}{suffix}", max_size=None, open_timeout=30,
                                  close_timeout=5, ping_interval=None) as ws:
        try:
            for _ in range(n):
                frame = gen.role_frame(role)
                await ws.send(frame)
                sent += 1
                tally.tried += 1
                while True:
                    try:
                        reply = await _recv(ws, reply_timeout_s)
                    except TimeoutError:
                        if _is_close_frame(frame):  # a valid close gets no reply: the socket closes (1000)
                            break
                        tally.fault(f"no answer within {reply_timeout_s} s to {_show(frame)}")
                        return sent
                    if _check_role_frame(tally, gen, reply, frame):
                        break
            end = r.random()
            if end < 0.3:
                ws.transport.abort()  # a dropped TCP connection, no close frame
            elif end < 0.5:
                await ws.send(json.dumps({"type": "close"}))
                with contextlib.suppress(TimeoutError):
                    while True:
                        frame = await _recv(ws, reply_timeout_s)
                        _check_role_frame(tally, gen, frame, "close")
        except ConnectionClosed as exc:
            _check_close(tally, exc.rcvd, frame)
    return sent


def _is_close_frame(frame: Any) -> bool:
    if not isinstance(frame, str):
        return False
    try:
        obj = frames.loads(frame)  # the server's decoder: too deep is not a close
    except frames.ProtocolError:
        return False
    return isinstance(obj, dict) and obj.get("type") == "close"


def _check_openenv_frame(tally: Tally, gen: Gen, frame: Any, sent: Any) -> None:
    if not isinstance(frame, dict) or frame.get("type") not in ("observation", "state", "error"):
        tally.fault(f"undocumented OpenEnv frame {_show(frame)} after {_show(sent)}")
        return
    data = frame.get("data")
    if frame["type"] == "error":
        code = data.get("code") if isinstance(data, dict) else None
        reason = data.get("reason") if isinstance(data, dict) else None
        tally.answer(f"error:{code}" + (f":{reason}" if reason else ""))
        if code not in OPENENV_CODES or reason == "fatal_error":
            tally.fault(f"OpenEnv error {code!r}/{reason!r} after {_show(sent)}: {_show(data)}")
        return
    tally.answer(frame["type"])
    if frame["type"] == "observation" and not (isinstance(data, dict) and isinstance(data.get("observation"), dict)):
        tally.fault(f"OpenEnv observation without an observation: {_show(frame)}")


async def openenv_connection(url: str, gen: Gen, tally: Tally, frames_left: int, reply_timeout_s: float,
                             max_pending: int = 8) -> int:
    """One ``/ws`` connection: fuzzed frames, one at a time or in bursts (past the in-flight limit)."""
    r = gen.r
    n = min(frames_left, r.choice((1, 5, 20, 60, 200)))
    sent = 0
    tally.connections += 1
    frame: Any = None
    async with websockets.connect(f"{url}/ws", max_size=None, open_timeout=30, close_timeout=5,
                                  ping_interval=None) as ws:
        try:
            while sent < n:
                burst = 1 if r.random() < 0.9 else min(n - sent, r.randint(2, 2 * max_pending + 4))
                batch = [gen.openenv_frame() for _ in range(burst)]
                for frame in batch:
                    await ws.send(frame)
                sent += len(batch)
                tally.tried += len(batch)
                for frame in batch:
                    # Every frame gets one answer in order, or (a ``close`` that was executed) the 1000 close; a
                    # close past the in-flight limit is refused like any other frame (too_many_pending).
                    try:
                        reply = await _recv(ws, reply_timeout_s)
                    except TimeoutError:
                        tally.fault(f"OpenEnv: no answer within {reply_timeout_s} s to {_show(frame)}")
                        return sent
                    _check_openenv_frame(tally, gen, reply, frame)
            if r.random() < 0.3:
                ws.transport.abort()
        except ConnectionClosed as exc:
            _check_close(tally, exc.rcvd, frame)
    return sent


async def ws_worker(kind: str, url: str, seed: int, budget: list[int], tally: Tally, reply_timeout_s: float) -> None:
    """Open connection after connection until the shared ``budget`` of frames is spent."""
    gen = Gen(seed)
    while budget[0] > 0:
        take = min(budget[0], 200)
        budget[0] -= take
        try:
            if kind == "role_ws":
                used = await role_connection(url, gen, tally, take, reply_timeout_s)
            else:
                used = await openenv_connection(url, gen, tally, take, reply_timeout_s)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            tally.fault(f"{kind}: connection failed: {exc!r}")
            used = 0
            await asyncio.sleep(0.1)
        budget[0] += take - used


# ----- HTTP drivers ------------------------------------------------------------------------------------
def _check_http(tally: Tally, resp: Resp, what: str, mcp: bool) -> None:
    status = resp.status_code
    body: Any = None
    if resp.content:
        try:
            body = resp.json()
        except ValueError:
            body = None
    if mcp and status == 200:
        err = body.get("error") if isinstance(body, dict) else None
        tally.answer("rpc:error:" + str(err.get("code")) if isinstance(err, dict) else "rpc:result")
        if not isinstance(body, dict) or body.get("jsonrpc") != "2.0" or ("result" in body) == (err is not None):
            tally.fault(f"MCP: not a JSON-RPC answer: {_show(body)} to {what}")
        elif err is not None and err.get("code") not in MCP_CODES:
            tally.fault(f"MCP error {err.get('code')} to {what}: {_show(err)}")
        return
    tally.answer(str(status))
    if status >= 500 and not (status == 503 and _code(body) == "capacity"):
        tally.fault(f"HTTP {status} {_show(resp.text)} to {what}")
        return
    if status >= 400 and _code(body) is not None and _code(body) not in ROLE_CODES:
        tally.fault(f"HTTP {status}: undocumented error code {_code(body)!r} to {what}")
    if status >= 400 and _code(body) is None and status not in (404, 405) and not mcp:
        # 404/405 from the router for paths/methods that exist nowhere are the framework's {"detail": ...}
        tally.fault(f"HTTP {status} without a typed error body: {_show(resp.text)} to {what}")


def _code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


class Resp:
    """An HTTP answer: status, body bytes (``json()``, ``text`` as httpx spells them)."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on one loopback connection (httpx costs ~4x the CPU per request,
    which would make the client, not the server, the fuzzer's bottleneck)."""

    def __init__(self, http: str, timeout_s: float) -> None:
        host, port = http.removeprefix("http://").split(":")
        self.host, self.port, self.timeout_s = host, int(port), timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                      body: bytes | None) -> Resp:
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        for attempt in range(2):  # once more on a fresh connection if the server had closed the idle one
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(raw)
                return await asyncio.wait_for(self._read(method), self.timeout_s)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read(self, method: str) -> Resp:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        hdrs = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        content = b""
        if method != "HEAD" and status not in (204, 304) and not 100 <= status < 200:
            if "content-length" in hdrs:
                content = await self.reader.readexactly(int(hdrs["content-length"]))
            elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while (size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readexactly(2)
                await self.reader.readuntil(b"\r\n")
                content = b"".join(parts)
            else:
                content = await self.reader.read()
                await self.close()
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
        return Resp(status, content)


async def http_worker(kind: str, http: str, seed: int, budget: list[int], tally: Tally, timeout_s: float) -> None:
    """Send fuzzed REST (``kind='rest'``) or MCP requests until the shared ``budget`` is spent."""
    gen = Gen(seed)
    client = RawHttp(http, timeout_s)
    tally.connections += 1
    try:
        while budget[0] > 0:
            budget[0] -= 1
            tally.tried += 1
            if kind == "rest":
                if gen.r.random() < 0.01:
                    await asyncio.to_thread(raw_http_garbage, http, gen, tally, timeout_s)
                    continue
                method, path, query, headers, body = gen.rest_request()
                what = f"{method} {path[:80]} {_show(body)}"
            else:
                method, path, query = "POST", "/mcp", {}
                headers = {"content-type": "application/json"} if gen.r.random() < 0.9 else {}
                body = gen.mcp_body()
                what = f"POST /mcp {_show(body)}"
            try:
                resp = await client.request(method, path, query, headers, body)
            except TimeoutError:
                tally.fault(f"no answer within {timeout_s} s to {what}")
                await client.close()
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.fault(f"transport error {exc!r} on {what}")
                await client.close()
                continue
            with contextlib.suppress(ValueError):
                payload = resp.json()
                if isinstance(payload, dict):
                    gen.harvest(payload)
            _check_http(tally, resp, what, mcp=(kind == "mcp"))
    finally:
        await client.close()


def raw_http_garbage(http: str, gen: Gen, tally: Tally, timeout_s: float) -> None:
    """One malformed HTTP/1.1 request on a raw socket: the answer must be a 4xx (or a closed connection)."""
    host, port = http.removeprefix("http://").split(":")
    r = gen.r
    request = r.choice((
        b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/v1/matches HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n{}",
        b"GARBAGE\r\n\r\n", r.randbytes(200),
        b"GET /" + bytes(r.choice(range(1, 32)) for _ in range(5)) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /api/v1/info HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n",
    ))
    with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            data = s.recv(64)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except TimeoutError:
            tally.fault(f"raw HTTP: no answer within {timeout_s} s to {request[:60]!r}")
            return
    status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else b"closed"
    tally.answer(f"raw:{status.decode(errors='replace')}")
    if status.startswith(b"5"):
        tally.fault(f"raw HTTP {status!r} to {request[:60]!r}")


# ----- the whole run -----------------------------------------------------------------------------------
async def fuzz(url: str, http: str, per_type: dict[str, int], seed: int = 0, workers: int = 8,
               reply_timeout_s: float = 20.0) -> dict[str, Tally]:
    """Fuzz every endpoint type at once with ``per_type[kind]`` inputs; a ``Tally`` per kind."""
    tallies = {k: Tally() for k in per_type}
    tasks = []
    for i, (kind, n) in enumerate(per_type.items()):
        budget = [n]
        for w in range(workers):
            wseed = seed * 1_000_003 + i * 1000 + w
            if kind in ("role_ws", "openenv_ws"):
                tasks.append(ws_worker(kind, url, wseed, budget, tallies[kind], reply_timeout_s))
            else:
                tasks.append(http_worker(kind, http, wseed, budget, tallies[kind], reply_timeout_s))
    await asyncio.gather(*tasks)
    return tallies


class ServerLog(logging.Handler):
    """Counts error records of an in-process server (uvicorn's "Exception in ASGI application", the
    sessions' ``log.exception``): each is a server fault even when no client saw it."""

    LOGGERS = ("uvicorn.error", "fraudarena")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()} {record.exc_info[1]!r}"
                            if record.exc_info else f"{record.name}: {record.getMessage()}")

    def __enter__(self) -> ServerLog:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


async def normal_match(url: str, seed: int = 11) -> dict[str, Any]:
    """A full task_1 match of the scripted bots over three role sockets; the final observation by role."""
    clients = {r: RoleClient(url, r) for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        obs = {"fraudster": await clients["fraudster"].reset(task_id="task_1", seed=seed)}
        tokens, mid = obs["fraudster"]["seat_tokens"], obs["fraudster"]["match_id"]
        for r in ("investigator", "auditor"):
            obs[r] = await clients[r].join(mid, tokens[r])
        bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}
        finals = await asyncio.wait_for(asyncio.gather(*(play_seat(clients[r], bots[r], obs[r]) for r in ROLES)), 120)
        return dict(zip(ROLES, finals, strict=True))
    finally:
        for c in clients.values():
            await c.close()


# ----- leak probes -------------------------------------------------------------------------------------
def live_matches(http: str) -> int:
    return int(httpx.get(f"{http}/api/v1/health", timeout=30).json()["live_matches"])


def wait_live_matches(http: str, at_most: int, timeout_s: float) -> int:
    """Wait until the server holds at most ``at_most`` live matches; the count at the end."""
    deadline = time.monotonic() + timeout_s
    n = live_matches(http)
    while n > at_most and time.monotonic() < deadline:
        time.sleep(0.25)
        n = live_matches(http)
    return n


def established_connections(port: int) -> int:
    """TCP connections in ESTABLISHED state whose local port is ``port`` (the server's side), IPv4 and IPv6."""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    n += 1
    return n


def wait_connections(port: int, at_most: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    n = established_connections(port)
    while n > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
        n = established_connections(port)
    return n


def rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
