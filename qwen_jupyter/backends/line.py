"""A request's connection, cut from another thread: how Stop ends a stream that has stalled.

A thread blocked reading a socket wakes only when the socket is shut down; neither httpx nor requests offers that,
so the backends hand over the socket under the response they stream, and `hang_up` shuts it.
"""

from __future__ import annotations

import _socket
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any


class Line:
    """The socket a response streams over, once it is known; `hang_up()` from any thread ends the read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cut = False

    def attach(self, sock: socket.socket | None) -> None:
        """The response's socket arrived (a hang-up asked for before then takes effect now)."""
        with self._lock:
            self._socket = sock
            if self._cut:
                _shut(sock)

    @contextlib.contextmanager
    def holding(self, sock: socket.socket | None) -> Iterator[None]:
        """Attach a socket for a block: after it the socket may serve another request, which is not ours to cut."""
        self.attach(sock)
        try:
            yield
        finally:
            with self._lock:
                self._socket = None

    def hang_up(self) -> None:
        """Shut the connection: the reading thread sees it end (its stream is then marked interrupted)."""
        with self._lock:  # held while shutting, so the socket cannot be handed back to the pool meanwhile
            self._cut = True
            _shut(self._socket)


def _shut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    # The plain socket's shutdown, also under TLS: ssl.SSLSocket's own would drop its state under the reader.
    with contextlib.suppress(OSError):  # already closed: nothing is reading it
        _socket.socket.shutdown(sock, socket.SHUT_RDWR)


def httpx_socket(response: Any) -> socket.socket | None:
    """The socket under an httpx response (httpcore's network stream), None if the transport has none."""
    stream = response.extensions.get("network_stream")
    return stream.get_extra_info("socket") if stream is not None else None


def requests_socket(response: Any) -> socket.socket | None:
    """The socket under a streamed requests response (urllib3 keeps its connection while the body is read)."""
    connection = getattr(response.raw, "connection", None)
    return getattr(connection, "sock", None)
