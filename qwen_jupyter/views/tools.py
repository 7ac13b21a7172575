"""Tool calls as compact collapsible blocks: name, arguments, result or error, time. Our HTML, every piece of
the model's or the tool's text escaped (the layout cleaner passes it afterwards like everything else)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..core.events import ServiceToolCall, ToolOutput, ToolRunning
from ..core.text import clipped, visible
from ..core.tools import DECLINED, ERROR_PREFIX

SHOWN = 2_000  # characters of arguments or output shown in a block (all of it is on result.tool_calls)
_BOX = ("border:1px solid var(--jp-border-color2, var(--vscode-panel-border, #d0d0d0));border-radius:4px;"
        "padding:.2em .5em;margin:.3em 0;font-size:.9em")


def _clip(text: str) -> str:
    return clipped(text, SHOWN)


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, indent=1)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes (a hostile model)
        return arguments


def _inline(arguments: str) -> str:
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments
    if isinstance(value, dict):
        return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
    return arguments


def tool_block(name: str, arguments: str, output: str | None = None, error: str | None = None,
               seconds: float | None = None, running: bool = False, approved: bool | None = None,
               asks: bool = False, code: str | None = None) -> str:
    """One call: a summary line (open while it runs or waits for approval) and its arguments and result; the
    argument that is code to run (`code`) is shown as code."""
    if running:
        state = "waiting for your approval…" if asks else "running…"
    elif approved is False:
        state = "✗ not run: you said no" if error == DECLINED else "✗ not run: nobody could approve it"
    elif error is not None:
        state = "⚠ error"
    elif output is None:
        state = "not run (answer it yourself)"
    else:
        state = "✓ approved by you" if approved else "✓"
    timing = f" · {seconds:.2f} s" if seconds is not None and not running else ""
    source, rest = _code_of(arguments, code)
    # The call reads as its approval reads, every hidden character written out: a right-to-left override in the
    # block beside the prompt would make the code read otherwise there.
    call = escape(visible(f"{name}({_clip(_inline(rest))[:120]})"))
    parts = [f"<summary>Tool <code>{call}</code> {escape(state)}{timing}</summary>"]
    if source is not None:
        parts.append(f"<div>Code</div><pre><code>{escape(_clip(visible(source)))}</code></pre>")
    if source is None or rest != "{}":
        parts.append(f"<div>Arguments</div><pre><code>{escape(_clip(visible(_pretty(rest))))}</code></pre>")
    if error is not None:
        parts.append(f"<div>Error</div><pre><code>{escape(_clip(error))}</code></pre>")
    elif output is not None:
        parts.append(f"<div>Result</div><pre><code>{escape(_clip(output))}</code></pre>")
    return f'<details class="qwen-tool-call" style="{_BOX}"{" open" if running else ""}>{"".join(parts)}</details>'


def _code_of(arguments: str, code: str | None) -> tuple[str | None, str]:
    """The code argument's text and the other arguments (JSON), when the call runs code."""
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return None, arguments
    if not code or not isinstance(value, dict) or not isinstance(value.get(code), str):
        return None, arguments
    return value[code], json.dumps({k: v for k, v in value.items() if k != code}, ensure_ascii=False)


def tool_calls_html(result: Any) -> str:
    """Every call of a finished result, in order."""
    return "".join(tool_block(c.name, c.arguments_json, c.output, c.error, c.seconds, approved=c.approved,
                              code=c.code_argument) for c in result.tool_calls)


def tool_calls_text(result: Any) -> list[str]:
    """Every call of a finished result as plain text lines."""
    lines = []
    for call in result.tool_calls:
        outcome = f" -> error: {call.error}" if call.error else f" -> {call.output}" if call.output is not None else ""
        lines.append(f"Tool call {call.name}({visible(_inline(call.arguments_json))}){_clip(outcome)}")
    return lines


def turn_tools_html(turn: Any) -> str:
    """The calls of a stored turn (its tool rounds, and calls left for the caller), with their results."""
    results = {m.tool_call_id: m.text for m in turn.steps if m.role == "tool"}
    blocks = []
    for message in (*turn.steps, turn.assistant):
        for call in message.tool_calls if message.role == "assistant" else ():
            text = results.get(call.id)
            failed = text is not None and text.startswith(ERROR_PREFIX)
            blocks.append(tool_block(call.name, call.arguments, None if failed else text,
                                     text[len(ERROR_PREFIX):] if failed else None))
    return "".join(blocks)


class LiveCalls:
    """The calls of a turn in progress as blocks, updated as they run (the panel's live turn)."""

    def __init__(self) -> None:
        self.blocks: dict[int, str] = {}  # by call index, in the order they started
        self.started: dict[int, ToolRunning] = {}

    def on_event(self, event: ToolRunning | ToolOutput | ServiceToolCall) -> int | None:
        """Take a call's start or end (or a call the service ran itself); returns the key of the block it changed."""
        if isinstance(event, ServiceToolCall):
            key = -1 - len(self.blocks)  # the service's own calls: keys no function call uses
            self.blocks[key] = tool_block(event.name, event.arguments, event.output)
            return key
        if isinstance(event, ToolRunning):
            self.started[event.index] = event
            self.blocks[event.index] = tool_block(event.name, event.arguments, running=True, asks=event.asks,
                                                  code=event.code_argument)
            return event.index
        if event.index not in self.started:
            return None
        started = self.started[event.index]
        self.blocks[event.index] = tool_block(started.name, started.arguments, event.output, event.error,
                                              event.seconds, approved=event.approved, code=started.code_argument)
        return event.index

    def html(self) -> str:
        """Every block so far."""
        return "".join(self.blocks.values())
