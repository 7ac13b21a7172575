"""One start of an MCP server (engine/mcp.py's McpServers keeps one per configured server): its thread, event loop
and session, the process a stdio server runs and the last lines of its stderr. Its failures (not starting, timing
out, dying) are one-line QwenErrors that say what the command, its exit status and its stderr said, with no key.
Every run stops at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import functools
import logging
import os
import shlex
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.errors import QwenError, redact
from ..core.tools import ToolFailed

TIMEOUT = 60.0  # seconds a tool call may take, unless the server's config says "timeout"
START_TIMEOUT = 30.0  # seconds for a server to start and answer initialize (and later tools/list)
STOP_WAIT = 10.0  # the SDK's own shutdown: stdin closed, 2 s, SIGTERM, 2 s, SIGKILL


class McpToolError(ToolFailed):
    """A tool that answered with isError: its message goes to the model (as the call's error), which may go on."""


@dataclass(frozen=True)
class ServerConfig:
    """What starts a server: its command and env (stdio) or its url, and its calls' timeout."""

    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str = ""
    timeout: float = TIMEOUT

    @property
    def target(self) -> str:
        return redact(shlex.join(self.command)) if self.command else redact(self.url)


class ServerRun:
    """One start of a server: its thread, event loop and session, until it is stopped or dies."""

    def __init__(self, name: str, config: ServerConfig, start_timeout: float) -> None:
        mcp_sdk()  # a missing package is said here, in the caller's thread
        self.name, self.config, self.start_timeout = name, config, start_timeout
        self.loop = asyncio.new_event_loop()
        self.session: Any = None
        self.process: Any = None
        self.stderr = _Tail() if config.command else None
        self.failure: BaseException | None = None
        self.running_once = False  # it started: an end now is a death, not a failure to start
        self.told = False  # its death was reported (the next use starts it anew)
        self.reason = "stopped"  # why it ended, for a listing
        self.ready, self.ended = threading.Event(), threading.Event()
        self._closing: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name=f"qwen-mcp-{name}", daemon=True)

    @property
    def alive(self) -> bool:
        """Started, not stopped, and (for a command) its process still running."""
        exited = self.process is not None and getattr(self.process, "returncode", None) is not None
        return self.session is not None and not self.ended.is_set() and not exited and not self.told

    def start(self) -> None:
        """Start the thread and wait for the session (a one-line QwenError if it does not come)."""
        _LIVE.add(self)
        self._thread.start()
        if not self.ready.wait(self.start_timeout + STOP_WAIT):
            stop_all([self])
            raise self._not_started(f"it did not answer within {self.start_timeout:g} s")
        if self.session is None:
            self.ended.wait(STOP_WAIT)  # the process is reaped and its stderr read: the error can say it all
            raise self._not_started(self._why())
        self.running_once = True

    def request_stop(self) -> None:
        """Ask the session to close (the SDK then stops the process), without waiting."""
        _LIVE.discard(self)
        if self._closing is not None and not self.ended.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to stop
                self.loop.call_soon_threadsafe(self._closing.set)

    def list_tools(self, tell: bool = True) -> list[Any]:
        """The server's tools (every page); tell=False leaves a death it finds for the next use to say."""
        async def every_page(session: Any) -> list[Any]:
            tools, cursor = [], None
            while True:
                params = mcp_sdk().types.PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    return tools

        try:
            return self._wait(every_page, self.start_timeout, "tools/list", tell)
        except McpToolError as exc:  # not a tool's answer: the server cannot list its tools
            raise QwenError(str(exc), code="McpRefused", hint="") from None

    def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> Any:
        """The CallToolResult of one call (a QwenError if the call times out or the server dies)."""
        return self._wait(lambda session: session.call_tool(tool, arguments, read_timeout_seconds=timeout),
                          timeout, tool)

    def _wait(self, request: Callable[[Any], Awaitable[Any]], timeout: float, what: str, tell: bool = True) -> Any:
        """Run a request on the session's loop and wait for it, its failures as one line."""
        sdk, session = mcp_sdk(), self.session
        if session is None or self.ended.is_set():
            raise self._died(what, tell)
        coroutine = request(session)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:  # the loop closed just now: the session ended
            coroutine.close()
            raise self._died(what, tell) from None
        try:
            return future.result(timeout + 5)  # the SDK times the request out first; this is the backstop
        except sdk.MCPError as exc:
            if exc.code == sdk.types.REQUEST_TIMEOUT:
                raise self._timed_out(what, timeout) from None
            if exc.code == sdk.types.CONNECTION_CLOSED:
                raise self._died(what, tell) from None
            raise McpToolError(f"The MCP server {self.name} refused {what}: {exc.message}") from None
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise self._timed_out(what, timeout) from None
        except concurrent.futures.CancelledError:  # the session ended under the call
            raise self._died(what, tell) from None
        except BaseException:  # an interrupted cell: the call stops too
            future.cancel()
            raise

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
            leftover = asyncio.all_tasks(self.loop)  # calls still waiting on a session that is gone
            for task in leftover:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        finally:
            self.session = None
            self.loop.close()
            if self.stderr is not None:
                self.stderr.finish()
            self.ready.set()
            self.ended.set()

    async def _serve(self) -> None:
        sdk = mcp_sdk()
        self._closing = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.config.command:
                    params = sdk.StdioServerParameters(command=self.config.command[0],
                                                       args=list(self.config.command[1:]),
                                                       env=dict(self.config.env) or None)
                    assert self.stderr is not None
                    transport = sdk.stdio_client(params, errlog=self.stderr.writer)
                    try:
                        streams = await stack.enter_async_context(transport)
                    finally:  # the process has its copy of the pipe: the reader ends when the process does
                        self.stderr.writer.close()
                    self.process = _spawned(transport)
                else:
                    http = sdk.client.streamable_http.streamable_http_client(self.config.url)
                    streams = await stack.enter_async_context(http)
                session = sdk.ClientSession(*streams, read_timeout_seconds=self.start_timeout)
                await stack.enter_async_context(session)
                await session.initialize()
                self.session = session
                self.ready.set()
                await self._closing.wait()
        except Exception as exc:  # (an exception group from the SDK's task groups too)
            self.failure = exc
        finally:
            self.session = None

    def _why(self) -> str:
        """Why the session is not there: the command that could not run, its exit, or the error."""
        cause = _root(self.failure) if self.failure is not None else None
        status = getattr(self.process, "returncode", None)
        if isinstance(cause, OSError) and self.process is None:
            return f"it could not be run ({cause.strerror or cause})"
        if getattr(cause, "code", None) == mcp_sdk().types.REQUEST_TIMEOUT:  # before its exit: the stop killed it
            return f"it did not answer within {self.start_timeout:g} s"
        if status is not None:
            return f"it exited ({_exit(status)})"
        if cause is not None:
            return f"{type(cause).__name__}: {str(cause) or 'no message'}"
        return "its session ended"

    def _not_started(self, why: str) -> QwenError:
        self.reason = f"did not start: {why}{self._stderr_said()}"
        where = "" if self.config.command else "at "
        return QwenError(f"The MCP server {self.name} ({where}{self.config.target}) {self.reason}.",
                         code="McpStart", hint="")

    def _died(self, what: str, tell: bool) -> QwenError:
        self.told = self.told or tell
        self.request_stop()
        self.ended.wait(STOP_WAIT)
        return self.death(f" during {what}")

    def death(self, during: str = "") -> QwenError:
        """The one line that says this server died, and that the next use starts it again."""
        self.reason = self._how() + during + self._stderr_said()
        return QwenError(f"The MCP server {self.name} {self.reason}; the next use starts it again.",
                         code="McpDied", hint="")

    def failure_text(self) -> str:
        """What ended this run, for a listing."""
        return self._how() + self._stderr_said() if self.running_once and not self.told else self.reason

    def _how(self) -> str:
        status = getattr(self.process, "returncode", None)
        cause = _root(self.failure) if self.failure is not None else None
        if status is not None:
            return f"died ({_exit(status)})"
        if cause is not None:
            return f"stopped answering ({type(cause).__name__}: {cause})"
        return "stopped answering" if self.config.url else "died"

    def _timed_out(self, what: str, timeout: float) -> QwenError:
        return QwenError(f"The MCP server {self.name} did not finish {what} within {timeout:g} s; the call was "
                         "cancelled.", code="McpTimeout",
                         hint='Raise the server\'s "timeout" in QwenMagics.mcp_servers if it needs longer.')

    def _stderr_said(self) -> str:
        said = self.stderr.last() if self.stderr is not None else ""
        return f"; its stderr ended: {said}" if said else ""


class _Tail:
    """A server's stderr, read by a thread from a pipe: the last lines are kept for its errors."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.writer = os.fdopen(write, "w")  # the server's stderr (this copy closes once it is spawned)
        self.lines: collections.deque[str] = collections.deque(maxlen=5)
        self._thread = threading.Thread(target=self._read, args=(os.fdopen(read, "rb"),), daemon=True)
        self._thread.start()

    def _read(self, pipe: Any) -> None:
        with pipe:
            for line in pipe:
                text = line.decode("utf-8", "replace").strip()
                if text:
                    self.lines.append(text)

    def finish(self) -> None:
        """Wait (briefly) for the last lines of a process that has ended."""
        self.writer.close()
        self._thread.join(1.0)

    def last(self) -> str:
        """The last lines, one line (the end kept when long)."""
        text = " | ".join(self.lines)
        return text if len(text) <= 400 else "…" + text[-400:]


def _spawned(transport: Any) -> Any:
    """The process stdio_client started (for its pid and exit status): the SDK keeps it in the generator's frame
    and exposes it nowhere else, so it is read from there; None if that ever changes (then neither is said)."""
    frame = getattr(getattr(transport, "gen", None), "ag_frame", None)
    process = frame.f_locals.get("process") if frame is not None else None
    return process if hasattr(process, "returncode") and hasattr(process, "pid") else None


def _exit(status: int) -> str:
    names = {number.value: number.name for number in signal.Signals}
    return f"exit status {status}" if status >= 0 else f"killed by {names.get(-status, f'signal {-status}')}"


def _root(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's exception groups."""
    while getattr(exc, "exceptions", None):
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def invalid(message: str) -> QwenError:
    """A configuration or use that cannot work, in one line."""
    return QwenError(message, code="InvalidInput", hint="")


@functools.cache
def mcp_sdk() -> Any:
    """The mcp package, imported on first use (when it is missing: one line that names the extra)."""
    try:
        import mcp
        import mcp.client.streamable_http
    except ImportError:
        raise invalid("MCP servers need the mcp package: pip install 'qwen-jupyter[mcp]'.") from None
    # The SDK logs what it also raises; the toolkit says it in one line, so nothing prints unless the person
    # configured logging (a handler here keeps Python's last-resort printer away).
    logging.getLogger("mcp").addHandler(logging.NullHandler())
    return mcp


_LIVE: set[ServerRun] = set()  # every started run, so the process's exit stops them


def stop_all(runs: Iterable[ServerRun]) -> None:
    """Stop the runs side by side, waiting for each (briefly)."""
    runs = list(runs)
    for run in runs:  # all asked first: they stop side by side
        run.request_stop()
    for run in runs:
        if run._thread.is_alive():
            run._thread.join(STOP_WAIT)


atexit.register(lambda: stop_all(list(_LIVE)))
