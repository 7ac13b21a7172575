"""An aiohttp application served on 127.0.0.1 from a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web


class LoopbackServer:
    """Start and stop an aiohttp app on loopback; subclasses say which app."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The host root, to use as base_url."""
        return f"http://{self.host}:{self.port}"

    def start(self):
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
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
            self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False,
                                         shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
