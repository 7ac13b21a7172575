"""The openai SDK for the Files and Batch APIs (uploads, listings, batches), where its conveniences are worth its
import; the streaming backends and map()'s rows go through transport.py instead."""

from __future__ import annotations

import functools
from typing import Any

import httpx2
import openai

from ..core.errors import QwenError
from ..core.settings import Settings
from . import transport


@functools.lru_cache(maxsize=16)
def client(settings: Settings) -> openai.OpenAI:
    """A cached synchronous client for the compatible-mode host; it never retries (our callers decide) and never
    follows a redirect (the key goes only where configured)."""
    return openai.OpenAI(api_key=settings.key(), base_url=settings.compatible_url, timeout=settings.timeout,
                         max_retries=0, default_headers=dict(settings.headers),
                         http_client=openai.DefaultHttpxClient(follow_redirects=False))


def translate(exc: Exception, settings: Settings) -> QwenError:
    """A QwenError for anything the openai SDK or its transport raised."""
    if isinstance(exc, openai.APIStatusError):
        return transport.status_error(exc.response, settings)
    if isinstance(exc, openai.APITimeoutError):
        return QwenError(f"No answer within {settings.timeout:g} s.", code="Timeout")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return QwenError(f"The connection to {settings.host} failed ({type(cause or exc).__name__}).",
                         code="ConnectionError")
    return transport.translate(exc, settings)


SDK_ERRORS = (openai.OpenAIError, httpx2.RequestError, ValueError)


def call(settings: Settings, action: Any) -> Any:
    """action(client), its failures as QwenError."""
    try:
        return action(client(settings))
    except SDK_ERRORS as exc:
        raise translate(exc, settings) from exc
