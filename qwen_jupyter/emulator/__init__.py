"""A loopback HTTP server that speaks Model Studio's wire formats, so the real SDKs run offline.

    with Emulator() as emu:
        qwen_jupyter.chat("hi", base_url=emu.url, api_key="sk-emulator")

Faults: `emu.inject("429,retry-after=0.1", times=1)`, the X-Qwen-Emulator-Fault header, or a model suffix
such as `qwen-plus~drop=5`. See faults.py for the list.

It stands apart from the flow: it imports nothing of the toolkit but core/.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from aiohttp import web

from ..core.errors import EMULATOR_KEY
from .cassette import Cassette
from .faults import parse
from .loopback import LoopbackServer
from .server import make_app
from .state import State

DEFAULT_KEY = EMULATOR_KEY  # the emulator accepts any "sk-…" key; this one is just a convention


class Emulator(LoopbackServer):
    """The emulator on 127.0.0.1, in a background thread with its own event loop.

    With a cassette it replays recorded traffic: `lenient` answers requests it has no recording for with a
    generated reply (saying so) instead of an error; `pace` scales the recorded timing (0: as fast as possible).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, cassette: str | None = None,
                 lenient: bool = False, pace: float = 0.0) -> None:
        super().__init__(host, port)
        self.state = State()
        if cassette is not None:
            self.state.cassette = Cassette.load(cassette, lenient=lenient)
            self.state.lenient, self.state.pace = lenient, pace

    def make_app(self) -> web.Application:
        return make_app(self.state)

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every request so far: path, headers (without Authorization) and JSON body."""
        return self.state.received

    def inject(self, spec: str, times: int = 1) -> None:
        """Apply a fault spec to the next `times` requests."""
        parse(spec)  # fail here, not inside the server, on a typo
        self.state.queued.append((spec, times))


_shared: Emulator | None = None
_shared_lock = threading.Lock()


def shared() -> Emulator:
    """One emulator per process, started on first use (offline mode uses it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Emulator().start()
        return _shared


_servers: dict[tuple, LoopbackServer] = {}


def replayer(cassette: str, lenient: bool = False, pace: float = 0.0) -> Emulator:
    """An emulator replaying a cassette, one per file version and options (started on first use)."""
    key = ("replay", os.path.abspath(cassette), _mtime(cassette), lenient, pace)
    with _shared_lock:
        if key not in _servers:
            _servers[key] = Emulator(cassette=cassette, lenient=lenient, pace=pace).start()
        return _servers[key]  # type: ignore[return-value]


def recording_proxy(cassette: str, upstream: str) -> LoopbackServer:
    """A proxy recording into a cassette, one per file and upstream (started on first use); every key the process
    uses, now or later (%qwen login), is redacted from what it writes."""
    from .proxy import RecordingProxy

    key = ("record", os.path.abspath(cassette), upstream)
    with _shared_lock:
        if key not in _servers:
            _servers[key] = RecordingProxy(upstream, cassette).start()
        return _servers[key]


def _mtime(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve in the foreground until interrupted (the `qwen-jupyter emulator` command)."""
    web.run_app(make_app(), host=host, port=port, access_log=None, print=None)
