"""What a running emulator remembers between requests."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class State:
    """What the running emulator remembers: queued faults and the requests it received (keys removed)."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, int]] = []
        self.received: list[dict[str, Any]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.disconnected: list[str] = []  # request ids whose client closed the stream before the end
        self.cassette: Any = None  # a Cassette to replay
        self.lenient = False
        self.pace = 0.0

    def next_fault(self) -> str:
        if not self.queued:
            return ""
        spec, times = self.queued[0]
        if times <= 1:
            self.queued.pop(0)
        else:
            self.queued[0] = (spec, times - 1)
        return spec


STATE = web.AppKey("state", State)
