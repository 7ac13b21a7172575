"""The Responses API (OpenAI-compatible mode, both documented paths) through the openai SDK -> events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from openai.types.responses import Response, ResponseStreamEvent

from ..errors import QwenError
from ..events import (
    Chunk,
    Event,
    Finished,
    ReasoningDelta,
    SearchResult,
    SearchResults,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..request import Message, Request
from ..settings import Settings
from . import _openai_sdk as sdk

_BUILD_EVENT = sdk.builder(ResponseStreamEvent)
_BUILD_RESPONSE = sdk.builder(Response)


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
    return [*parts, {"type": "input_text", "text": message.text}]


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


def wire_arguments(request: Request) -> dict[str, Any]:
    """Keyword arguments for responses.create."""
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
    if tools:
        kwargs["tools"] = tools
    if request.json_mode:
        kwargs["text"] = {"format": {"type": "json_object"}}
    extra: dict[str, Any] = {}
    if request.thinking is not None:
        extra["enable_thinking"] = request.thinking
    if request.thinking_budget is not None:
        extra["thinking_budget"] = request.thinking_budget
    if request.seed is not None:
        extra["seed"] = request.seed
    extra.update(request.extra)
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def usage_event(usage: Any) -> Usage:
    """Usage from a Responses usage object."""
    output_details = getattr(usage, "output_tokens_details", None)
    input_details = getattr(usage, "input_tokens_details", None)
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        reasoning_tokens=getattr(output_details, "reasoning_tokens", None),
        cached_tokens=getattr(input_details, "cached_tokens", None),
    )


def _sources(item: Any) -> SearchResults:
    action = getattr(item, "action", None)
    sources = getattr(action, "sources", None) or []
    return SearchResults(
        tuple(
            SearchResult(
                i + 1,
                getattr(s, "title", None) or _get(s, "title"),
                getattr(s, "url", None) or _get(s, "url"),
                _get(s, "site_name"),
            )
            for i, s in enumerate(sources)
        )
    )


def _get(obj: Any, name: str) -> str:
    extra = getattr(obj, "model_extra", None) or (obj if isinstance(obj, dict) else {})
    return extra.get(name, "") or ""


def item_events(index: int, item: Any) -> list[Event]:
    """Events for a finished output item that deltas do not cover (tool calls, searches)."""
    if item.type == "function_call":
        return [ToolCallDelta(index, item.call_id, item.name, item.arguments)]
    if item.type == "web_search_call":
        return [_sources(item)]
    return []


def _finished(response: Any) -> list[Event]:
    events: list[Event] = []
    if response.usage:
        events.append(usage_event(response.usage))
    if response.status == "incomplete":
        reason = "length"
    elif any(item.type == "function_call" for item in response.output):
        reason = "tool_calls"
    else:
        reason = "stop"
    return [*events, Finished(reason)]


def _failure(response_error: Any) -> QwenError:
    code = getattr(response_error, "code", None) or "ResponseFailed"
    return QwenError(getattr(response_error, "message", None) or "The response failed.", code=code)


def stream_event_events(event: Any) -> list[Event]:
    """Events for one Responses streaming event (the raw event first)."""
    events: list[Event] = [Chunk(sdk.compact(event), _BUILD_EVENT)]
    kind = event.type
    if kind == "response.output_text.delta":
        events.append(TextDelta(event.delta))
    elif kind == "response.reasoning_summary_text.delta" or kind == "response.reasoning_text.delta":
        events.append(ReasoningDelta(event.delta))
    elif kind == "response.output_item.done":
        events.extend(item_events(event.output_index, event.item))
    elif kind in ("response.completed", "response.incomplete"):
        events.extend(_finished(event.response))
    elif kind == "response.failed":
        raise _failure(event.response.error)
    elif kind == "error":
        raise QwenError(event.message, code=getattr(event, "code", None) or "StreamError")
    return events


def response_events(response: Any) -> list[Event]:
    """Events for a non-streamed response."""
    events: list[Event] = [Chunk(sdk.compact(response), _BUILD_RESPONSE)]
    if response.error:
        raise _failure(response.error)
    for index, item in enumerate(response.output):
        if item.type == "reasoning":
            events.extend(ReasoningDelta(s.text) for s in item.summary or ())
        elif item.type == "message":
            events.extend(TextDelta(c.text) for c in item.content if c.type == "output_text")
        else:
            events.extend(item_events(index, item))
    return [*events, *_finished(response)]


class _Tracker:
    def __init__(self, model: str, headers: Any) -> None:
        self.started = sdk.started(model, headers)
        self.finished = False

    def events(self, event: Any) -> list[Event]:
        events = stream_event_events(event)
        self.finished = self.finished or any(isinstance(e, Finished) for e in events)
        return events

    def check_complete(self) -> None:
        if not self.finished:
            raise QwenError("The stream ended before the model finished.", code="IncompleteStream")


class ResponsesBackend:
    """The Responses API through the openai SDK."""

    def warm(self, settings: Settings) -> None:
        """Make the client and the event models' machinery before the first request needs them."""
        sdk.client(settings, settings.responses_url)
        _BUILD_EVENT('{"type":"response.output_text.delta","item_id":"w","output_index":0,"content_index":0,'
                     '"delta":"w","sequence_number":0,"logprobs":[]}')

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        client = sdk.client(settings, settings.responses_url)
        try:
            raw = client.responses.with_raw_response.create(**wire_arguments(request))
            response = raw.parse()
            tracker = _Tracker(request.model, raw.headers)
            yield tracker.started
            if not request.stream:
                yield from response_events(response)
                return
            with response:
                for event in response:
                    yield from tracker.events(event)
            tracker.check_complete()
        except sdk.SDK_ERRORS as exc:
            raise sdk.translate(exc, settings) from exc

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        async with sdk.async_client(settings, settings.responses_url) as client:
            try:
                raw = await client.responses.with_raw_response.create(**wire_arguments(request))
                response = raw.parse()
                tracker = _Tracker(request.model, raw.headers)
                yield tracker.started
                if not request.stream:
                    for event in response_events(response):
                        yield event
                    return
                async with response:
                    async for event in response:
                        for out in tracker.events(event):
                            yield out
                tracker.check_complete()
            except sdk.SDK_ERRORS as exc:
                raise sdk.translate(exc, settings) from exc


BACKEND = ResponsesBackend()
