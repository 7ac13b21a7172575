"""Record mode: a loopback proxy that forwards to the real service and writes what comes back to a cassette."""

from __future__ import annotations

import codecs
import json
import time

import aiohttp
from aiohttp import web

from .cassette import SECRET_HEADERS, Recorder
from .loopback import LoopbackServer

_NOT_FORWARDED = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "te",
                  "proxy-connection"}
# Headers passed back (and recorded); x-qwen-emulator keeps an answer the emulator gave while recording labelled.
_RETURNED = ("content-type", "x-request-id", "retry-after", "x-dashscope-finished", "x-qwen-emulator")


class RecordingProxy(LoopbackServer):
    """Forwards every request to `upstream` (a host root) and records request and response."""

    def __init__(self, upstream: str, cassette: str, port: int = 0) -> None:
        super().__init__(port=port)
        self.upstream = upstream.rstrip("/")
        self.recorder = Recorder(cassette)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=600)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
                request.method, self.upstream + request.path_qs, data=raw, headers=headers) as upstream:
            returned = {k: v for k, v in upstream.headers.items()
                        if k.lower() in _RETURNED and k.lower() not in SECRET_HEADERS}
            number = self.recorder.start(request.method, request.path, body, upstream.status, returned)
            response = web.StreamResponse(status=upstream.status, headers=returned)
            await response.prepare(request)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # reads may split a character
            pending = ""
            start = time.perf_counter()
            try:
                async for data in upstream.content.iter_any():
                    pending += decoder.decode(data)
                    # One line per server-sent event (a read can hold several, or part of one).
                    *events, pending = pending.split("\n\n")
                    for event in events:
                        self.recorder.chunk(number, time.perf_counter() - start, event + "\n\n")
                    await response.write(data)
            finally:  # a stream the service broke is recorded as it came (only a crash leaves no end line)
                if pending:  # a JSON body, or a stream cut short
                    self.recorder.chunk(number, time.perf_counter() - start, pending)
                self.recorder.end(number, time.perf_counter() - start)
            await response.write_eof()
            return response
