"""What the Chat Completions and Responses backends share: openai clients and error translation."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import openai

from ..errors import QwenError
from ..events import Started
from ..settings import Settings
from . import EMULATOR_HEADER, service_error


def compact(obj: Any) -> bytes:
    """An SDK object as the JSON it came from (as far as it was set), as bytes, for Chunk events."""
    # model_dump_json without its decode: the result keeps bytes (pydantic's own serializer, called directly).
    return obj.__pydantic_serializer__.to_json(obj, exclude_unset=True, exclude_none=True, warnings=False)


def builder(model_type: Any) -> Callable[[bytes], Any]:
    """How to make an SDK object of this type again from its JSON, as tolerantly as the SDK made it."""
    from openai._models import construct_type  # what the SDK itself builds its stream objects with

    def build(data: bytes) -> Any:
        return construct_type(type_=model_type, value=json.loads(data))

    return build


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
    if isinstance(exc, openai.APITimeoutError):
        return QwenError(f"No answer within {settings.timeout:g} s.", code="Timeout")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__})" if cause else ""
        return QwenError(f"The connection to {settings.host} failed{detail}.", code="ConnectionError")
    if isinstance(exc, openai.APIError):  # an error object inside a 200 stream
        body = exc.body if isinstance(exc.body, dict) else {}
        return QwenError(exc.message, code=body.get("code") or "StreamError", request_id=body.get("request_id"))
    if isinstance(exc, ValueError):  # a chunk that is not JSON
        return QwenError(f"The service sent a malformed chunk: {exc}.", code="MalformedChunk")
    raise exc


SDK_ERRORS = (openai.OpenAIError, ValueError)
