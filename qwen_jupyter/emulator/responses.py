"""The OpenAI-compatible Responses API: input items, output items and the typed streaming events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..core.models import model_info
from . import compat, rules, specialised
from .errors import ApiError, invalid
from .replies import Conversation, Reply, Turn, pieces


def _turn(item: dict[str, Any], multimodal: bool) -> Turn | None:
    kind = item.get("type")
    if kind == "function_call_output":
        return Turn("tool", str(item.get("output", "")), tool_call_id=item.get("call_id"))
    if kind in ("function_call", "reasoning"):
        return None  # earlier output items, passed back verbatim
    content = item.get("content")
    turn = Turn(item.get("role") or "user", "")
    if isinstance(content, str):
        turn.text = content
        return turn
    for part in content or []:
        part_type = part.get("type")
        if part_type in ("input_text", "output_text", "text"):
            turn.text += part.get("text", "")
        elif part_type == "input_image":
            if not multimodal:
                raise invalid("This model does not accept images.")
            rules.check_url(part.get("image_url"), "image")
            turn.images += 1
        elif part_type == "input_file":
            turn.text += f" [file {part.get('file_url', '')}]"
        else:
            raise invalid(f"The Responses API does not accept {part_type!r} input; use Chat Completions.")
    return turn


def parse(body: dict[str, Any], headers: dict[str, str], model: str, path: str) -> tuple[Conversation, bool, dict]:
    """A Conversation from a responses.create body."""
    rules.check_model(model)
    info = model_info(model)
    raw_input = body.get("input")
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input or []
    turns = [t for t in (_turn(item, info.multimodal) for item in items) if t is not None]
    if body.get("instructions"):
        turns.insert(0, Turn("system", body["instructions"]))
    rules.check_order([t.role for t in turns])
    _, options = specialised.take(model, {"logprobs": "message.output_text.logprobs" in (body.get("include") or ()),
                                          "top_logprobs": body.get("top_logprobs"),
                                          "translation_options": body.get("translation_options")}, items)
    rules.check_function_outputs([item for item in items if isinstance(item, dict)])
    effort = (body.get("reasoning") or {}).get("effort")
    enable = False if effort == "none" else body.get("enable_thinking")
    # The Responses API returns reasoning without streaming too, so only the model's own rules apply here.
    thinking = rules.resolve_thinking(model, enable, True, body.get("thinking_budget"))
    rules.check_sampling(body)
    tools = body.get("tools") or []
    functions = [t for t in tools if t.get("type") == "function"]
    if any(not t.get("name") for t in functions):
        raise invalid("Function tools need a name beside their type.")
    json_mode = ((body.get("text") or {}).get("format") or {}).get("type") == "json_object"
    if json_mode:
        rules.check_json_mode(thinking, [t.text for t in turns])
    conversation = Conversation(
        model, turns, thinking=thinking, thinking_budget=body.get("thinking_budget"), tools=functions,
        search=any(t.get("type") == "web_search" for t in tools), json_mode=json_mode,
        code_interpreter=any(t.get("type") == "code_interpreter" for t in tools),
        max_tokens=body.get("max_output_tokens"), options=options,
    )
    return conversation, bool(body.get("stream")), {"tools": tools}


def _usage(reply: Reply) -> dict[str, Any]:
    details = {"reasoning_tokens": reply.reasoning_tokens}
    base = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
            "total_tokens": reply.total_tokens}
    return {**base, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": details,
            "x_details": [{**base, "output_tokens_details": details, "x_billing_type": "response_api"}]}


def _items(reply: Reply, context: Any, conversation: Conversation | None = None) -> list[dict[str, Any]]:
    """The output items of a reply, complete (as in output_item.done and the final response)."""
    rid = context.request_id
    items: list[dict[str, Any]] = []
    if reply.reasoning:
        items.append({"id": f"msg_{rid}-r", "type": "reasoning",
                      "summary": [{"type": "summary_text", "text": reply.reasoning}]})
    if reply.search_results:
        items.append({"id": f"ws_{rid}", "type": "web_search_call", "status": "completed",
                      "action": {"type": "search", "query": "emulated search",
                                 "sources": [{"type": "url", "url": r["url"], "title": r["title"],
                                              "site_name": r["site_name"]} for r in reply.search_results]}})
    if reply.code:
        items.append({"id": f"ci_{rid}", "type": "code_interpreter_call", "status": "completed",
                      "code": reply.code, "outputs": [{"type": "logs", "logs": reply.code_output}],
                      "container_id": f"cntr_{rid}"})
    for call_id, name, arguments in reply.tool_calls:
        items.append({"id": f"fc_{call_id}", "type": "function_call", "status": "completed", "call_id": call_id,
                      "name": name, "arguments": arguments})
    if reply.text or not reply.tool_calls:
        items.append({"id": f"msg_{rid}", "type": "message", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": reply.text, "annotations": [],
                                   "logprobs": specialised.responses_logprobs(conversation, reply.text)
                                   if conversation else []}]})
    return items


def _response(reply: Reply, context: Any, status: str, items: list[dict[str, Any]],
              tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": context.request_id, "object": "response", "created_at": context.created, "model": context.model,
            "status": status, "error": None, "output": items, "parallel_tool_calls": False,
            "tool_choice": "auto", "tools": tools,
            "usage": _usage(reply) if status in ("completed", "incomplete") else None}


def body(conversation: Conversation, reply: Reply, context: Any, extras: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed response object."""
    status = "incomplete" if reply.finish_reason == "length" else "completed"
    return _response(reply, context, status, _items(reply, context, conversation), extras["tools"])


def frames(conversation: Conversation, reply: Reply, context: Any, size: int | None,
           extras: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    """The typed event sequence of a streamed response."""
    sequence = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {data}\n\n".encode()

    tools = extras["tools"]
    yield event("response.created", response=_response(reply, context, "queued", [], tools)), False
    yield event("response.in_progress", response=_response(reply, context, "in_progress", [], tools)), False
    for index, item in enumerate(_items(reply, context)):
        item_id = item["id"]
        skeleton = {**item, "status": "in_progress"}
        if item["type"] == "reasoning":
            skeleton["summary"] = []
        elif item["type"] == "message":
            skeleton["content"] = []
        elif item["type"] == "function_call":
            skeleton["arguments"] = ""
        yield event("response.output_item.added", output_index=index, item=skeleton), False
        if item["type"] == "reasoning":
            for piece in pieces(reply.reasoning, size):
                yield event("response.reasoning_summary_text.delta", item_id=item_id, output_index=index,
                            summary_index=0, delta=piece), True
            yield event("response.reasoning_summary_text.done", item_id=item_id, output_index=index,
                        summary_index=0, text=reply.reasoning), False
        elif item["type"] == "code_interpreter_call":
            for stage in ("in_progress", "interpreting", "completed"):
                yield event(f"response.code_interpreter_call.{stage}", item_id=item_id, output_index=index), False
        elif item["type"] == "web_search_call":
            for stage in ("in_progress", "searching", "completed"):
                yield event(f"response.web_search_call.{stage}", item_id=item_id, output_index=index), False
        elif item["type"] == "function_call":
            for piece in pieces(item["arguments"], size or 8):
                yield event("response.function_call_arguments.delta", item_id=item_id, output_index=index,
                            delta=piece), True
            yield event("response.function_call_arguments.done", item_id=item_id, output_index=index,
                        arguments=item["arguments"]), False
        else:
            part = {"type": "output_text", "text": "", "annotations": []}
            yield event("response.content_part.added", item_id=item_id, output_index=index, content_index=0,
                        part=part), False
            for piece in pieces(reply.text, size):
                yield event("response.output_text.delta", item_id=item_id, output_index=index, content_index=0,
                            delta=piece, logprobs=specialised.responses_logprobs(conversation, piece)), True
            yield event("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                        text=reply.text, logprobs=specialised.responses_logprobs(conversation, reply.text)), False
            yield event("response.content_part.done", item_id=item_id, output_index=index, content_index=0,
                        part={**part, "text": reply.text}), False
        yield event("response.output_item.done", output_index=index, item=item), False
    final = "incomplete" if reply.finish_reason == "length" else "completed"
    yield event(f"response.{final}", response=_response(reply, context, final, _items(reply, context, conversation),
                                                         tools)), False


error_body = compat.error_body


def stream_error(error: ApiError, context: Any) -> bytes:
    """An error event inside a 200 stream."""
    data = json.dumps({"type": "error", "code": error.code, "message": error.message, "param": None,
                       "sequence_number": 0})
    return f"event: error\ndata: {data}\n\n".encode()
