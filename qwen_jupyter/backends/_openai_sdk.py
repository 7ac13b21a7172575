"""What the Chat Completions and Responses backends share: openai clients, stream frames, error translation."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import openai
from openai._streaming import SSEDecoder  # the SDK's own SSE parser (its per-chunk model building is skipped)

from ..errors import QwenError
from ..events import Started
from ..settings import Settings
from . import EMULATOR_HEADER, service_error


def builder(model_type: Any) -> Callable[[bytes], Any]:
    """How to make an SDK object of this type again from its JSON, as tolerantly as the SDK made it."""
    from openai._models import construct_type  # what the SDK itself builds its stream objects with

    def build(data: bytes) -> Any:
        return construct_type(type_=model_type, value=json.loads(data))

    return build


Frame = tuple[bytes, dict[str, Any]]
"""A JSON frame of a stream: its bytes as they came (kept for `raw`) and its decoded value (read for events)."""


def json_object(data: str | bytes) -> dict[str, Any]:
    """A body's or a frame's JSON object (anything else is malformed)."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object: {data[:80]!r}")
    return value


def _frame(data: str, response: Any) -> Frame | None:
    """The frame in one SSE event's data, None at [DONE]; an error frame raises, as the SDK's Stream does."""
    if data.startswith("[DONE]"):
        return None
    value = json_object(data)
    error = value.get("error")
    if error:  # Chat Completions: an error object inside a 200 stream, request_id beside it
        inner = error if isinstance(error, dict) else {"message": str(error)}
        raise QwenError(str(inner.get("message") or "The stream failed."), code=inner.get("code") or "StreamError",
                        request_id=value.get("request_id") or response.headers.get("x-request-id"))
    return data.encode(), value


def frames(response: Any) -> Iterator[Frame]:
    """The JSON frames of a streamed response (an openai APIResponse), up to [DONE]."""
    for sse in SSEDecoder().iter_bytes(response.iter_bytes()):
        frame = _frame(sse.data, response)
        if frame is None:
            return
        yield frame


async def aframes(response: Any) -> AsyncIterator[Frame]:
    """The JSON frames of a streamed response (an openai AsyncAPIResponse), up to [DONE]."""
    async for sse in SSEDecoder().aiter_bytes(response.iter_bytes()):
        frame = _frame(sse.data, response)
        if frame is None:
            return
        yield frame


def _options(settings: Settings, base_url: str) -> dict[str, Any]:
    # Our own loop retries (so every API behaves alike and shows Retrying events): the SDK must not.
    return {"api_key": settings.key(), "base_url": base_url, "timeout": settings.timeout, "max_retries": 0,
            "default_headers": dict(settings.headers)}


@functools.lru_cache(maxsize=16)
def client(settings: Settings, base_url: str) -> openai.OpenAI:
    """A cached synchronous client (its connection pool is reused across cells)."""
    # A redirect is answered with an error (service_error), not followed: the prompt goes only where configured.
    return openai.OpenAI(**_options(settings, base_url),
                         http_client=openai.DefaultHttpxClient(follow_redirects=False))


def async_client(settings: Settings, base_url: str) -> openai.AsyncOpenAI:
    """A new asynchronous client: its connections belong to the running event loop, so it is not shared."""
    return openai.AsyncOpenAI(**_options(settings, base_url),
                              http_client=openai.DefaultAsyncHttpxClient(follow_redirects=False))


def started(model: str, headers: Any, request_id: str | None = None) -> Started:
    """The Started event from the HTTP response headers."""
    return Started(model, headers.get("x-request-id") or request_id, emulated=EMULATOR_HEADER in headers)


def translate(exc: Exception, settings: Settings) -> QwenError:
    """A QwenError for anything the openai SDK or its transport raised."""
    if isinstance(exc, openai.APIStatusError):
        try:
            body = exc.response.json()
        except ValueError:
            body = {}
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        code = inner.get("code") or exc.code or inner.get("type")
        return service_error(
            (inner.get("message") or exc.message).strip(), code=code, status=exc.status_code,
            request_id=body.get("request_id") or inner.get("request_id") or exc.request_id,
            headers=exc.response.headers, settings=settings,
        )
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return QwenError(f"No answer within {settings.timeout:g} s.", code="Timeout")
    if isinstance(exc, (openai.APIConnectionError, httpx2.RequestError)):
        # The SDK wraps transport failures before the response; the stream's own (read here) come bare.
        cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
        detail = f" ({type(cause).__name__})" if cause else ""
        return QwenError(f"The connection to {settings.host} failed{detail}.", code="ConnectionError")
    if isinstance(exc, ValueError):  # a chunk that is not JSON
        return QwenError(f"The service sent a malformed chunk: {exc}.", code="MalformedChunk")
    raise exc


SDK_ERRORS = (openai.OpenAIError, httpx2.RequestError, ValueError)
