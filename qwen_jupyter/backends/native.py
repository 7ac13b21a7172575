"""The native DashScope API's wire, shared by its text and image backends (dashscope.py, images.py): messages and
arguments as the SDK takes them, responses folded into events, errors read, sessions that refuse redirects.

The SDK returns errors instead of raising them, may deliver cumulative text, and sends the string "null" as the
finish reason mid-stream; this module absorbs all three so the events look like every other backend's.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import requests
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse, GenerationResponse

from ..core.errors import QwenError
from ..core.events import (
    Chunk,
    Event,
    Finished,
    Image,
    OcrResult,
    ReasoningDelta,
    SearchResults,
    Started,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from ..core.logprobs import logprobs_event
from ..core.media import Media
from ..core.messages import Message
from ..core.models import model_info
from ..core.request import Request, generation_parameters
from ..core.research import Research
from ..core.settings import Settings
from . import EMULATOR_HEADER, service_error

# The SDK logs every transport failure with a traceback before re-raising it; we report those ourselves.
logging.getLogger("dashscope").addFilter(lambda record: record.getMessage() != "Request failed")


def media_item(media: Media) -> dict[str, Any]:
    """A native content item for one input."""
    if media.kind == "video" and media.is_frames:
        item: dict[str, Any] = {"video": list(media.frames)}
    else:
        item = {media.kind: media.url}
    if media.kind == "video" and media.fps is not None:
        item["fps"] = media.fps
    return item


def wire_message(message: Message, multimodal: bool) -> dict[str, Any]:
    """The native form: a string on the text endpoint, a list of single-key items on the multimodal one."""
    out: dict[str, Any] = {"role": message.role}
    if multimodal and message.role != "tool":
        text = [{"text": message.text}] if message.text_part else []
        out["content"] = [media_item(m) for m in message.media] + text
    else:
        out["content"] = message.text
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "index": i, "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(message.tool_calls)
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def is_multimodal(request: Request) -> bool:
    """Whether the request goes to the multimodal-generation endpoint."""
    return model_info(request.model).multimodal or request.has_media


def wire_arguments(request: Request, settings: Settings) -> dict[str, Any]:
    """Keyword arguments for Generation.call / MultiModalConversation.call."""
    multimodal = is_multimodal(request)
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": [wire_message(m, multimodal) for m in request.messages],
        "api_key": settings.key(),
        "base_address": settings.native_url,
        "request_timeout": settings.timeout,
        "result_format": "message",
    }
    if request.stream:
        kwargs["stream"] = True
        kwargs["incremental_output"] = True
    if settings.headers:
        kwargs["headers"] = dict(settings.headers)
    if settings.workspace:
        kwargs["workspace"] = settings.workspace
    if request.prefix is not None:  # prefix continuation: a partial assistant turn the model goes on from
        prefix = [{"text": request.prefix}] if multimodal else request.prefix
        kwargs["messages"].append({"role": "assistant", "content": prefix, "partial": True})
    return {**kwargs, **generation_parameters(request)}


def error_from_response(response: Any, settings: Settings) -> QwenError:
    """A QwenError for an error response the SDK returned."""
    status = int(response.status_code)
    return service_error(
        str(response.message or "The request failed."), code=response.code or None, status=status,
        request_id=response.request_id or None, headers=getattr(response, "headers", None) or {},
        settings=settings,
    )


def compact(response: Any, headers: bool) -> bytes:
    """A native response as compact JSON (its HTTP headers only on the first frame, not repeated on each)."""
    data = dict(response) if headers else {k: v for k, v in response.items() if k != "headers"}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _build(data: bytes) -> Any:
    """The SDK's response object again (GenerationResponse fits the text and multimodal endpoints alike)."""
    return GenerationResponse.from_api_response(DashScopeAPIResponse(**json.loads(data)))


def _text(content: Any) -> str:
    if isinstance(content, list):  # multimodal: [] while thinking, then [{"text": ...}]
        return "".join(item.get("text", "") for item in content if isinstance(item, dict))
    return content or ""


def usage_event(usage: Any) -> Usage:
    """Usage from a native usage object (cumulative in a stream)."""
    output_details = usage.get("output_tokens_details") or {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    input_tokens, output_tokens = usage.get("input_tokens"), usage.get("output_tokens")
    total = usage.get("total_tokens")
    if total is None and input_tokens is not None and output_tokens is not None:
        total = input_tokens + output_tokens
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total,
        reasoning_tokens=output_details.get("reasoning_tokens"),
        cached_tokens=prompt_details.get("cached_tokens"),
    )


class Folder:
    """Turns native responses into events: deltas from incremental or cumulative text, one Started, one Finished."""

    def __init__(self, request: Request, settings: Settings) -> None:
        self.request, self.settings = request, settings
        # Cumulative unless we asked for increments (the SDK re-accumulates when a caller asked for False).
        self.cumulative = request.stream and request.extra.get("incremental_output", True) is not True
        self.seen: dict[tuple[int, str], str] = {}
        self.started = False
        self.usage: Any = None
        self.search_sent = False
        self.ocr_result: dict[str, Any] = {}  # an OCR task's structured output, sent with its text
        self.research: Research | None = None  # deep research frames carry output.message, not choices

    def _delta(self, key: tuple[int, str], value: str) -> str:
        if not self.cumulative:
            return value
        previous = self.seen.get(key, "")
        self.seen[key] = value
        return value[len(previous):] if value.startswith(previous) else value

    def events(self, response: Any) -> list[Event]:
        """Events for one response object (a stream frame or the whole answer)."""
        if response.status_code != 200:
            if response.code == "Unknown" and self.started:
                # The SDK's word for a frame that is not JSON (400 on the sync path, 500 on the async one).
                raise QwenError("The service sent a malformed chunk.", code="MalformedChunk",
                                request_id=response.request_id or None)
            raise error_from_response(response, self.settings)
        events: list[Event] = [Chunk(compact(response, headers=not self.started), _build)]
        if not self.started:
            self.started = True
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            events.insert(0, Started(self.request.model, response.request_id, EMULATOR_HEADER in headers))
        output = response.output or {}
        search = (output.get("search_info") or {}).get("search_results")
        if search and not self.search_sent:
            self.search_sent = True
            events.append(SearchResults.parse(search))
        finish = None
        if output.get("choices"):
            for index, choice in enumerate(output["choices"]):
                events.extend(self._choice_events(index, choice))
                finish = choice.get("finish_reason") or finish
        elif isinstance(output.get("message"), dict):  # deep research
            self.research = self.research or Research()
            events.extend(self.research.events(output["message"]))
            finish = "stop" if self.research.finished else None
        elif output.get("text") is not None:  # result_format "text"
            text = self._delta((0, "text"), output["text"])
            if text:
                events.append(TextDelta(text))
            finish = output.get("finish_reason")
        if response.usage:
            self.usage = response.usage
        if finish and finish != "null":
            if self.usage:
                events.append(usage_event(self.usage))
            task = (self.request.extra.get("ocr_options") or {}).get("task")
            if task:
                events.append(OcrResult(task, self.ocr_result))
            events.append(Finished(finish))
        return events

    def _choice_events(self, index: int, choice: Any) -> list[Event]:
        message = choice.get("message") or {}
        events: list[Event] = []
        reasoning = self._delta((index, "reasoning"), message.get("reasoning_content") or "")
        if reasoning:
            events.append(ReasoningDelta(reasoning))
        content = message.get("content")
        if isinstance(content, list):
            events.extend(Image(item["image"]) for item in content if isinstance(item, dict) and "image" in item)
            for item in content:
                if isinstance(item, dict) and isinstance(item.get("ocr_result"), dict):
                    self.ocr_result.update(item["ocr_result"])
        text = self._delta((index, "text"), _text(content))
        if text:
            events.append(TextDelta(text))
        logprobs = logprobs_event(choice.get("logprobs"))
        if logprobs:
            events.append(logprobs)
        for position, call in enumerate(message.get("tool_calls") or ()):
            call_index = call.get("index", position)
            function = call.get("function") or {}
            arguments = self._delta((call_index, "arguments"), function.get("arguments") or "")
            events.append(ToolCallDelta(call_index, call.get("id") or None, function.get("name") or None, arguments))
        return events



class NoRedirects(requests.Session):
    """A session that hands a redirect back as the response (refused by service_error) instead of following it."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


async def refuse_redirects(request: Any, handler: Any) -> Any:
    """The same for aiohttp (a client middleware, as it has no session-wide switch): a redirect is an error."""
    response = await handler(request)
    if 300 <= response.status < 400:
        response.release()
        raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                          message="redirect", headers=response.headers)
    return response


def transport_error(exc: Exception, settings: Settings) -> QwenError:
    """One reading of a transport failure for the sync (requests) and async (aiohttp) paths alike."""
    if isinstance(exc, aiohttp.ClientResponseError) and exc.message == "redirect":
        return service_error("", code=None, status=exc.status, request_id=None, headers=exc.headers or {},
                             settings=settings)
    if isinstance(exc, (requests.Timeout, TimeoutError, aiohttp.ServerTimeoutError)):
        return QwenError(f"No answer within {settings.timeout:g} s.", code="Timeout")
    if isinstance(exc, ValueError) and not isinstance(exc, (requests.RequestException, aiohttp.ClientError)):
        return QwenError(f"The service sent something unreadable: {exc}.", code="MalformedChunk")
    broken = (requests.exceptions.ChunkedEncodingError, aiohttp.ClientPayloadError)
    return QwenError(f"The connection to {settings.host} failed ({type(exc).__name__}).",
                     code="IncompleteStream" if isinstance(exc, broken) else "ConnectionError")


TRANSPORT_ERRORS = (requests.RequestException, aiohttp.ClientError, OSError, TimeoutError, ValueError)
