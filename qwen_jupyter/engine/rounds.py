"""The rounds of a request with tools: the model calls, the toolkit runs the calls in the kernel and sends the
results back (in each API's own format, by the backends), until the model answers or the round limit is hit.

Everything happens as events in one stream, so the result, the conversation and the views see the rounds as
they go: the model's deltas (tool-call indices numbered across rounds), a ToolRunning and a ToolOutput per call,
a Step per message that goes back to the model, and usage summed over the rounds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

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
from ..core.tools import DECLINED, ERROR_PREFIX, Tool, Toolbox, ToolFailed, ToolResult
from .approval import Approval, Approve, approve_all, nobody_to_ask

MAX_ROUNDS = 8
OUTPUT_LIMIT = 20_000  # characters of a tool's output sent back to the model (and shown)
INTERRUPTED = "Interrupted while it ran: what it did before stays done."

class Declined(Exception):
    """The person said no to a call (the model is told, and goes on without it)."""


def tool_rounds(request: Request, settings: Settings, tools: Toolbox, *, max_rounds: int = MAX_ROUNDS,
                approve: Approve | None = None, confirm_all: bool = False) -> Iterator[Event]:
    """Events for a request whose calls the toolkit answers, round after round. A call of a tool that asks (the
    agent's run_python), or every call with `confirm_all` (--confirm), runs only when `approve` says yes."""
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
                for event in _run(offset + position, call, tools, approve, confirm_all):
                    if type(event) is Step:
                        steps.append(event.message)
                    yield event
        except QwenError as error:  # nothing could ask for an approval: stop here, keeping what happened
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


def _run(index: int, call: ToolCall, tools: Toolbox, approve: Approve | None, confirm_all: bool) -> Iterator[Event]:
    """Run one call (ToolRunning, then ToolOutput and the Step with its result for the model)."""
    tool = tools.get(call.name)
    asks = tool is not None and tool.function is not None and (tool.asks or confirm_all)
    waits = asks and approve is not approve_all  # with --yes nobody is asked: the call shows as running
    yield ToolRunning(index, call.name, call.arguments, asks=waits, code_argument=tool.code if tool else None)
    started = time.perf_counter()
    output, error, approved, displays = None, None, None, ()
    try:
        arguments = _checked(call, tool, tools)
        if asks:
            _fitting(tool, arguments)  # a call that could not run is not put to the person
            try:
                approved = _approved(tool, arguments, approve)
            except QwenError as nobody:  # nothing could ask: the call shows as not run, and the answer stops
                yield ToolOutput(index, None, nobody.message, time.perf_counter() - started, approved=False)
                raise
            except KeyboardInterrupt:  # an interrupt instead of an answer is a no (as the panel's Stop is)
                yield ToolOutput(index, None, DECLINED, time.perf_counter() - started, approved=False)
                raise
        try:
            value = _call(tool, arguments)
        except (KeyboardInterrupt, QwenError) as stopped:  # it ran, and the answer stops here (an interrupt, an MCP
            # server that died or timed out): the call's record says so, not that it never ran
            said = stopped.message if isinstance(stopped, QwenError) else INTERRUPTED
            yield ToolOutput(index, None, said, time.perf_counter() - started, approved=approved)
            raise
        displays = value.displays if isinstance(value, ToolResult) else ()
        output = _result_text(value.text if isinstance(value, ToolResult) else value)
    except Declined:
        error, approved = DECLINED, False
    except _BadCall as exc:
        error = str(exc)
    except ToolFailed as exc:
        error, displays = str(exc), exc.displays
    except (KeyboardInterrupt, QwenError):
        raise
    except Exception as exc:  # the tool's own failure goes to the model (and is shown), like any result
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    yield ToolOutput(index, output, error, seconds, approved=approved, displays=displays)
    sent = output if error is None else ERROR_PREFIX + error
    # What goes back to the model is bounded and carries no key this process used (an approved print(os.environ)).
    yield Step(Message("tool", _clip(redact(sent or "")), tool_call_id=call.id))


def _approved(tool: Tool, arguments: dict[str, Any], approve: Approve | None) -> bool:
    approval = Approval(tool, arguments)
    if approve is None:
        raise nobody_to_ask(approval)
    if not approve(approval):
        raise Declined()
    return True


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
    except RecursionError:
        raise _BadCall("The arguments are nested too deeply to read; send a flat JSON object.") from None
    if not isinstance(arguments, dict):
        raise _BadCall("The arguments must be a JSON object.")
    return arguments


def _checked(call: ToolCall, tool: Tool | None, tools: Toolbox) -> dict[str, Any]:
    """The call's arguments, parsed before anything is shown or run (what is approved is what runs)."""
    if tool is None:
        raise _BadCall(f"There is no tool called {call.name!r}; the tools are: {', '.join(tools.tools)}.")
    return parse_arguments(call.arguments)


def _fitting(tool: Tool, arguments: dict[str, Any]) -> None:
    with _parameters_of(tool):
        tool.check(arguments)


def _call(tool: Tool, arguments: dict[str, Any]) -> Any:
    with _parameters_of(tool):
        return tool.run(arguments)


@contextlib.contextmanager
def _parameters_of(tool: Tool) -> Iterator[None]:
    """Arguments that do not fit the tool's parameters are the model's error, said as such."""
    import pydantic  # with the first call, not with the first question

    try:
        yield
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        raise _BadCall(f"The arguments do not fit {tool.name}'s parameters ({problems}).") from None


def _result_text(value: Any) -> str:
    """What the model is sent for a tool's return value: strings as they are, anything else as JSON if it can be."""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump_json"):  # a pydantic model
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
