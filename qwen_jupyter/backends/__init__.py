"""Backends: a Request becomes events, one module per wire API (openai.py: Chat Completions, responses.py,
dashscope.py: the native API, images.py: image tasks), over a shared transport (transport.py, stream.py,
line.py) and the Files and Batch calls (completions.py, files.py). This module picks one and retries before the
first token.

Backends import only core/: they know nothing of conversations, notebooks or how answers are shown.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Protocol

from ..core.errors import QwenError
from ..core.events import Chunk, Connecting, Event, Failed, Retrying, Started
from ..core.models import makes_images
from ..core.request import Request
from ..core.settings import Settings

EMULATOR_HEADER = "x-qwen-emulator"  # set by qwen_jupyter.emulator on every response


class Backend(Protocol):
    """One API: a sync and an async stream of events. Raises QwenError for failures before any output."""

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]: ...

    def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]: ...


_MODULES = {"openai": "openai", "responses": "responses", "dashscope": "dashscope", "images": "images"}


def get_backend(api: str, model: str = "") -> Backend:
    """The backend for an API name (image models: the native image backend, whatever the API); the SDK behind it
    is imported only now."""
    module = importlib.import_module(f"{__name__}.{_MODULES['images' if makes_images(model) else api]}")
    return module.BACKEND


def service_error(message: str, *, code: str | None, status: int, request_id: str | None,
                  headers: Mapping[str, str], settings: Settings) -> QwenError:
    """A QwenError for an error the service answered: Retry-After from its headers, a region hint on 401.

    A redirect lands here too: the clients are told not to follow one, so the key and the prompt go only to the
    configured host.
    """
    if 300 <= status < 400:
        location = next((v for k, v in headers.items() if k.lower() == "location"), "another address")
        return QwenError(f"{settings.host} answered {status}, a redirect to {location}, which is not followed.",
                         code="Redirect", status=status, request_id=request_id)
    error = QwenError(message, code=code, status=status, request_id=request_id, retry_after=_retry_after(headers))
    if status == 401:
        error.hint = (
            f"The key was refused by {settings.describe()}. Keys are bound to their region: "
            "check DASHSCOPE_API_KEY and QwenMagics.region."
        )
    return error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return float(lowered[name]) / scale
        except (KeyError, TypeError, ValueError):
            continue
    return None


def backoff(attempt: int, error: QwenError) -> float:
    """Seconds to wait before attempt+1: Retry-After when the service gave one, else capped jittered doubling."""
    if error.retry_after is not None and 0 <= error.retry_after <= 60:
        return error.retry_after
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _is_output(event: Event) -> bool:
    """Whether the person has seen something of the answer (after which a failure is not retried)."""
    return not isinstance(event, (Connecting, Started, Chunk, Retrying))


STALLED = 5.0  # seconds of silence before a broken stream counts as one that stalled, not one that dropped


def _after_failure(exc: QwenError, produced: bool, attempt: int, settings: Settings,
                   quiet: float = 0.0) -> Failed | Retrying:
    """Give up (Failed) once output has arrived, the error is final, or retries are spent; else retry. A stream
    that broke after `quiet` seconds without a byte stalled, and says so."""
    error = exc.detached()  # the SDK exception behind it (and its frames) may hold the key
    if produced and error.code in ("ConnectionError", "Timeout") and quiet >= STALLED:
        ended = "the request timed out" if error.code == "Timeout" else "the connection closed"
        error = QwenError(f"The stream stalled: nothing came for {quiet:.0f} s, then {ended}.", code="Stalled",
                          request_id=error.request_id)
    elif produced and error.code == "ConnectionError":
        error = QwenError("The connection dropped before the answer was complete.", code="IncompleteStream",
                          request_id=error.request_id)
    if produced or not error.retryable or attempt >= settings.max_retries:
        return Failed(error)
    return Retrying(attempt + 1, backoff(attempt, error), error)


def stream_events(request: Request, settings: Settings) -> Iterator[Event]:
    """Events for a request, retrying retryable failures before the first output; failures end in Failed."""
    backend = get_backend(settings.api, request.model)
    attempt = 0
    while True:
        produced, last = False, time.monotonic()
        try:
            for event in backend.stream(request, settings):
                if not produced:
                    produced = _is_output(event)
                yield event
                last = time.monotonic()
            return
        except QwenError as exc:
            outcome = _after_failure(exc, produced, attempt, settings, time.monotonic() - last)
            yield outcome
            if isinstance(outcome, Failed):
                return
            attempt = outcome.attempt
            wake = threading.Event()
            yield Connecting(wake.set)  # a stop from another thread ends the wait too
            wake.wait(outcome.delay)


async def astream_events(request: Request, settings: Settings) -> AsyncIterator[Event]:
    """The async twin of stream_events."""
    backend = get_backend(settings.api, request.model)
    attempt = 0
    while True:
        produced, last = False, time.monotonic()
        try:
            async for event in backend.astream(request, settings):
                if not produced:
                    produced = _is_output(event)
                yield event
                last = time.monotonic()
            return
        except QwenError as exc:
            outcome = _after_failure(exc, produced, attempt, settings, time.monotonic() - last)
            yield outcome
            if isinstance(outcome, Failed):
                return
            attempt = outcome.attempt
            await asyncio.sleep(outcome.delay)
