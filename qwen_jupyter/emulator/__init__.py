"""A loopback HTTP server that speaks Model Studio's wire formats, so the real SDKs run offline.

    with Emulator() as emu:
        qwen_jupyter.chat("hi", base_url=emu.url, api_key="sk-emulator")

Faults: `emu.inject("429,retry-after=0.1", times=1)`, the X-Qwen-Emulator-Fault header, or a model suffix
such as `qwen-plus~drop=5`. See faults.py for the list.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from .faults import parse
from .server import make_app
from .state import State

DEFAULT_KEY = "sk-emulator"  # the emulator accepts any "sk-…" key; this one is just a convention


class Emulator:
    """The emulator on 127.0.0.1, in a background thread with its own event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.state = State()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """The host root, to use as base_url."""
        return f"http://{self.host}:{self.port}"

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every request so far: path, headers (without Authorization) and JSON body."""
        return self.state.received

    def inject(self, spec: str, times: int = 1) -> None:
        """Apply a fault spec to the next `times` requests."""
        parse(spec)  # fail here, not inside the server, on a typo
        self.state.queued.append((spec, times))

    def start(self) -> Emulator:
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="qwen-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failure:
            raise self._failure
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(make_app(self.state), access_log=None, handle_signals=False,
                                       shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        for task in asyncio.all_tasks(loop):  # handlers still streaming to clients that are gone
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: Emulator | None = None
_shared_lock = threading.Lock()


def shared() -> Emulator:
    """One emulator per process, started on first use (offline mode uses it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Emulator().start()
        return _shared


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve in the foreground until interrupted (the `qwen-jupyter emulator` command)."""
    web.run_app(make_app(), host=host, port=port, access_log=None, print=None)
