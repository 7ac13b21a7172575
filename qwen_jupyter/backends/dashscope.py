"""The native DashScope API through the dashscope SDK -> events (text and multimodal generation; image models go
to images.py). The SDK returns errors instead of raising them, may deliver cumulative text, and sends the string
"null" as the finish reason mid-stream; native.py absorbs all three so the events look like every other API's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import dashscope
from dashscope.aigc.generation import AioGeneration
from dashscope.aigc.multimodal_conversation import AioMultiModalConversation

from ..core.events import Event
from ..core.request import Request
from ..core.settings import Settings
from .line import Line, requests_socket
from .native import (
    TRANSPORT_ERRORS,
    Folder,
    NoRedirects,
    is_multimodal,
    refuse_redirects,
    transport_error,
    wire_arguments,
)
from .stream import astream, stream


@contextlib.contextmanager
def _reply(request: Request, settings: Settings, line: Line) -> Iterator[Any]:
    """The SDK's answer (an iterator of frames when streamed) on our own session, whose connection the line can
    cut (an interrupt, Stop) and which is closed whatever happens; every failure is a QwenError."""
    api = dashscope.MultiModalConversation if is_multimodal(request) else dashscope.Generation
    session = NoRedirects()
    session.hooks["response"].append(lambda response, **_: line.attach(requests_socket(response)))
    try:
        result = api.call(session=session, **wire_arguments(request, settings))
        yield result if request.stream else [result]
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, settings) from exc
    finally:
        session.close()


@contextlib.asynccontextmanager
async def _areply(request: Request, settings: Settings) -> AsyncIterator[Any]:
    """The async twin of _reply (aiohttp under the SDK)."""
    api = AioMultiModalConversation if is_multimodal(request) else AioGeneration
    session = aiohttp.ClientSession(middlewares=(refuse_redirects,))
    try:
        result = await api.call(session=session, **wire_arguments(request, settings))
        yield result if request.stream else _once(result)
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, settings) from exc
    finally:
        await session.close()


async def _once(response: Any) -> AsyncIterator[Any]:
    yield response


class DashScopeBackend:
    """The native API through the dashscope SDK (text, multimodal, image generation)."""

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        folder = Folder(request, settings)
        return stream(lambda line: _reply(request, settings, line),
                      lambda responses: (event for response in responses for event in folder.events(response)),
                      must_finish=request.stream)

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        folder = Folder(request, settings)

        async def events(responses: AsyncIterator[Any]) -> AsyncIterator[Event]:
            async for response in responses:
                for event in folder.events(response):
                    yield event

        async for event in astream(lambda: _areply(request, settings), events, must_finish=request.stream):
            yield event


BACKEND = DashScopeBackend()
