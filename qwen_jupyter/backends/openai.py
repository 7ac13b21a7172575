"""Chat Completions (OpenAI-compatible mode) through the openai SDK -> events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

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
from ..media import Media
from ..request import Message, Request
from ..settings import Settings
from . import _openai_sdk as sdk

_BUILD_CHUNK = sdk.builder(ChatCompletionChunk)
_BUILD_COMPLETION = sdk.builder(ChatCompletion)


def media_part(media: Media) -> dict[str, Any]:
    """A Chat Completions content part for one input."""
    if media.kind == "image":
        return {"type": "image_url", "image_url": {"url": media.url}}
    if media.kind == "video":
        part: dict[str, Any]
        if media.is_frames:
            part = {"type": "video", "video": list(media.frames)}
        else:
            part = {"type": "video_url", "video_url": {"url": media.url}}
        if media.fps is not None:
            part["fps"] = media.fps
        return part
    return {"type": "input_audio", "input_audio": {"data": media.url, "format": media.audio_format}}


def wire_message(message: Message) -> dict[str, Any]:
    """The Chat Completions form of a message; text-only content stays a string, as text models require."""
    out: dict[str, Any] = {"role": message.role}
    if message.media:
        out["content"] = [media_part(m) for m in message.media] + [{"type": "text", "text": message.text}]
    else:
        out["content"] = message.text
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def wire_arguments(request: Request) -> dict[str, Any]:
    """Keyword arguments for chat.completions.create; Qwen extras travel in extra_body."""
    extra: dict[str, Any] = {}
    if request.thinking is not None:
        extra["enable_thinking"] = request.thinking
    if request.thinking_budget is not None:
        extra["thinking_budget"] = request.thinking_budget
    if request.search:
        extra["enable_search"] = True
        extra["search_options"] = {"enable_source": True}
    extra.update(request.extra)
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [wire_message(m) for m in request.messages],
        "stream": request.stream,
    }
    if request.stream:
        kwargs["stream_options"] = {"include_usage": True}
    for name in ("temperature", "top_p", "max_tokens", "seed"):
        if getattr(request, name) is not None:
            kwargs[name] = getattr(request, name)
    if request.json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    if request.tools:
        kwargs["tools"] = list(request.tools)
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def usage_event(usage: Any) -> Usage:
    """Usage from a Chat Completions usage object (completion tokens include reasoning)."""
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None),
        cached_tokens=getattr(prompt_details, "cached_tokens", None),
    )


def _extra(obj: Any) -> dict[str, Any]:
    """Fields the SDK does not declare (Qwen's reasoning_content, search_info); a dict lookup, not getattr."""
    return getattr(obj, "__pydantic_extra__", None) or {}


def _search_event(obj: Any) -> SearchResults | None:
    # Not in Alibaba's compatible-mode docs, but some deployments send native-style search_info: use it if so.
    info = _extra(obj).get("search_info")
    if not info:
        return None
    return SearchResults(
        tuple(
            SearchResult(r.get("index", i + 1), r.get("title", ""), r.get("url", ""), r.get("site_name", ""))
            for i, r in enumerate(info.get("search_results", []))
        )
    )


def chunk_events(chunk: Any) -> list[Event]:
    """Events in one streamed chunk (the raw chunk first)."""
    events: list[Event] = [Chunk(sdk.compact(chunk), _BUILD_CHUNK)]
    search = _search_event(chunk)
    if search:
        events.append(search)
    for choice in chunk.choices:
        delta = choice.delta
        reasoning = _extra(delta).get("reasoning_content")
        if reasoning:
            events.append(ReasoningDelta(reasoning))
        if delta.content:
            events.append(TextDelta(delta.content))
        for call in delta.tool_calls or ():
            function = call.function
            events.append(
                ToolCallDelta(
                    index=call.index,
                    id=call.id or None,  # continuation fragments carry "id": "" — never a real id
                    name=(function.name or None) if function else None,
                    arguments=(function.arguments or "") if function else "",
                )
            )
        if choice.finish_reason:
            events.append(Finished(choice.finish_reason))
    if chunk.usage:
        events.append(usage_event(chunk.usage))
    return events


def completion_events(completion: Any) -> list[Event]:
    """Events for a non-streamed completion."""
    events: list[Event] = [Chunk(sdk.compact(completion), _BUILD_COMPLETION)]
    search = _search_event(completion)
    if search:
        events.append(search)
    choice = completion.choices[0]
    message = choice.message
    reasoning = _extra(message).get("reasoning_content")
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    if message.content:
        events.append(TextDelta(message.content))
    for index, call in enumerate(message.tool_calls or ()):
        events.append(ToolCallDelta(index, call.id, call.function.name, call.function.arguments))
    if completion.usage:
        events.append(usage_event(completion.usage))
    events.append(Finished(choice.finish_reason or "stop"))
    return events


def _request_id(chunk_id: str | None) -> str | None:
    return chunk_id.removeprefix("chatcmpl-") if chunk_id else None


class _Tracker:
    """Emits Started once, and notices a stream that ends without a finish reason."""

    def __init__(self, model: str, headers: Any) -> None:
        self.model, self.headers, self.started, self.finished = model, headers, False, False

    def events(self, chunk_id: str | None, events: list[Event]) -> list[Event]:
        # Most chunks are [Chunk, TextDelta] or [Chunk, ReasoningDelta]: no finish in those, nothing to scan.
        if not self.finished and (len(events) > 2 or (len(events) == 2 and type(events[1]) is Finished)):
            self.finished = any(type(e) is Finished for e in events)
        if self.started:
            return events
        self.started = True
        return [sdk.started(self.model, self.headers, _request_id(chunk_id)), *events]

    def check_complete(self) -> None:
        if not self.finished:
            raise QwenError("The stream ended before the model finished.", code="IncompleteStream")


class ChatCompletionsBackend:
    """Chat Completions through the openai SDK."""

    def warm(self, settings: Settings) -> None:
        """Make the client and the chunk model's machinery before the first request needs them."""
        sdk.client(settings, settings.compatible_url)
        _BUILD_CHUNK('{"id":"w","choices":[{"index":0,"delta":{"content":"w"}}],"created":0,"model":"w",'
                     '"object":"chat.completion.chunk"}')

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        client = sdk.client(settings, settings.compatible_url)
        try:
            raw = client.chat.completions.with_raw_response.create(**wire_arguments(request))
            response = raw.parse()
            tracker = _Tracker(request.model, raw.headers)
            if not request.stream:
                yield from tracker.events(response.id, completion_events(response))
                return
            with response:
                for chunk in response:
                    yield from tracker.events(chunk.id, chunk_events(chunk))
            tracker.check_complete()
        except sdk.SDK_ERRORS as exc:
            raise sdk.translate(exc, settings) from exc

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        async with sdk.async_client(settings, settings.compatible_url) as client:
            try:
                raw = await client.chat.completions.with_raw_response.create(**wire_arguments(request))
                response = raw.parse()
                tracker = _Tracker(request.model, raw.headers)
                if not request.stream:
                    for event in tracker.events(response.id, completion_events(response)):
                        yield event
                    return
                async with response:
                    async for chunk in response:
                        for event in tracker.events(chunk.id, chunk_events(chunk)):
                            yield event
                tracker.check_complete()
            except sdk.SDK_ERRORS as exc:
                raise sdk.translate(exc, settings) from exc


BACKEND = ChatCompletionsBackend()
