"""Chat Completions (OpenAI-compatible mode) through the openai SDK -> events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from ..errors import QwenError
from ..events import (
    AudioDelta,
    Chunk,
    Connecting,
    Event,
    Finished,
    ReasoningDelta,
    SearchResults,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..media import Media
from ..request import Message, Request, search_options
from ..settings import Settings
from ..specialised.logprobs import logprobs_event
from ..speech import decode_audio
from . import _openai_sdk as sdk
from .line import Line, httpx_socket

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
        text = [{"type": "text", "text": message.text}] if message.text_part else []
        out["content"] = [media_part(m) for m in message.media] + text
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
        extra["search_options"] = search_options(request)
    if request.code_interpreter:
        extra["enable_code_interpreter"] = True
    extra.update(request.extra)
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [wire_message(m) for m in request.messages],
        "stream": request.stream,
    }
    if request.prefix is not None:  # prefix continuation: a partial assistant turn the model goes on from
        kwargs["messages"].append({"role": "assistant", "content": request.prefix, "partial": True})
    if request.logprobs is not None:
        kwargs["logprobs"] = True
        if request.logprobs:
            kwargs["top_logprobs"] = request.logprobs
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


def usage_event(usage: dict[str, Any]) -> Usage:
    """Usage from a Chat Completions usage object (completion tokens include reasoning)."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        total_tokens=usage.get("total_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
        cached_tokens=prompt_details.get("cached_tokens"),
    )


def _search_event(obj: dict[str, Any]) -> SearchResults | None:
    # Not in Alibaba's compatible-mode docs, but some deployments send native-style search_info: use it if so.
    info = obj.get("search_info")
    if not info:
        return None
    return SearchResults.parse(info.get("search_results"))


def _tool_call_delta(index: int, call: dict[str, Any]) -> ToolCallDelta:
    function = call.get("function") or {}
    return ToolCallDelta(
        index=call.get("index", index),
        id=call.get("id") or None,  # continuation fragments carry "id": "" — never a real id
        name=function.get("name") or None,
        arguments=function.get("arguments") or "",
    )


def audio_events(audio: dict[str, Any], content: str | None) -> list[Event]:
    """An Omni audio delta: base64 PCM and/or transcript; a transcript is the answer's text when a chunk has no
    content (older Omni models speak the text only there)."""
    transcript = audio.get("transcript") or ""
    events: list[Event] = [AudioDelta(decode_audio(audio.get("data")), transcript)]
    if transcript and not content:
        events.append(TextDelta(transcript))
    return events


def chunk_events(data: bytes, chunk: dict[str, Any]) -> list[Event]:
    """Events in one streamed chunk, from its wire JSON and its decoded value (the raw chunk first)."""
    events: list[Event] = [Chunk(data, _BUILD_CHUNK)]
    if "search_info" in chunk:
        search = _search_event(chunk)
        if search:
            events.append(search)
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        reasoning = delta.get("reasoning_content")
        if reasoning:
            events.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if content:
            events.append(TextDelta(content))
        if delta.get("audio"):
            events.extend(audio_events(delta["audio"], content))
        for index, call in enumerate(delta.get("tool_calls") or ()):
            events.append(_tool_call_delta(index, call))
        if choice.get("logprobs"):
            logprobs = logprobs_event(choice["logprobs"])
            if logprobs:
                events.append(logprobs)
        if choice.get("finish_reason"):
            events.append(Finished(choice["finish_reason"]))
    if chunk.get("usage"):
        events.append(usage_event(chunk["usage"]))
    return events


def completion_events(data: bytes, completion: dict[str, Any]) -> list[Event]:
    """Events for a non-streamed completion, from its wire JSON and its decoded value."""
    events: list[Event] = [Chunk(data, _BUILD_COMPLETION)]
    search = _search_event(completion)
    if search:
        events.append(search)
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    if message.get("reasoning_content"):
        events.append(ReasoningDelta(message["reasoning_content"]))
    if message.get("content"):
        events.append(TextDelta(message["content"]))
    logprobs = logprobs_event(choice.get("logprobs"))
    if logprobs:
        events.append(logprobs)
    for index, call in enumerate(message.get("tool_calls") or ()):
        events.append(_tool_call_delta(index, {**call, "index": index}))
    if completion.get("usage"):
        events.append(usage_event(completion["usage"]))
    events.append(Finished(choice.get("finish_reason") or "stop"))
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
    """Chat Completions through the openai SDK (its client and transport; the stream's JSON is read here)."""

    def warm(self, settings: Settings) -> None:
        """Make the client before the first request needs it."""
        sdk.client(settings, settings.compatible_url)

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        client = sdk.client(settings, settings.compatible_url)
        line = Line()
        yield Connecting(line.hang_up)
        try:
            with client.chat.completions.with_streaming_response.create(**wire_arguments(request)) as response:
                tracker = _Tracker(request.model, response.headers)
                if not request.stream:
                    with line.holding(httpx_socket(response.http_response)):  # read, the connection is the pool's
                        data = response.read()
                    completion = sdk.json_object(data)
                    yield from tracker.events(completion.get("id"), completion_events(data, completion))
                    return
                with line.holding(httpx_socket(response.http_response)):
                    for data, chunk in sdk.frames(response):
                        yield from tracker.events(chunk.get("id"), chunk_events(data, chunk))
            tracker.check_complete()
        except sdk.SDK_ERRORS as exc:
            raise sdk.translate(exc, settings) from exc

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        async with sdk.async_client(settings, settings.compatible_url) as client:
            try:
                async with client.chat.completions.with_streaming_response.create(
                        **wire_arguments(request)) as response:
                    tracker = _Tracker(request.model, response.headers)
                    if not request.stream:
                        data = await response.read()
                        completion = sdk.json_object(data)
                        for event in tracker.events(completion.get("id"), completion_events(data, completion)):
                            yield event
                        return
                    async for data, chunk in sdk.aframes(response):
                        for event in tracker.events(chunk.get("id"), chunk_events(data, chunk)):
                            yield event
                tracker.check_complete()
            except sdk.SDK_ERRORS as exc:
                raise sdk.translate(exc, settings) from exc


BACKEND = ChatCompletionsBackend()
