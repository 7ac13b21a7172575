"""Model Context Protocol servers as tools: QwenMagics.mcp_servers names them ({"name": {"command": [...],
"env": {...}}} for stdio, {"name": {"url": "http://…"}} for streamable HTTP, either with an optional "timeout" in
seconds per call), McpServers runs them. A server starts on first use and keeps one session for the kernel's life,
on its own event loop in a daemon thread (the `mcp` SDK is async, and a kernel's main thread already runs a loop);
everything here is synchronous. Every server stops at close() and at exit.

tools() gives their tools as core.tools.Tool objects that the tool rounds run like the notebook's own functions:
arguments checked against the inputSchema before the call, the text back to the model, an isError result raised
as McpToolError (the model reads it). The servers' own failures (unknown, not starting, timing out, dead) are
one-line QwenErrors. A stdio server gets the SDK's minimal environment (PATH, HOME, USER, LOGNAME, SHELL, TERM)
plus its "env": the kernel's variables, DASHSCOPE_API_KEY among them, reach it only when its "env" names them.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import functools
import hashlib
import inspect
import json
import logging
import os
import re
import shlex
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..core.errors import QwenError, redact
from ..core.text import visible
from ..core.tools import Tool, ToolFailed, as_tool

TIMEOUT = 60.0  # seconds a tool call may take, unless the server's config says "timeout"
START_TIMEOUT = 30.0  # seconds for a server to start and answer initialize (and later tools/list)
STOP_WAIT = 10.0  # the SDK's own shutdown: stdin closed, 2 s, SIGTERM, 2 s, SIGKILL
NAME_LIMIT = 64  # the API's limit on a function name
LINE_LIMIT = 160  # characters of a tool's description a listing shows
# A tool's description and inputSchema go with every question it is offered with, and are paid for each time:
# past this many characters (about 8,000 tokens) a server is refused rather than quietly costing that much.
TOOL_SIZE_LIMIT = 32_000
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]+")


class McpToolError(ToolFailed):
    """A tool that answered with isError: its message goes to the model (as the call's error), which may go on."""


class McpArgumentsError(ToolFailed):
    """Arguments that do not fit the tool's inputSchema: refused before the call, and the model is told why."""


@dataclass(frozen=True)
class McpTool(Tool):
    """A tool of an MCP server: `function(**arguments)` checks them and calls the tool on its server."""

    server: str = ""
    remote: str = ""  # the name the server gives it (`name` is the one the model sees)
    checker: Callable[[dict[str, Any]], None] | None = None  # the inputSchema's check (McpArgumentsError)

    def check(self, arguments: dict[str, Any]) -> None:
        """Check the model's arguments against the tool's inputSchema, calling nothing."""
        if self.checker is not None:
            self.checker(arguments)

    def run(self, arguments: dict[str, Any]) -> Any:
        """Call the tool with the model's arguments (checked against its inputSchema by the function)."""
        assert self.function is not None
        return self.function(**arguments)


@dataclass(frozen=True)
class ServerStatus:
    """One configured server: what it runs, whether it is started, its tools (when started), its last failure."""

    name: str
    target: str  # the command line or the url
    started: bool
    tools: tuple[tuple[str, str], ...] = ()  # each tool's name (as the server gives it) and first line
    error: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class _Config:
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str = ""
    timeout: float = TIMEOUT

    @property
    def target(self) -> str:
        return redact(shlex.join(self.command)) if self.command else redact(self.url)


def parse_config(config: Mapping[str, Any] | None) -> dict[str, _Config]:
    """The servers of a QwenMagics.mcp_servers value, checked (a bad entry is a one-line QwenError)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise _invalid(f"QwenMagics.mcp_servers must be a dict of servers by name, not {type(config).__name__}.")
    return {name: _parse_entry(name, entry) for name, entry in config.items()}


def _parse_entry(name: Any, entry: Any) -> _Config:
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise _invalid(f"The MCP server name {name!r} must be letters, digits, _ and - (it is what --mcp names).")
    where = f"MCP server {name}"
    if not isinstance(entry, Mapping):
        raise _invalid(f'{where}: give {{"command": [...], "env": {{...}}}} or {{"url": "http://…"}}, '
                       f"not {type(entry).__name__}.")
    if ("command" in entry) == ("url" in entry):
        raise _invalid(f'{where}: give either "command" (a list: the program and its arguments) or "url".')
    allowed = ("url", "timeout") if "url" in entry else ("command", "env", "timeout")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _invalid(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}.")
    timeout = entry.get("timeout", TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise _invalid(f'{where}: "timeout" must be a number of seconds above 0.')
    if "url" in entry:
        url = entry["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _invalid(f'{where}: "url" must be an http:// or https:// address.')
        return _Config(url=url, timeout=float(timeout))
    command = entry["command"]
    if (not isinstance(command, (list, tuple)) or not command
            or not all(isinstance(part, str) and part for part in command)):
        raise _invalid(f'{where}: "command" must be a list of strings, the program first: ["python", "server.py"].')
    env = entry.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise _invalid(f'{where}: "env" must be a dict of strings: {{"NAME": "value"}}.')
    return _Config(command=tuple(command), env=tuple(sorted(env.items())), timeout=float(timeout))


def api_name(name: str) -> str:
    """The name the model sees: the same when the API takes it (letters, digits, _ and -, at most 64), else each
    other character as _ (a longer one cut, with a digest of the whole so different names stay different)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"
    if len(safe) <= NAME_LIMIT:
        return safe
    return f"{safe[:NAME_LIMIT - 9]}_{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"


class McpServers:
    """The configured MCP servers of a kernel: started on first use, stopped at close() and at exit."""

    def __init__(self, config: Mapping[str, Any] | None = None, *, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._starting: dict[str, threading.Lock] = {}  # one start at a time per server
        self._config: dict[str, _Config] = {}
        self._runs: dict[str, _Run] = {}
        self.configure(config)

    def __enter__(self) -> McpServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def configure(self, config: Mapping[str, Any] | None) -> None:
        """Take a new QwenMagics.mcp_servers value: a server removed or changed stops (it starts anew on use)."""
        parsed = parse_config(config)
        with self._lock:
            stale = [self._runs.pop(name) for name in list(self._runs)
                     if parsed.get(name) != self._config.get(name)]
            self._config = parsed
        _stop_all(stale)

    def tools(self, names: Iterable[str] | str, prefix: bool = False) -> list[Tool]:
        """The tools of these servers (started if need be), named as the servers name them or, with prefix,
        as server_tool; two tools of one name are an error that suggests the prefix."""
        chosen = self._chosen(names)
        with concurrent.futures.ThreadPoolExecutor(max(1, len(chosen))) as pool:  # servers start side by side
            listed = list(pool.map(lambda name: self._run(name).list_tools(), chosen))
        tools: list[Tool] = []
        owners: dict[str, tuple[str, str]] = {}
        for name, remote_tools in zip(chosen, listed, strict=True):
            for remote in remote_tools:
                offered = api_name(f"{name}_{remote.name}" if prefix else remote.name)
                if offered in owners:
                    first, its = owners[offered]
                    other = first != name and not prefix
                    raise QwenError(f"Two MCP tools would be called {offered}: {first}'s {its} and {name}'s "
                                    f"{remote.name}; tool names must differ.", code="InvalidTool",
                                    hint="Offer them prefixed with their server's name (prefix=True)." if other
                                    else "")
                owners[offered] = (name, remote.name)
                tools.append(self._tool(name, remote, offered))
        return tools

    def status(self, names: Iterable[str] | str | None = None, *, start: bool = False) -> list[ServerStatus]:
        """Each server's state; with start, the servers are started to list their tools (a failure is shown in
        its status, not raised)."""
        chosen = list(self._config) if names is None else self._chosen(names)
        if start:
            with concurrent.futures.ThreadPoolExecutor(max(1, len(chosen))) as pool:
                list(pool.map(self._quietly_started, chosen))
        out = []
        for name in chosen:
            run = self._runs.get(name)
            live = run is not None and run.alive
            tools: tuple[tuple[str, str], ...] = ()
            error = None if run is None or live else run.failure_text()
            if live:
                try:  # a listing shows a death it finds, and the next use still says it
                    tools = tuple((t.name, inspect.cleandoc(t.description or t.title or "").partition("\n")[0])
                                  for t in run.list_tools(tell=False))
                except QwenError as exc:
                    live, error = False, run.failure_text() if exc.code == "McpDied" else exc.message
            pid = getattr(run.process, "pid", None) if run is not None and live else None
            out.append(ServerStatus(name, self._config[name].target, live, tools, error, pid))
        return out

    def listing(self, names: Iterable[str] | str | None = None, *, start: bool = True) -> str:
        """What %qwen mcp prints: each server, whether it is started, its tools with a line each."""
        if not self._config:
            return ('No MCP servers are configured: %config QwenMagics.mcp_servers = {"name": {"command": '
                    '["python", "server.py"]}} (or {"name": {"url": "http://…"}}).')
        lines = []
        for server in self.status(names, start=start):
            state = (f"started, pid {server.pid}" if server.pid else "started") if server.started else (
                server.error or "not started: it starts on first use")
            lines.append(f"{server.name}: {server.target} ({state})")
            # Hidden characters written out: a right-to-left override makes "…\u202eexe.txt" read "…txt.exe".
            tools = [(visible(tool), visible(line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT - 1] + "…"))
                     for tool, line in server.tools]
            width = max((len(tool) for tool, _ in tools), default=0)
            lines += [f"  {tool.ljust(width)}  {line}".rstrip() for tool, line in tools]
        return "\n".join(lines)

    def close(self) -> None:
        """Stop every server (their processes end; a url's session is closed)."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        _stop_all(runs)

    def _chosen(self, names: Iterable[str] | str) -> list[str]:
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",")]
        chosen = list(dict.fromkeys(name for name in names if name))
        for name in chosen:
            if name not in self._config:
                configured = ", ".join(self._config) or "none (set QwenMagics.mcp_servers)"
                raise _invalid(f"No MCP server is called {name!r}; the configured ones are: {configured}.")
        return chosen

    def _run(self, name: str) -> _Run:
        """The server's live session: started on first use; a death not yet told is told once, then it restarts."""
        with self._lock:
            starting = self._starting.setdefault(name, threading.Lock())
        with starting:
            with self._lock:
                run, config = self._runs.get(name), self._config.get(name)
            if config is None:
                raise _invalid(f"The MCP server {name} is no longer configured.")
            if run is not None and run.alive:
                return run
            if run is not None and run.running_once and not run.told:
                run.told = True
                _stop_all([run])
                raise run.death()
            run = _Run(name, config, self.start_timeout)
            with self._lock:
                self._runs[name] = run
            run.start()
            return run

    def _quietly_started(self, name: str) -> None:
        with contextlib.suppress(QwenError):
            self._run(name)

    def _tool(self, server: str, remote: Any, offered: str) -> McpTool:
        schema = remote.input_schema if isinstance(remote.input_schema, dict) else {"type": "object"}
        description = inspect.cleandoc(remote.description or remote.title or "")  # a docstring's indent: noise
        try:
            checker = jsonschema.validators.validator_for(schema)
            checker.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise QwenError(f"The MCP server {server}'s tool {remote.name} has an inputSchema that is not a valid "
                            f"JSON schema ({exc.message}).", code="InvalidTool", hint="") from None
        validator = checker(schema)
        size = len(description) + len(json.dumps(schema, ensure_ascii=False))
        if size > TOOL_SIZE_LIMIT:
            raise QwenError(f"The MCP server {server}'s tool {remote.name} is described in {size:,} characters (its "
                            f"description and inputSchema), past the {TOOL_SIZE_LIMIT:,} sent with every question.",
                            code="InvalidTool", hint="Leave that server out, or ask its author to trim the tool.")

        def checked(arguments: dict[str, Any]) -> None:
            problems = sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
            if problems:
                said = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or 'arguments'}: {e.message}"
                                 for e in problems[:3])
                raise McpArgumentsError(f"The arguments do not fit {remote.name}'s inputSchema ({said}).")

        def call(**arguments: Any) -> str:
            checked(arguments)
            return self._call(server, remote.name, arguments)

        call.__name__, call.__doc__ = offered, description
        spec = as_tool({"name": offered, "description": description, "parameters": schema}).spec
        return McpTool(offered, spec, call, server=server, remote=remote.name, checker=checked)

    def _call(self, server: str, tool: str, arguments: dict[str, Any]) -> str:
        run = self._run(server)
        result = run.call(tool, arguments, run.config.timeout)
        text = _result_text(result)
        if getattr(result, "is_error", False):
            raise McpToolError(text or f"{tool} failed without saying why.")
        return text


class _Run:
    """One start of a server: its thread, event loop and session, until it is stopped or dies."""

    def __init__(self, name: str, config: _Config, start_timeout: float) -> None:
        _sdk()  # a missing package is said here, in the caller's thread
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
            _stop_all([self])
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
                params = _sdk().types.PaginatedRequestParams(cursor=cursor) if cursor else None
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
        sdk, session = _sdk(), self.session
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
        sdk = _sdk()
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
        if getattr(cause, "code", None) == _sdk().types.REQUEST_TIMEOUT:  # before its exit: the stop killed it
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


def _result_text(result: Any) -> str:
    """What the model reads of a tool's result: its text, a short note for anything else, no key."""
    parts = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(block.data or "") * 3 // 4
            parts.append(f"[{kind} ({block.mime_type}, {size:,} bytes): not sent to the model]")
        elif kind == "resource":  # an embedded resource: its text, or a note for its bytes
            inner = block.resource
            text = getattr(inner, "text", None)
            parts.append(text if isinstance(text, str) else f"[resource {inner.uri} ({inner.mime_type}): not sent]")
        elif kind == "resource_link":
            parts.append(f"[a link to {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content: not sent to the model]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return redact("\n".join(parts))


def _invalid(message: str) -> QwenError:
    return QwenError(message, code="InvalidInput", hint="")


@functools.cache
def _sdk() -> Any:
    """The mcp package, imported on first use (when it is missing: one line that names the extra)."""
    try:
        import mcp
        import mcp.client.streamable_http
    except ImportError:
        raise _invalid("MCP servers need the mcp package: pip install 'qwen-jupyter[mcp]'.") from None
    # The SDK logs what it also raises; the toolkit says it in one line, so nothing prints unless the person
    # configured logging (a handler here keeps Python's last-resort printer away).
    logging.getLogger("mcp").addHandler(logging.NullHandler())
    return mcp


_LIVE: set[_Run] = set()  # every started run, so the process's exit stops them


def _stop_all(runs: Iterable[_Run]) -> None:
    runs = list(runs)
    for run in runs:  # all asked first: they stop side by side
        run.request_stop()
    for run in runs:
        if run._thread.is_alive():
            run._thread.join(STOP_WAIT)


atexit.register(lambda: _stop_all(list(_LIVE)))
