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

import concurrent.futures
import contextlib
import difflib
import hashlib
import inspect
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..core.errors import QwenError, redact
from ..core.text import visible
from ..core.tools import Tool, ToolFailed, as_tool
from .mcp_process import START_TIMEOUT, TIMEOUT, McpToolError, ServerConfig, ServerRun, invalid, stop_all

NAME_LIMIT = 64  # the API's limit on a function name
LINE_LIMIT = 160  # characters of a tool's description a listing shows
# A tool's description and inputSchema go with every question it is offered with, and are paid for each time:
# past this many characters (about 8,000 tokens) a server is refused rather than quietly costing that much.
TOOL_SIZE_LIMIT = 32_000
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]+")


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


def parse_config(config: Mapping[str, Any] | None) -> dict[str, ServerConfig]:
    """The servers of a QwenMagics.mcp_servers value, checked (a bad entry is a one-line QwenError)."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise invalid(f"QwenMagics.mcp_servers must be a dict of servers by name, not {type(config).__name__}.")
    return {name: _parse_entry(name, entry) for name, entry in config.items()}


def _parse_entry(name: Any, entry: Any) -> ServerConfig:
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise invalid(f"The MCP server name {name!r} must be letters, digits, _ and - (it is what --mcp names).")
    where = f"MCP server {name}"
    if not isinstance(entry, Mapping):
        raise invalid(f'{where}: give {{"command": [...], "env": {{...}}}} or {{"url": "http://…"}}, '
                      f"not {type(entry).__name__}.")
    if ("command" in entry) == ("url" in entry):
        raise invalid(f'{where}: give either "command" (a list: the program and its arguments) or "url".')
    allowed = ("url", "timeout") if "url" in entry else ("command", "env", "timeout")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise invalid(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}.")
    timeout = entry.get("timeout", TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise invalid(f'{where}: "timeout" must be a number of seconds above 0.')
    if "url" in entry:
        url = entry["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid(f'{where}: "url" must be an http:// or https:// address.')
        return ServerConfig(url=url, timeout=float(timeout))
    command = entry["command"]
    if (not isinstance(command, (list, tuple)) or not command
            or not all(isinstance(part, str) and part for part in command)):
        raise invalid(f'{where}: "command" must be a list of strings, the program first: ["python", "server.py"].')
    env = entry.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise invalid(f'{where}: "env" must be a dict of strings: {{"NAME": "value"}}.')
    return ServerConfig(command=tuple(command), env=tuple(sorted(env.items())), timeout=float(timeout))


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
        self._config: dict[str, ServerConfig] = {}
        self._runs: dict[str, ServerRun] = {}
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
        stop_all(stale)

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
        stop_all(runs)

    def _chosen(self, names: Iterable[str] | str) -> list[str]:
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",")]
        chosen = list(dict.fromkeys(name for name in names if name))
        for name in chosen:
            if name not in self._config:
                close = difflib.get_close_matches(name, list(self._config), n=1)
                configured = ", ".join(self._config) or ("none (set QwenMagics.mcp_servers, or give chat() "
                                                         "mcp={'name': {'command': [...]}})")
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                raise invalid(f"No MCP server is called {name!r}{guess}; the configured ones are: {configured}.")
        return chosen

    def _run(self, name: str) -> ServerRun:
        """The server's live session: started on first use; a death not yet told is told once, then it restarts."""
        with self._lock:
            starting = self._starting.setdefault(name, threading.Lock())
        with starting:
            with self._lock:
                run, config = self._runs.get(name), self._config.get(name)
            if config is None:
                raise invalid(f"The MCP server {name} is no longer configured.")
            if run is not None and run.alive:
                return run
            if run is not None and run.running_once and not run.told:
                run.told = True
                stop_all([run])
                raise run.death()
            run = ServerRun(name, config, self.start_timeout)
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
