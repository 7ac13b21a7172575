"""The HTTP under the compatible-mode APIs (Chat Completions, Responses, map()'s rows): httpx2, the client the
openai SDK itself rides on, without the SDK around it. The backends already build the wire JSON and read every
frame themselves, so the first answer need not wait for the SDK's import (about a second); its classes are built
only when someone reads `result.raw`.

A reply is opened with `post()` / `apost()`: an error status is raised as the service's QwenError (code, message,
request id, Retry-After), a redirect is refused, not followed (the prompt and key go only where configured), and
while a streamed reply is read its socket is held by a Line, so Stop can cut it from another thread.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

from ..core.errors import QwenError
from ..core.events import Started
from ..core.settings import Settings
from . import EMULATOR_HEADER, service_error
from .line import Line, httpx_socket

Frame = tuple[bytes, dict[str, Any]]
"""A JSON frame of a stream: its bytes as they came (kept for `raw`) and its decoded value (read for events)."""


def builder(module: str, name: str) -> Callable[[bytes], Any]:
    """How to make the SDK's own object of this type again from its JSON, as tolerantly as the SDK makes it; the
    SDK is imported only when one is first built (someone read `raw`)."""

    def build(data: bytes) -> Any:
        import importlib

        from openai._models import construct_type  # what the SDK itself builds its objects with

        return construct_type(type_=getattr(importlib.import_module(module), name), value=json.loads(data))

    return build


def json_object(data: str | bytes) -> dict[str, Any]:
    """A body's or a frame's JSON object (anything else is malformed)."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object: {data[:80]!r}")
    return value


def started(model: str, headers: Any, request_id: str | None = None) -> Started:
    """The Started event from a reply's headers."""
    return Started(model, headers.get("x-request-id") or request_id, emulated=EMULATOR_HEADER in headers)


def _timeout(settings: Settings) -> httpx2.Timeout:
    return httpx2.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))


@functools.lru_cache(maxsize=16)
def client(settings: Settings) -> httpx2.Client:
    """A cached client per destination and key (its connection pool is reused across cells)."""
    return httpx2.Client(timeout=_timeout(settings), follow_redirects=False)


def async_client(settings: Settings) -> httpx2.AsyncClient:
    """A new asynchronous client: its connections belong to the running event loop, so it is not shared."""
    return httpx2.AsyncClient(timeout=_timeout(settings), follow_redirects=False,
                              limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))


def _headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.key()}", "Accept": "application/json, text/event-stream",
            **dict(settings.headers)}


def status_error(response: httpx2.Response, settings: Settings) -> QwenError:
    """The QwenError for a reply whose status is not success: the service's code and message from its body."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    message = str(inner.get("message") or response.reason_phrase or "The request failed.").strip()
    return service_error(message, code=inner.get("code") or inner.get("type"), status=response.status_code,
                         request_id=body.get("request_id") or inner.get("request_id")
                         or response.headers.get("x-request-id"),
                         headers=response.headers, settings=settings)


def translate(exc: Exception, settings: Settings) -> QwenError:
    """A QwenError for what the transport or a frame raised (QwenErrors pass through as they are)."""
    if isinstance(exc, QwenError):
        return exc
    if isinstance(exc, httpx2.TimeoutException):
        return QwenError(f"No answer within {settings.timeout:g} s.", code="Timeout")
    if isinstance(exc, httpx2.SSEError):
        return QwenError(f"The service did not send a stream ({exc}).", code="MalformedChunk")
    if isinstance(exc, httpx2.RequestError):
        return QwenError(f"The connection to {settings.host} failed ({type(exc).__name__}).", code="ConnectionError")
    if isinstance(exc, ValueError):  # a frame that is not JSON
        return QwenError(f"The service sent a malformed chunk: {exc}.", code="MalformedChunk")
    raise exc


ERRORS = (QwenError, httpx2.RequestError, ValueError)


@contextlib.contextmanager
def post(settings: Settings, url: str, body: dict[str, Any], line: Line) -> Iterator[httpx2.Response]:
    """POST a JSON body and hold the reply while it is read; every failure, also one while reading, is a QwenError.
    A reply that is not a stream is read whole under the line, which lets go before it is handed on: its
    connection is back in the pool by then, perhaps serving another request, which is not this one's to cut."""
    try:
        with client(settings).stream("POST", url, json=body, headers=_headers(settings)) as response:
            with line.holding(httpx_socket(response)):
                if response.status_code >= 300:
                    response.read()
                    raise status_error(response, settings)
                if body.get("stream"):
                    yield response
                    return
                response.read()
            yield response
    except ERRORS as exc:
        raise translate(exc, settings) from None


@contextlib.asynccontextmanager
async def apost(http: httpx2.AsyncClient, settings: Settings, url: str,
                body: dict[str, Any]) -> AsyncIterator[httpx2.Response]:
    """The async twin of post(), on a client the caller owns."""
    try:
        async with http.stream("POST", url, json=body, headers=_headers(settings)) as response:
            if response.status_code >= 300:
                await response.aread()
                raise status_error(response, settings)
            yield response
    except ERRORS as exc:
        raise translate(exc, settings) from None


def _frame(data: str, response: httpx2.Response) -> Frame | None:
    """The frame in one SSE event's data, None at [DONE]; an error frame raises."""
    if data.startswith("[DONE]"):
        return None
    value = json_object(data)
    error = value.get("error")
    if error:  # Chat Completions: an error object inside a 200 stream, request_id beside it
        inner = error if isinstance(error, dict) else {"message": str(error)}
        raise QwenError(str(inner.get("message") or "The stream failed."), code=inner.get("code") or "StreamError",
                        request_id=value.get("request_id") or response.headers.get("x-request-id"))
    return data.encode(), value


def frames(response: httpx2.Response) -> Iterator[Frame]:
    """The JSON frames of a streamed reply, up to [DONE] (httpx2's own server-sent-events reader)."""
    for sse in httpx2.EventSource(response):
        frame = _frame(sse.data, response)
        if frame is None:
            return
        yield frame


async def aframes(response: httpx2.Response) -> AsyncIterator[Frame]:
    """The async twin of frames()."""
    async for sse in httpx2.EventSource(response):
        frame = _frame(sse.data, response)
        if frame is None:
            return
        yield frame
