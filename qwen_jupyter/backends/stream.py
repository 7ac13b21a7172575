"""One stream skeleton for every backend: say a request is going out (with how to cut it), open the reply, turn
what it carries into events, close it whatever happens, and notice a stream that ended before the model finished.

A backend supplies only what differs: how to open its reply (a context manager that raises QwenError for every
failure, its SDK's or its transport's) and how a reply becomes events.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import TypeVar

from ..core.errors import QwenError
from ..core.events import Connecting, Event, Finished
from .line import Line

Reply = TypeVar("Reply")


def incomplete() -> QwenError:
    """The error of a stream that ended without the model saying it finished."""
    return QwenError("The stream ended before the model finished.", code="IncompleteStream")


def stream(open_reply: Callable[[Line], AbstractContextManager[Reply]], events: Callable[[Reply], Iterable[Event]],
           must_finish: bool = True) -> Iterator[Event]:
    """Events of one request: Connecting first (its hang_up cuts the connection from any thread), then the reply's."""
    line = Line()
    yield Connecting(line.hang_up)
    finished = False
    with open_reply(line) as reply:
        for event in events(reply):
            if type(event) is Finished:
                finished = True
            yield event
    if must_finish and not finished:
        raise incomplete()


async def astream(open_reply: Callable[[], AbstractAsyncContextManager[Reply]],
                  events: Callable[[Reply], AsyncIterable[Event]], must_finish: bool = True) -> AsyncIterator[Event]:
    """The async twin of stream() (an async reader is stopped by cancelling it, so it has no Connecting)."""
    finished = False
    async with open_reply() as reply:
        async for event in events(reply):
            if type(event) is Finished:
                finished = True
            yield event
    if must_finish and not finished:
        raise incomplete()
