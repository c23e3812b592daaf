"""LLM agents: the ``llm:<model>`` bot kind, played by any OpenAI-compatible chat endpoint.

``make_bot("llm:<model>", role, seed)`` builds an :class:`LLMBot` that asks the model at
``FRAUDARENA_LLM_URL`` (default ``http://127.0.0.1:8080/v1``) for each move; ``llm:<model>@<base url>``
names the endpoint in the kind itself. See :mod:`.bot` for the re-ask / fallback / retry policy and the
statistics, :mod:`.prompts` for what the model is shown, :mod:`.client` for the HTTP side.
"""

from .bot import (
    DEFAULT_URL,
    KEY_ENVS,
    URL_ENV,
    LLMBot,
    LLMStats,
    legality_error,
    make_llm_bot,
    parse_json_object,
    parse_kind,
    safe_action,
)
from .client import ChatClient, ChatResult, LLMError

PREFIX = "llm:"


def register() -> None:
    """Register the ``llm:`` prefix with ``make_bot`` (done on import of :mod:`fraudarena.agents`)."""
    from fraudarena.agents.play import register_bot_kind

    register_bot_kind(PREFIX, make_llm_bot)


__all__ = [
    "DEFAULT_URL",
    "KEY_ENVS",
    "PREFIX",
    "URL_ENV",
    "ChatClient",
    "ChatResult",
    "LLMBot",
    "LLMError",
    "LLMStats",
    "legality_error",
    "make_llm_bot",
    "parse_json_object",
    "parse_kind",
    "register",
    "safe_action",
]
