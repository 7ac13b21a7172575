"""Chat Completions (OpenAI-compatible mode) -> events: the wire JSON built and every frame read here, over the
transport the openai SDK rides on (the SDK's own objects are built from the frames when `raw` is read)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..core.events import (
    AudioDelta,
    Chunk,
    Event,
    Finished,
    ReasoningDelta,
    SearchResults,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..core.logprobs import logprobs_event
from ..core.media import Media
from ..core.messages import Message
from ..core.request import Request, generation_parameters
from ..core.settings import Settings
from ..core.speech import decode_audio
from . import transport
from .stream import astream, stream

_BUILD_CHUNK = transport.builder("openai.types.chat", "ChatCompletionChunk")
_BUILD_COMPLETION = transport.builder("openai.types.chat", "ChatCompletion")


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


def wire_body(request: Request) -> dict[str, Any]:
    """The JSON body of a chat/completions request; Qwen's own parameters are plain keys beside the standard ones
    (what a Batch API line carries too)."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [wire_message(m) for m in request.messages],
        "stream": request.stream,
    }
    if request.prefix is not None:  # prefix continuation: a partial assistant turn the model goes on from
        body["messages"].append({"role": "assistant", "content": request.prefix, "partial": True})
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    return {**body, **generation_parameters(request)}


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


class _Started:
    """Emits Started once, before the first chunk's events (its id is the request id when no header says)."""

    def __init__(self, model: str, headers: Any) -> None:
        self.model, self.headers, self.done = model, headers, False

    def before(self, chunk_id: str | None, events: list[Event]) -> list[Event]:
        if self.done:
            return events
        self.done = True
        return [transport.started(self.model, self.headers, _request_id(chunk_id)), *events]


def _events(request: Request, response: Any) -> Iterator[Event]:
    first = _Started(request.model, response.headers)
    if not request.stream:
        data = response.read()
        completion = transport.json_object(data)
        yield from first.before(completion.get("id"), completion_events(data, completion))
        return
    for data, chunk in transport.frames(response):
        yield from first.before(chunk.get("id"), chunk_events(data, chunk))


async def _aevents(request: Request, response: Any) -> AsyncIterator[Event]:
    first = _Started(request.model, response.headers)
    if not request.stream:
        data = await response.aread()
        completion = transport.json_object(data)
        for event in first.before(completion.get("id"), completion_events(data, completion)):
            yield event
        return
    async for data, chunk in transport.aframes(response):
        for event in first.before(chunk.get("id"), chunk_events(data, chunk)):
            yield event


class ChatCompletionsBackend:
    """Chat Completions over the shared transport."""

    def warm(self, settings: Settings) -> None:
        """Make the client before the first request needs it."""
        transport.client(settings)

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        url = settings.compatible_url + "/chat/completions"
        return stream(lambda line: transport.post(settings, url, wire_body(request), line),
                      lambda response: _events(request, response))

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        url = settings.compatible_url + "/chat/completions"
        async with transport.async_client(settings) as http:
            async for event in astream(lambda: transport.apost(http, settings, url, wire_body(request)),
                                       lambda response: _aevents(request, response)):
                yield event


BACKEND = ChatCompletionsBackend()
