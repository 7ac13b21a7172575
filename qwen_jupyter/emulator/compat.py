"""OpenAI-compatible Chat Completions: request parsing and the documented chunk shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..core.models import model_info
from ..core.prices import explicit_cache
from . import audio, rules, specialised
from .errors import ApiError, invalid
from .errors import compat_error_body as error_body
from .replies import Conversation, Reply, Turn, pieces


def _cached_text(content: list[Any]) -> bool:
    """Text parts one of which marks the explicit context cache: what text models take as a list."""
    return all(isinstance(p, dict) and p.get("type") == "text" for p in content) and \
        any(p.get("cache_control") for p in content)


def _turn(message: dict[str, Any], multimodal: bool, cacheable: bool) -> Turn:
    role = message.get("role")
    if role not in ("system", "user", "assistant", "tool"):
        raise invalid(f"Invalid role: {role!r}")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return Turn(role, content or "", tool_call_id=message.get("tool_call_id"))
    if not isinstance(content, list):
        raise invalid("The content field must be a string or a list.")
    if not multimodal and not (cacheable and _cached_text(content)):
        raise invalid("input content must be a string.")
    turn = Turn(role, "")
    for part in content:
        kind = part.get("type")
        if kind == "text":
            turn.text += part.get("text", "")
        elif kind == "image_url":
            rules.check_url((part.get("image_url") or {}).get("url"), "image")
            turn.images += 1
        elif kind == "video":
            for frame in part.get("video") or []:
                rules.check_url(frame, "video frame")
            turn.videos += 1
        elif kind == "video_url":
            rules.check_url((part.get("video_url") or {}).get("url"), "video")
            turn.videos += 1
        elif kind == "input_audio":
            rules.check_url((part.get("input_audio") or {}).get("data"), "audio")
            turn.audios += 1
        else:
            raise invalid(f"Unsupported content type: {kind!r}")
    return turn


def parse(body: dict[str, Any], headers: dict[str, str], model: str, path: str) -> tuple[Conversation, bool, dict]:
    """A Conversation from a chat.completions body, validated as the service does."""
    rules.check_model(model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages must be a non-empty list")
    messages, options = specialised.take(model, body, messages)
    info = model_info(model)
    turns = [_turn(m, info.multimodal, explicit_cache(model)) for m in messages]
    rules.check_order([t.role for t in turns])
    rules.check_tool_results(messages)
    stream = bool(body.get("stream"))
    thinking = rules.resolve_thinking(model, body.get("enable_thinking"), stream, body.get("thinking_budget"))
    rules.check_sampling(body)
    json_mode = (body.get("response_format") or {}).get("type") == "json_object"
    if json_mode:
        rules.check_json_mode(thinking, [t.text for t in turns])
    tools = body.get("tools") or []
    if any(t.get("type") != "function" or not (t.get("function") or {}).get("name") for t in tools):
        raise invalid("Each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}.")
    conversation = Conversation(
        model, turns, thinking=thinking, thinking_budget=body.get("thinking_budget"), tools=tools,
        search=bool(body.get("enable_search")), json_mode=json_mode, max_tokens=body.get("max_tokens"),
        options=options,
    )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return conversation, stream, {"include_usage": include_usage, "audio": audio.requested(body, model, stream)}


def usage(reply: Reply, conversation: Conversation) -> dict[str, Any]:
    """Chat Completions usage; completion tokens include reasoning, and what the context cache read or wrote
    (emulator/cache.py) is in prompt_tokens_details."""
    out: dict[str, Any] = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.total_tokens,
        "prompt_tokens_details": conversation.options.get("cache") or {"cached_tokens": 0},
    }
    if conversation.thinking:
        out["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
    return out


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"id": cid, "type": "function", "index": i, "function": {"name": name, "arguments": args}}
            for i, (cid, name, args) in enumerate(reply.tool_calls)]


def body(conversation: Conversation, reply: Reply, context: Any, extras: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed chat.completion."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = _calls(reply)
    return {
        "id": f"chatcmpl-{context.request_id}", "object": "chat.completion", "created": context.created,
        "model": context.model, "system_fingerprint": None,
        "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                     "logprobs": specialised.content_logprobs(conversation, reply.text), "message": message}],
        "usage": usage(reply, conversation),
    }


def _frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def frames(conversation: Conversation, reply: Reply, context: Any, size: int | None,
           extras: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    """Stream frames (bytes, is_content) in the documented order, ending with [DONE]."""
    thinking = conversation.thinking

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: dict[str, Any] | None = None) -> bytes:
        return _frame({
            "choices": [{"delta": delta, "finish_reason": finish, "index": 0, "logprobs": logprobs}],
            "object": "chat.completion.chunk", "usage": None, "created": context.created,
            "system_fingerprint": None, "model": context.model, "id": f"chatcmpl-{context.request_id}",
        })

    first = {"content": None, "role": "assistant", "reasoning_content": ""} if thinking else \
        {"content": "", "role": "assistant"}
    yield chunk(first), False
    for piece in pieces(reply.reasoning, size):
        yield chunk({"content": None, "reasoning_content": piece}), True
    for piece in pieces(reply.text, size):
        delta = {"content": piece, "reasoning_content": None} if thinking else {"content": piece}
        yield chunk(delta, logprobs=specialised.content_logprobs(conversation, piece)), True
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        slices = pieces(arguments, size or 8) or [""]
        yield chunk({"content": None, "tool_calls": [{"index": index, "id": call_id, "type": "function",
                                                      "function": {"name": name, "arguments": slices[0]}}]}), True
        for piece in slices[1:]:
            # DashScope sends continuation fragments with an empty id, not an absent one.
            yield chunk({"tool_calls": [{"index": index, "id": "", "type": "function",
                                         "function": {"arguments": piece}}]}), True
    if extras.get("audio") is not None:  # Omni: the spoken answer follows the text
        for delta in audio.deltas(reply.text):
            yield chunk(delta), True
    final = {"content": "", "reasoning_content": None} if thinking else {"content": ""}
    yield chunk(final, reply.finish_reason), False
    if extras.get("include_usage"):
        yield _frame({"choices": [], "object": "chat.completion.chunk", "usage": usage(reply, conversation),
                      "created": context.created, "system_fingerprint": None, "model": context.model,
                      "id": f"chatcmpl-{context.request_id}"}), False
    yield b"data: [DONE]\n\n", False


def stream_error(error: ApiError, context: Any) -> bytes:
    """An error inside a 200 stream: a chunk with a top-level error object (the openai SDK raises on it)."""
    return _frame(error_body(error, context))
