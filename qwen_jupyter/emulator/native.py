"""The native DashScope API: request parsing, incremental or cumulative frames, result_format text or message."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..core.models import model_info
from . import images, research, rules, specialised
from .errors import ApiError, invalid
from .replies import Conversation, Reply, Turn, count_tokens, pieces

_MEDIA_KEYS = {"image": "images", "video": "videos", "audio": "audios"}
_ITEM_EXTRAS = {"fps", "max_frames", "min_pixels", "max_pixels", "total_pixels", "cache_control", "enable_rotate"}


def _defaults(model: str) -> tuple[str, bool]:
    """The documented result_format and incremental_output defaults of a model family."""
    name = model.lower()
    info = model_info(model)
    modern = bool(re.match(r"qwen3", name)) or name.startswith(("qwq", "qvq", "qwen-long"))
    result_format = "message" if modern or info.multimodal else "text"
    incremental = modern and "vl-max" not in name
    return result_format, incremental


def _turn(message: dict[str, Any], multimodal: bool) -> Turn:
    role = message.get("role")
    content = message.get("content")
    if isinstance(content, str) or content is None:
        return Turn(role or "", content or "", tool_call_id=message.get("tool_call_id"))
    if not multimodal:
        raise invalid("input content must be a string.")
    turn = Turn(role or "", "")
    for item in content:
        modal = [k for k in item if k not in _ITEM_EXTRAS]
        if len(modal) != 1 or modal[0] not in ("text", *_MEDIA_KEYS):
            raise invalid("The item of content should be a message of a certain modal.")
        key = modal[0]
        if key == "text":
            turn.text += item["text"]
            continue
        values = item[key] if isinstance(item[key], list) else [item[key]]
        for value in values:
            rules.check_url(value, key)
        setattr(turn, _MEDIA_KEYS[key], getattr(turn, _MEDIA_KEYS[key]) + 1)
    return turn


def parse(body: dict[str, Any], headers: dict[str, str], model: str, path: str) -> tuple[Conversation, bool, dict]:
    """A Conversation from a native body, validated as the service does."""
    rules.check_model(model)
    info = model_info(model)
    multimodal_path = path.endswith("multimodal-generation/generation")
    if info.multimodal and not multimodal_path:
        raise invalid("url error, please check url!")
    messages = (body.get("input") or {}).get("messages")
    if messages is None and (body.get("input") or {}).get("prompt"):
        messages = [{"role": "user", "content": body["input"]["prompt"]}]
    if not messages:
        raise invalid("Either \"prompt\" or \"messages\" must exist and cannot both be none")
    parameters = body.get("parameters") or {}
    messages, options = specialised.take(model, parameters, messages)
    turns = [_turn(m, multimodal_path) for m in messages]
    rules.check_order([t.role for t in turns])
    rules.check_tool_results(messages)
    stream = {k.lower(): v for k, v in headers.items()}.get("x-dashscope-sse") == "enable"
    deep_research = research.check(model, stream)
    thinking = rules.resolve_thinking(model, parameters.get("enable_thinking"), stream,
                                      parameters.get("thinking_budget"))
    rules.check_sampling(parameters)
    default_format, default_incremental = _defaults(model)
    result_format = parameters.get("result_format", default_format)
    incremental = parameters.get("incremental_output", default_incremental)
    if thinking and stream and incremental is not True:
        raise invalid('The incremental_output parameter must be "true" when enable_thinking is true')
    if (thinking or parameters.get("tools")) and result_format != "message":
        raise invalid('The result_format parameter must be "message" when thinking or tools are used')
    json_mode = (parameters.get("response_format") or {}).get("type") == "json_object"
    if json_mode:
        rules.check_json_mode(thinking, [t.text for t in turns])
    search_options = parameters.get("search_options") or {}
    conversation = Conversation(
        model, turns, thinking=thinking, thinking_budget=parameters.get("thinking_budget"),
        tools=parameters.get("tools") or [], search=bool(parameters.get("enable_search")),
        json_mode=json_mode, max_tokens=parameters.get("max_tokens"), options=options,
    )
    extras = {
        "result_format": result_format,
        "incremental": bool(incremental),
        "multimodal": multimodal_path,
        "sources": bool(parameters.get("enable_search") and search_options.get("enable_source")),
        "image_generation": info.image_generation,
        "parameters": parameters,
        "research": deep_research,
    }
    return conversation, stream, extras


def _usage(conversation: Conversation, reply: Reply, reasoning: str, text: str) -> dict[str, Any]:
    output = count_tokens(reasoning) + count_tokens(text)
    usage: dict[str, Any] = {"input_tokens": reply.input_tokens, "output_tokens": output,
                             "total_tokens": reply.input_tokens + output,
                             "prompt_tokens_details": {"cached_tokens": 0}}
    if conversation.thinking:
        usage["output_tokens_details"] = {"reasoning_tokens": count_tokens(reasoning),
                                          "text_tokens": count_tokens(text)}
    return usage


def _content(text: str, multimodal: bool) -> Any:
    if not multimodal:
        return text
    return [{"text": text}] if text else []


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for i, (cid, name, args) in enumerate(reply.tool_calls)]


def _search_info(reply: Reply) -> dict[str, Any]:
    return {"search_results": [{k: r[k] for k in ("site_name", "icon", "index", "title", "url")}
                               for r in reply.search_results]}


def body(conversation: Conversation, reply: Reply, context: Any, extras: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed native body: only output, usage and request_id, as on the wire."""
    if extras["image_generation"]:
        return images.sync_body(conversation, context, extras["parameters"])
    usage = _usage(conversation, reply, reply.reasoning, reply.text)
    if extras["result_format"] == "text":
        output: dict[str, Any] = {"text": reply.text, "finish_reason": reply.finish_reason}
    else:
        message: dict[str, Any] = {"role": "assistant", "content": _content(reply.text, extras["multimodal"])}
        if reply.extra and message["content"]:
            message["content"][0].update(reply.extra)  # an OCR task's ocr_result beside the text
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = _calls(reply)
        output = {"choices": [{"finish_reason": reply.finish_reason, "message": message}]}
        if "translation" in conversation.options:
            output.update(model_name=conversation.model, finish_reason=reply.finish_reason)
        logprobs = specialised.content_logprobs(conversation, reply.text)
        if logprobs:
            output["choices"][0]["logprobs"] = logprobs
    if extras["sources"] and reply.search_results:
        output["search_info"] = _search_info(reply)
    return {"output": output, "usage": usage, "request_id": context.request_id}


def _frame(number: int, payload: dict[str, Any], event: str = "result", status: int = 200) -> bytes:
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"id:{number}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{data}\n\n".encode()


def frames(conversation: Conversation, reply: Reply, context: Any, size: int | None,
           extras: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    """Stream frames: finish_reason is the string "null" until the last; usage is cumulative; no [DONE]."""
    if extras["research"]:
        yield from research.frames(conversation, context, size, extras)
        return
    incremental, multimodal = extras["incremental"], extras["multimodal"]
    text_format = extras["result_format"] == "text"
    reasoning_so_far, text_so_far = "", ""
    number = 0

    def frame(reasoning: str, text: str, finish: str = "null", calls: list | None = None,
              search: bool = False, logprobs: dict[str, Any] | None = None, extra: dict | None = None) -> bytes:
        nonlocal number
        number += 1
        if text_format:
            output: dict[str, Any] = {"finish_reason": finish, "text": text}
        else:
            message: dict[str, Any] = {"content": _content(text, multimodal), "role": "assistant"}
            if extra and message["content"]:
                message["content"][0].update(extra)
            if conversation.thinking:
                message["reasoning_content"] = reasoning
            if calls:
                message["tool_calls"] = calls
            output = {"choices": [{"message": message, "finish_reason": finish}]}
            if logprobs:
                output["choices"][0]["logprobs"] = logprobs
        if search:
            output["search_info"] = _search_info(reply)
        usage = _usage(conversation, reply, reasoning_so_far, text_so_far)
        return _frame(number, {"output": output, "usage": usage, "request_id": context.request_id})

    if extras["sources"] and reply.search_results:
        yield frame("", "", search=True), False
    for piece in pieces(reply.reasoning, size):
        reasoning_so_far += piece
        yield frame(piece if incremental else reasoning_so_far, "" if incremental else text_so_far), True
    text_pieces = pieces(reply.text, size)
    for number_of, piece in enumerate(text_pieces, 1):
        text_so_far += piece
        yield frame("" if incremental else reasoning_so_far, piece if incremental else text_so_far,
                    logprobs=specialised.content_logprobs(conversation, piece),
                    extra=reply.extra if number_of == len(text_pieces) else None), True
    arguments_so_far: dict[int, str] = {}
    for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
        for position, piece in enumerate(pieces(arguments, size or 8) or [""]):
            arguments_so_far[index] = arguments_so_far.get(index, "") + piece
            shown = piece if incremental else arguments_so_far[index]
            function = {"name": name, "arguments": shown} if position == 0 or not incremental else \
                {"arguments": shown}
            call = {"index": index, "id": call_id if position == 0 or not incremental else "",
                    "type": "function", "function": function}
            yield frame("", "", calls=[call]), True
    last_text = "" if incremental else text_so_far
    yield frame("" if incremental else reasoning_so_far, last_text, finish=reply.finish_reason), False


def error_body(error: ApiError, context: Any) -> dict[str, Any]:
    """A native error body."""
    return {"code": error.code, "message": error.message, "request_id": context.request_id}


def stream_error(error: ApiError, context: Any) -> bytes:
    """An error inside a 200 stream: an event:error frame, its real status in the comment line."""
    return _frame(99, error_body(error, context), event="error", status=error.status)
