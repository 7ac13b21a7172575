"""The kernel's MCP servers: one McpServers for the process, configured from the notebook's QwenMagics.mcp_servers
(read on each use, so a `%config` takes effect at the next ask). The magic's --mcp, chat(mcp=…), the panel's
tool picker and `%qwen mcp` all ask this one set, so a server started for a cell is the panel's too.

A plain script has no QwenMagics: chat(mcp={"name": {...}}) names its servers in place, kept for the process's
later calls (a name the notebook configures differently is an error rather than a silent choice).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import QwenError
from ..core.settings import configured
from ..core.tools import Tool
from .mcp import McpServers, parse_config

_lock = threading.Lock()
_servers: McpServers | None = None
_given: dict[str, Any] = {}  # servers chat(mcp={...}) named, by name


def servers() -> McpServers:
    """The kernel's servers, as the notebook's mcp_servers and the servers chat() named configure them now."""
    global _servers
    notebook = dict(configured("mcp_servers") or {})
    parse_config(notebook)  # a bad setting is its own one-line error, before it is merged
    with _lock:
        merged = {**_given, **notebook}
        if _servers is None:
            _servers = McpServers(merged)
        else:
            _servers.configure(merged)
        return _servers


def tools(chosen: str | Iterable[str] | Mapping[str, Any], prefix: bool = False) -> list[Tool]:
    """The tools of the servers named ("a,b", a list) or given ({"name": {"command": [...]}}), started if need be."""
    if isinstance(chosen, Mapping):
        _remember(chosen)
        chosen = list(chosen)
    return servers().tools(chosen, prefix=prefix)


def listing(names: str | None = None) -> str:
    """What `%qwen mcp [NAMES]` prints: each server, started to list its tools."""
    return servers().listing(names or None)


def configured_names() -> list[str]:
    """The servers a tool picker offers, without starting any."""
    return list({**_given, **(configured("mcp_servers") or {})})


def _remember(given: Mapping[str, Any]) -> None:
    parse_config(given)
    notebook = configured("mcp_servers") or {}
    for name, entry in given.items():
        if name in notebook and notebook[name] != entry:
            raise QwenError(f"The MCP server {name} is configured differently in QwenMagics.mcp_servers; give the "
                            "one in chat(mcp=…) another name, or name it alone (mcp=[…]).", code="InvalidOption",
                            hint="")
    with _lock:
        _given.update(given)
