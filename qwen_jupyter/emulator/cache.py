"""The context cache on Chat Completions, as the service reports it in `usage.prompt_tokens_details`.

Explicit: a content part marked `cache_control: {"type": "ephemeral"}` caches the messages from the start up to
that mark, when they are at least 1,024 tokens, for 5 minutes from the last hit. The request that writes it
reports `cache_creation_input_tokens` (and `cache_write_tokens`, `cache_creation.ephemeral_5m_input_tokens`, with
`cache_type: "ephemeral"`, as captured in shared/reference/dashscope-api.md §1.6); a later one with the same
prefix reports them as `cached_tokens`. Implicit (a model with the cache, no mark): the messages before the last
user message, from 256 tokens, are cached after the first request and hit from the second, reported in
`cached_tokens` alone. Batch requests never read the cache (the Batch API gives no cache discount).

What is not known: whether a hit that writes nothing reports the creation fields as 0 or leaves them out (here:
0); how much of a prefix the implicit cache keeps (here: all of it, every time: the service does not promise
hits).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from ..core.prices import EXPLICIT_MIN_TOKENS, explicit_cache
from .replies import count_tokens

IMPLICIT_MIN_TOKENS = 256
TTL = 300.0  # seconds an explicit cache lives after it is written or hit
MARK = {"type": "ephemeral"}


def _text(message: dict[str, Any], upto: int | None = None) -> str:
    content = message.get("content")
    if isinstance(content, list):
        parts = content if upto is None else content[:upto + 1]
        return "".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))
    return str(content or "")


def _marked(messages: list[Any]) -> tuple[int, int] | None:
    """The last content part carrying the explicit cache's mark, as (message, part), or None."""
    found = None
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for p, part in enumerate(content if isinstance(content, list) else ()):
            if isinstance(part, dict) and part.get("cache_control") == MARK:
                found = (m, p)
    return found


def _key(model: str, messages: list[Any]) -> str:
    return hashlib.sha256(json.dumps([model, messages], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def details(caches: dict[str, float], model: str, messages: list[Any], prompt_tokens: int) -> dict[str, Any]:
    """The request's prompt_tokens_details, noting in `caches` (key -> expiry) what it writes or reads."""
    now = time.monotonic()
    marked = _marked(messages)
    if marked is not None:
        m, p = marked
        prefix = [*messages[:m], {**messages[m], "content": messages[m]["content"][:p + 1]}]
        tokens = sum(count_tokens(_text(message)) for message in prefix)
        if tokens < EXPLICIT_MIN_TOKENS or not explicit_cache(model):
            return {"cached_tokens": 0}
        key = "explicit:" + _key(model, prefix)
        hit = caches.get(key, 0.0) > now
        caches[key] = now + TTL
        written = 0 if hit else tokens
        return {"cached_tokens": tokens if hit else 0, "cache_type": "ephemeral",
                "cache_creation_input_tokens": written, "cache_write_tokens": written,
                "cache_creation": {"ephemeral_5m_input_tokens": written}, "text_tokens": prompt_tokens}
    last_user = max((i for i, message in enumerate(messages) if isinstance(message, dict)
                     and message.get("role") == "user"), default=0)
    prefix = messages[:last_user]
    tokens = sum(count_tokens(_text(message)) for message in prefix)
    if tokens < IMPLICIT_MIN_TOKENS or not explicit_cache(model):
        return {"cached_tokens": 0}
    key = "implicit:" + _key(model, prefix)
    hit = key in caches
    caches[key] = float("inf")
    return {"cached_tokens": tokens if hit else 0}
