"""The rounds of a request with tools: the model calls, the toolkit runs the calls in the kernel and sends the
results back (in each API's own format, by the backends), until the model answers or the round limit is hit.

Everything happens as events in one stream, so the result, the conversation and the views see the rounds as
they go: the model's deltas (tool-call indices numbered across rounds), a ToolRunning and a ToolOutput per call,
a Step per message that goes back to the model, and usage summed over the rounds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pydantic

from ..backends import stream_events
from ..core.errors import QwenError, redact
from ..core.events import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    Step,
    TextDelta,
    ToolCallDelta,
    ToolOutput,
    ToolRunning,
    Usage,
    join_fragment,
)
from ..core.messages import Message, ToolCall
from ..core.request import Request
from ..core.settings import Settings
from ..core.text import visible
from ..core.tools import ERROR_PREFIX, Toolbox

MAX_ROUNDS = 8
OUTPUT_LIMIT = 20_000  # characters of a tool's output sent back to the model (and shown)

Confirm = Callable[[str, str], bool]
"""Asked before each call with the tool's name and its arguments (JSON); False declines the call."""


SHOWN_LIMIT = 4_000  # characters of a call shown before asking; the rest is folded with its count, "all" shows it


def describe_call(name: str, arguments: str) -> str:
    """What a call will run, for a person to approve: the tool and its arguments as they will be passed (one per
    line, whole), every character that would not show as itself written out."""
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return visible(f"{name}({arguments})")
    lines = [f"{visible(name)}("] + [f"    {visible(key)}={visible(json.dumps(value, ensure_ascii=False))},"
                                     for key, value in parsed.items()] + [")"]
    return "\n".join(lines) if parsed else f"{visible(name)}()"


def ask_on_stdin(name: str, arguments: str) -> bool:
    """Ask the person (through the front end's input box) whether to run a call, showing exactly what will run;
    no stdin refuses the call."""
    shown = describe_call(name, redact(arguments))
    folded = len(shown) > SHOWN_LIMIT
    print(f"The model asks to run:\n{shown[:SHOWN_LIMIT]}")
    if folded:
        print(f"… {len(shown) - SHOWN_LIMIT:,} more characters (answer 'all' to see them before deciding)")
    try:
        while True:
            answer = input(f"Run {visible(name)}? [y/N{'/all' if folded else ''}] ").strip().lower()
            if answer != "all":
                return answer in ("y", "yes")
            print(shown)
    except (EOFError, RuntimeError, NotImplementedError) as exc:  # nbconvert, papermill: no one to ask
        raise QwenError("Tool calls need confirmation (--confirm), but nothing here can ask: the call was not run.",
                        code="NoStdin", hint="Run the cell in a front end with input, or without --confirm.") from exc


class Declined(Exception):
    """The person said no to a call (the model is told, and goes on without it)."""


def tool_rounds(request: Request, settings: Settings, tools: Toolbox, *, max_rounds: int = MAX_ROUNDS,
                confirm: Confirm | None = None) -> Iterator[Event]:
    """Events for a request whose calls the toolkit answers, round after round."""
    messages, offset, usage = request.messages, 0, _Sum()
    for round_number in range(1, max_rounds + 1):
        calls: dict[int, list[str | None]] = {}
        text: list[str] = []
        reasoning: list[str] = []
        finish = None
        for event in stream_events(request.with_messages(messages), settings):
            kind = type(event)
            if kind is TextDelta:
                text.append(event.text)
            elif kind is ReasoningDelta:
                reasoning.append(event.text)
            elif kind is ToolCallDelta:
                join_fragment(calls.setdefault(event.index, [None, None, ""]), event)
                event = replace(event, index=event.index + offset)
            elif kind is Usage:
                event = usage.add(event)
            elif kind is Finished:
                finish = event
                if calls:
                    continue  # not the end: the answer comes after the calls
            elif kind is Failed:
                yield event
                return
            yield event
        if finish is None or not calls:
            return  # answered (or the stream ended short: the result notices)
        usage.close_round()
        asked = tuple(ToolCall(c[0] or f"call_{offset + i}", c[1] or "", c[2] or "{}")
                      for i, c in sorted(calls.items()))
        steps = [Message("assistant", "".join(text), reasoning="".join(reasoning), tool_calls=asked)]
        yield Step(steps[0])
        if any(tool is not None and tool.function is None for tool in map(tools.get, (c.name for c in asked))):
            yield finish  # a plain schema's call: the caller answers it (result.tool_calls), so the stream ends
            return
        try:
            for position, call in enumerate(asked):
                for event in _run(offset + position, call, tools, confirm):
                    if type(event) is Step:
                        steps.append(event.message)
                    yield event
        except QwenError as error:  # nothing could ask for --confirm: stop here, keeping what happened
            yield Failed(error)
            return
        offset += len(asked)
        if round_number == max_rounds:
            yield Failed(QwenError(f"The model was still calling tools after {max_rounds} rounds, so they stopped.",
                                   code="ToolRounds", hint="Raise --max-rounds (max_rounds=) to let it go on."))
            return
        if text:
            yield TextDelta("\n\n")  # the next round's words start a new paragraph
        messages = messages + tuple(steps)


def _run(index: int, call: ToolCall, tools: Toolbox, confirm: Confirm | None) -> Iterator[Event]:
    """Run one call (ToolRunning, then ToolOutput and the Step with its result for the model)."""
    yield ToolRunning(index, call.name, call.arguments)
    started = time.perf_counter()
    output, error = None, None
    try:
        output = _result_text(_call(call, tools, confirm))
    except Declined:
        error = "The person declined this call."
    except _BadCall as exc:
        error = str(exc)
    except (KeyboardInterrupt, QwenError):
        raise
    except Exception as exc:  # the tool's own failure goes to the model (and is shown), like any result
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    yield ToolOutput(index, output, error, seconds)
    sent = output if error is None else ERROR_PREFIX + error
    yield Step(Message("tool", _clip(sent or ""), tool_call_id=call.id))


class _BadCall(Exception):
    """Arguments the model sent that are not JSON, do not fit the schema, or name no offered tool."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen = [key for key, _ in pairs]
    repeated = sorted({key for key in seen if seen.count(key) > 1})
    if repeated:  # JSON keeps the last of a repeated key: what a person reads first would not be what runs
        raise _BadCall(f"The arguments give {repeated[0]!r} more than once; give each argument once.")
    return dict(pairs)


def parse_arguments(text: str) -> dict[str, Any]:
    """A call's arguments as a dict; not JSON, not an object, or a key given twice is the model's error."""
    try:
        arguments = json.loads(text or "{}", object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise _BadCall(f"The arguments are not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(arguments, dict):
        raise _BadCall("The arguments must be a JSON object.")
    return arguments


def _call(call: ToolCall, tools: Toolbox, confirm: Confirm | None) -> Any:
    tool = tools.get(call.name)
    if tool is None:
        raise _BadCall(f"There is no tool called {call.name!r}; the tools are: {', '.join(tools.tools)}.")
    arguments = parse_arguments(call.arguments)
    # What is approved is what runs: the parsed arguments, not the model's text (where a repeated key hides).
    if confirm is not None and not confirm(call.name, json.dumps(arguments, ensure_ascii=False)):
        raise Declined()
    try:
        return tool.run(arguments)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        raise _BadCall(f"The arguments do not fit {call.name}'s parameters ({problems}).") from None


def _result_text(value: Any) -> str:
    """What the model is sent for a tool's return value: strings as they are, anything else as JSON if it can be."""
    if isinstance(value, str):
        return value
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, ensure_ascii=False, default=_plain)
    except (TypeError, ValueError):
        return repr(value)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return f"{text[:OUTPUT_LIMIT]}\n[… {len(text) - OUTPUT_LIMIT:,} more characters not sent]"


class _Sum:
    """Usage over the rounds: each round's last Usage (DashScope's are cumulative within a round) added up."""

    def __init__(self) -> None:
        self.done = Usage()
        self.current = Usage()

    def add(self, usage: Usage) -> Usage:
        self.current = usage
        return _plus(self.done, usage)

    def close_round(self) -> None:
        self.done, self.current = _plus(self.done, self.current), Usage()


def _plus(a: Usage, b: Usage) -> Usage:
    def add(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Usage(*(add(getattr(a, f), getattr(b, f)) for f in Usage.__dataclass_fields__))
