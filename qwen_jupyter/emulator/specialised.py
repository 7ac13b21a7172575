"""What the emulator does for the specialised capabilities on the chat routes: token log probabilities in each
API's shape, and prefix continuation (a partial assistant turn: the answer is only the continuation).

Parsers call `take()` with the request's options and messages; it returns the messages without a partial turn and
the options the Conversation keeps; `shape()` changes the planned reply; writers ask `*_logprobs()` per piece.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from .errors import invalid
from .replies import Conversation, Reply

_TOKEN = re.compile(r"[\w']+\s*|[^\w\s]\s*|\s+")
_ALTERNATIVES = ("the ", "a ", "and ", "of ", "this ", "is ", "to ", "in ", "it ", "that ", "an ", "as ", "we ",
                 "model ", "one ", "so ", "but ", "by ", "for ", "with ", ", ", ". ", "I ", "my ")


def take(options: dict[str, Any], messages: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """The messages without a trailing partial assistant turn, and what the Conversation keeps of the options."""
    kept: dict[str, Any] = {}
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant" and last.get("partial"):
        content = last.get("content")
        if isinstance(content, list):
            content = "".join(item.get("text", "") for item in content if isinstance(item, dict))
        if options.get("enable_thinking"):
            raise invalid("Partial mode is not supported when enable_thinking is true.")
        kept["prefix"] = str(content or "")
        messages = messages[:-1]
    if options.get("logprobs"):
        top = options.get("top_logprobs") or 0
        if not isinstance(top, int) or not 0 <= top <= 5:
            raise invalid("top_logprobs should be in [0, 5].")
        kept["top_logprobs"] = top
    return messages, kept


def shape(conversation: Conversation, reply: Reply) -> None:
    """Change the planned reply for the options: a continuation when a prefix was given."""
    prefix = conversation.options.get("prefix")
    if prefix is not None and not reply.tool_calls:
        reply.text = (" woke slowly, and the emulator carried the sentence on from where you left it"
                      f" ({len(prefix)} characters in).")


def _seed(*parts: str) -> float:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8], 16) / 2**32


def _tokens(conversation: Conversation, text: str) -> list[tuple[str, float, list[tuple[str, float]]]]:
    top = conversation.options.get("top_logprobs")
    out = []
    for token in _TOKEN.findall(text):
        chance = 0.35 + 0.65 * (1 - _seed(conversation.model, token) ** 3)  # mostly sure, sometimes not
        alternatives = [(token, math.log(chance))]
        start = int(_seed("alternatives", token) * len(_ALTERNATIVES))
        words = [w for w in _ALTERNATIVES[start:] + _ALTERNATIVES[:start] if w.strip() != token.strip()]
        rest = 1 - chance
        for i, word in enumerate(words[:max(0, (top or 0) - 1)]):
            alternatives.append((word, math.log(rest * 0.6 * 0.4 ** i)))
        out.append((token, math.log(chance), sorted(alternatives, key=lambda a: -a[1])[:top or 0]))
    return out


def _wire(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "bytes": list(token.encode()), "logprob": round(logprob, 6)}


def content_logprobs(conversation: Conversation, text: str) -> dict[str, Any] | None:
    """Chat Completions and native: {"content": [token, …]} for this text, or None when not asked."""
    if "top_logprobs" not in conversation.options or not text:
        return None
    return {"content": [{**_wire(token, lp), "top_logprobs": [_wire(t, p) for t, p in top]}
                        for token, lp, top in _tokens(conversation, text)]}


def responses_logprobs(conversation: Conversation, text: str) -> list[dict[str, Any]]:
    """The Responses API: a list of tokens ([] when not asked)."""
    found = content_logprobs(conversation, text)
    return [{"token": e["token"], "logprob": e["logprob"], "bytes": e["bytes"],
             "top_logprobs": [{"token": t["token"], "logprob": t["logprob"], "bytes": t["bytes"]}
                              for t in e["top_logprobs"]]}
            for e in (found or {}).get("content", [])]
