"""A small blocking client for OpenAI-compatible ``POST {base_url}/chat/completions`` endpoints.

Plain ``httpx`` rather than the ``openai`` package: the bot needs its own, countable retry policy
(exponential backoff on connection errors, timeouts, 429 and 5xx; no retry on other 4xx), one timeout per
request, the ``usage`` numbers of every answer, and nothing else; ``openai`` would add its own hidden
retries on top and a heavier dependency for one POST. Any server that speaks the chat-completions protocol
works (llama.cpp / llama-cpp-python, vLLM, Ollama, LM Studio, OpenAI itself).

The API key is read from an environment variable by the caller and only ever sent in the
``Authorization`` header: it is not stored in errors, ``repr`` or statistics.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""HTTP statuses that are retried (besides any other 5xx)."""

RESPONSE_FORMATS = ("json_schema", "schema", "json_object", "none")
"""How the answer is constrained, strongest first; a server that refuses one (HTTP 400/422) gets the next:

* ``json_schema``: OpenAI structured outputs, ``{"type": "json_schema", "json_schema": {"name": "action",
  "schema": S, "strict": false}}`` (OpenAI, vLLM, Ollama, LM Studio, llama.cpp's own server);
* ``schema``: ``{"type": "json_object", "schema": S}`` (llama-cpp-python's server, Anyscale);
* ``json_object``: ``{"type": "json_object"}``, any JSON object (JSON mode);
* ``none``: no ``response_format`` at all.

Without a schema S for the request, the first two send ``json_object``. A refusal is a 400/422 or any error
answer that names ``response_format`` (llama-cpp-python's server answers ``json_schema`` with such a 500).
"""


class LLMError(RuntimeError):
    """The endpoint gave no usable answer (after retries, or a non-retryable error)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.body = body

    @property
    def refuses_response_format(self) -> bool:
        """The server refused the request's ``response_format``: a 400/422, or an error that names it
        (llama-cpp-python's server answers an unknown ``response_format.type`` with a 500 that does)."""
        return self.status in (400, 422) or (self.status is not None and "response_format" in self.body)


@dataclass
class ChatResult:
    """One completion: its text and the token usage the server reported (0 when it reported none)."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class RequestCounters:
    """What the client did on the wire (cumulative)."""

    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    http_errors: int = 0
    format_downgrades: int = 0


class ChatClient:
    """``complete(messages)`` → :class:`ChatResult`, with a per-request timeout and retries with backoff.

    ``max_retries`` is the number of extra attempts after the first (so ``max_retries=2`` sends at most
    three requests); the wait before retry k (1-based) is ``backoff_s * 2**(k-1)`` capped at
    ``max_backoff_s``, with up to 10 % jitter from a seeded RNG. ``response_format`` is the strongest
    answer constraint to try (:data:`RESPONSE_FORMATS`); when the server refuses it, the same
    request is sent at once with the next one, which then stays in force for this client
    (``counters.format_downgrades``; not a retry).
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 60.0,
                 max_retries: int = 2, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 response_format: str = "json_schema", seed: int | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format!r}")
        self.response_format = response_format
        self.seed = seed
        self.counters = RequestCounters()
        self._sleep = sleep
        self._rng = random.Random(seed)
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(timeout=httpx.Timeout(self.timeout), headers=headers)

    def __repr__(self) -> str:  # never shows the key
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout})"

    @property
    def url(self) -> str:
        """The chat-completions URL."""
        return f"{self.base_url}/chat/completions"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1))
        return base * (1.0 + 0.1 * self._rng.random())

    def _body(self, messages: list[dict[str, str]], temperature: float, max_tokens: int,
              schema: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "max_tokens": max_tokens, "stream": False}
        if self.seed is not None:
            body["seed"] = self.seed
        fmt = self.response_format
        if schema is None and fmt in ("json_schema", "schema"):
            fmt = "json_object"
        if fmt == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "action", "schema": schema, "strict": False}}
        elif fmt == "schema":
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif fmt == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, messages: list[dict[str, str]], *, temperature: float = 0.0, max_tokens: int = 400,
                 schema: dict[str, Any] | None = None) -> ChatResult:
        """One chat completion, its answer constrained to ``schema`` where the server supports that.

        Raises :class:`LLMError` once retries are spent or on a non-retryable error.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._once(messages, temperature, max_tokens, schema)
                result.attempts = attempt
                return result
            except LLMError as exc:
                if exc.refuses_response_format and self.response_format != "none":
                    # The server refuses this response_format: ask again at once with the next one.
                    self.response_format = RESPONSE_FORMATS[RESPONSE_FORMATS.index(self.response_format) + 1]
                    self.counters.format_downgrades += 1
                    attempt -= 1
                    continue
                if not exc.retryable or attempt > self.max_retries:
                    raise
                self.counters.retries += 1
                self._sleep(self.backoff(attempt))

    def _once(self, messages: list[dict[str, str]], temperature: float, max_tokens: int,
              schema: dict[str, Any] | None) -> ChatResult:
        self.counters.requests += 1
        try:
            resp = self._http.post(self.url, json=self._body(messages, temperature, max_tokens, schema))
        except httpx.TimeoutException:
            self.counters.timeouts += 1
            raise LLMError(f"no answer from {self.url} within {self.timeout:g} s", retryable=True) from None
        except httpx.TransportError as exc:
            self.counters.connection_errors += 1
            raise LLMError(f"cannot reach {self.url}: {type(exc).__name__}: {exc}", retryable=True) from None
        if resp.status_code != 200:
            self.counters.http_errors += 1
            retryable = resp.status_code in RETRY_STATUS or resp.status_code >= 500
            raise LLMError(f"{self.url} answered HTTP {resp.status_code}: {resp.text[:200]}",
                           status=resp.status_code, retryable=retryable, body=resp.text[:4000])
        try:
            data = resp.json()
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            self.counters.http_errors += 1
            raise LLMError(f"{self.url} answered 200 without a chat completion: {resp.text[:200]}",
                           status=200, retryable=True) from None
        usage = data.get("usage") or {}
        return ChatResult(content=str(content), prompt_tokens=int(usage.get("prompt_tokens") or 0),
                          completion_tokens=int(usage.get("completion_tokens") or 0), raw=data)
