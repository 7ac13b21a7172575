"""The Responses API (OpenAI-compatible mode, both documented paths) -> events, over the shared transport (the
SDK's objects are built from the frames when `raw` is read)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..core.errors import QwenError
from ..core.events import (
    Chunk,
    Event,
    Finished,
    ReasoningDelta,
    SearchResults,
    ServiceToolCall,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..core.logprobs import logprobs_event
from ..core.messages import Message
from ..core.request import Request
from ..core.settings import Settings
from . import transport
from .stream import astream, stream

_BUILD_EVENT = transport.builder("openai.types.responses", "ResponseStreamEvent")
_BUILD_RESPONSE = transport.builder("openai.types.responses", "Response")


def _content(message: Message) -> str | list[dict[str, Any]]:
    if not message.media:
        return message.text
    parts: list[dict[str, Any]] = []
    for media in message.media:
        if media.kind != "image":
            raise QwenError(
                "The Responses API takes text and images only; use --api openai or --api dashscope for "
                f"{media.kind}.",
                code="InvalidInput",
                hint="",
            )
        parts.append({"type": "input_image", "image_url": media.url})
    return [*parts, {"type": "input_text", "text": message.text}] if message.text_part else parts


def wire_input(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Input items for the conversation (system messages travel as instructions instead)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id, "output": message.text})
            continue
        if message.text or message.media or not message.tool_calls:
            items.append({"role": message.role, "content": _content(message)})
        items.extend(
            {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        )
    return items


def _flat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """Responses function tools are flat: name, description and parameters beside type."""
    function = tool.get("function")
    return {"type": "function", **function} if function else tool


def wire_body(request: Request) -> dict[str, Any]:
    """The JSON body of a responses request; Qwen's own parameters are plain keys beside the standard ones."""
    kwargs: dict[str, Any] = {"model": request.model, "input": wire_input(request.messages), "stream": request.stream}
    if request.system:
        kwargs["instructions"] = request.system
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.top_p is not None:
        kwargs["top_p"] = request.top_p
    if request.max_tokens is not None:
        kwargs["max_output_tokens"] = request.max_tokens
    tools = [_flat_tool(t) for t in request.tools]
    if request.search:
        tools.append({"type": "web_search"})
    if request.code_interpreter:
        tools.append({"type": "code_interpreter"})
    if tools:
        kwargs["tools"] = tools
    if request.json_mode:
        kwargs["text"] = {"format": {"type": "json_object"}}
    if request.logprobs is not None:
        kwargs["include"] = ["message.output_text.logprobs"]
        kwargs["top_logprobs"] = request.logprobs
    if request.prefix is not None:
        raise QwenError("Prefix continuation works on Chat Completions and the native API, not Responses.",
                        code="InvalidInput", hint="Use --api openai or --api dashscope with --prefix.")
    if request.thinking is not None:
        kwargs["enable_thinking"] = request.thinking
    if request.thinking_budget is not None:
        kwargs["thinking_budget"] = request.thinking_budget
    if request.seed is not None:
        kwargs["seed"] = request.seed
    kwargs.update(request.extra)
    return kwargs


def usage_event(usage: dict[str, Any]) -> Usage:
    """Usage from a Responses usage object."""
    output_details = usage.get("output_tokens_details") or {}
    input_details = usage.get("input_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        total_tokens=usage.get("total_tokens"),
        reasoning_tokens=output_details.get("reasoning_tokens"),
        cached_tokens=input_details.get("cached_tokens"),
    )


def _sources(item: dict[str, Any]) -> SearchResults:
    return SearchResults.parse((item.get("action") or {}).get("sources"), "")  # numbered by position


def item_events(index: int, item: dict[str, Any]) -> list[Event]:
    """Events for a finished output item that deltas do not cover (tool calls, searches)."""
    kind = item.get("type")
    if kind == "function_call":
        return [ToolCallDelta(index, item.get("call_id"), item.get("name"), item.get("arguments") or "")]
    if kind == "web_search_call":
        return [_sources(item)]
    if kind == "code_interpreter_call":
        logs = "\n".join(str(o.get("logs") or "") for o in item.get("outputs") or () if isinstance(o, dict))
        return [ServiceToolCall("code_interpreter", json.dumps({"code": item.get("code") or ""}), logs)]
    return []


def _finished(response: dict[str, Any]) -> list[Event]:
    events: list[Event] = []
    if response.get("usage"):
        events.append(usage_event(response["usage"]))
    if response.get("status") == "incomplete":
        reason = "length"
    elif any(item.get("type") == "function_call" for item in response.get("output") or ()):
        reason = "tool_calls"
    else:
        reason = "stop"
    return [*events, Finished(reason)]


def _failure(error: dict[str, Any]) -> QwenError:
    return QwenError(error.get("message") or "The response failed.", code=error.get("code") or "ResponseFailed")


def stream_event_events(data: bytes, event: dict[str, Any]) -> list[Event]:
    """Events for one Responses streaming event, from its wire JSON and its decoded value (the raw event first)."""
    events: list[Event] = [Chunk(data, _BUILD_EVENT)]
    kind = event.get("type")
    if kind == "response.output_text.delta":
        events.append(TextDelta(event.get("delta") or ""))
        if event.get("logprobs"):
            logprobs = logprobs_event(event["logprobs"])
            if logprobs:
                events.append(logprobs)
    elif kind == "response.reasoning_summary_text.delta" or kind == "response.reasoning_text.delta":
        events.append(ReasoningDelta(event.get("delta") or ""))
    elif kind == "response.output_item.done":
        events.extend(item_events(event.get("output_index", 0), event.get("item") or {}))
    elif kind in ("response.completed", "response.incomplete"):
        events.extend(_finished(event.get("response") or {}))
    elif kind == "response.failed":
        raise _failure((event.get("response") or {}).get("error") or {})
    elif kind == "error":
        raise QwenError(event.get("message") or "The stream failed.", code=event.get("code") or "StreamError")
    return events


def response_events(data: bytes, response: dict[str, Any]) -> list[Event]:
    """Events for a non-streamed response, from its wire JSON and its decoded value."""
    events: list[Event] = [Chunk(data, _BUILD_RESPONSE)]
    if response.get("error"):
        raise _failure(response["error"])
    for index, item in enumerate(response.get("output") or ()):
        kind = item.get("type")
        if kind == "reasoning":
            events.extend(ReasoningDelta(s.get("text") or "") for s in item.get("summary") or ())
        elif kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    events.append(TextDelta(part.get("text") or ""))
                    logprobs = logprobs_event(part.get("logprobs"))
                    if logprobs:
                        events.append(logprobs)
        else:
            events.extend(item_events(index, item))
    return [*events, *_finished(response)]


def _events(request: Request, response: Any) -> Iterator[Event]:
    yield transport.started(request.model, response.headers)
    if not request.stream:
        data = response.read()
        yield from response_events(data, transport.json_object(data))
        return
    for data, event in transport.frames(response):
        yield from stream_event_events(data, event)


async def _aevents(request: Request, response: Any) -> AsyncIterator[Event]:
    yield transport.started(request.model, response.headers)
    if not request.stream:
        data = await response.aread()
        for event in response_events(data, transport.json_object(data)):
            yield event
        return
    async for data, frame in transport.aframes(response):
        for event in stream_event_events(data, frame):
            yield event


class ResponsesBackend:
    """The Responses API over the shared transport."""

    def warm(self, settings: Settings) -> None:
        """Make the client before the first request needs it."""
        transport.client(settings)

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        url = settings.responses_url + "/responses"
        return stream(lambda line: transport.post(settings, url, wire_body(request), line),
                      lambda response: _events(request, response))

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        url = settings.responses_url + "/responses"
        async with transport.async_client(settings) as http:
            async for event in astream(lambda: transport.apost(http, settings, url, wire_body(request)),
                                       lambda response: _aevents(request, response)):
                yield event


BACKEND = ResponsesBackend()
