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
        self.images: dict[str, bytes] = {}  # generated pictures by name (edits), served at /emulator/images
        self.disconnected: list[str] = []  # request ids whose client closed the stream before the end
        self.cassette: Any = None  # a Cassette to replay
        self.lenient = False
        self.pace = 0.0
        self.files: dict[str, dict[str, Any]] = {}  # file id -> public object and bytes (files.py)
        self.batches: dict[str, dict[str, Any]] = {}  # batch id -> public object and its lines (batches.py)
        self.parse_seconds = 0.0  # how long a file-extract upload stays "uploaded" before "processed"
        self.batch_phase_seconds = 0.05  # validating, finalizing and cancelling each take this long
        self.batch_lines_per_second = 5000.0  # how fast a batch in progress answers its lines
        self.batch_clock = 1.0  # emulated seconds per real second, for completion windows (expiry) in tests
        self.counts: dict[str, int] = {}  # requests seen per fault spec, for `every=N`
        self.caches: dict[str, float] = {}  # context-cache blocks (cache.py) -> when they expire

    def next_fault(self) -> str:
        if not self.queued:
            return ""
        spec, times = self.queued[0]
        if times <= 1:
            self.queued.pop(0)
        else:
            self.queued[0] = (spec, times - 1)
        return spec

    def count(self, spec: str) -> int:
        """How many requests have carried this fault spec, this one included."""
        self.counts[spec] = self.counts.get(spec, 0) + 1
        return self.counts[spec]


STATE = web.AppKey("state", State)
