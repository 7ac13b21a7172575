"""QwenResult: folded from events, streamed once and then replayed; what `_qwen` and chat() hold."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import Interrupted, QwenError
from .events import (
    Connecting,
    Event,
    Failed,
    SearchResult,
    ToolOutput,
    Usage,
)
from .fold import Fold, ToolUse, arguments_of
from .images import open_png, save_pngs
from .logprobs import TokenLogprob, entries, logprobs_frame
from .messages import Message, ToolCall
from .ocr import Reading, reading
from .research import rounds
from .settings import ANSWER_LIMIT
from .shell import running_shell
from .speech import Speech
from .text import printable


def interrupted_error() -> QwenError:
    """The error a result carries when the person stopped the stream."""
    return QwenError("The answer was interrupted.", code="Interrupted")


def too_long_error(limit: int) -> QwenError:
    """The error a result carries when a runaway stream passed the answer-size limit."""
    return QwenError(f"The answer passed {limit:,} characters, so the stream was stopped.", code="AnswerTooLong",
                     hint="Raise QwenMagics.max_answer_chars (or chat(max_answer_chars=...)) if this is expected.")


class _Raising:
    """Iterates a result's events, then raises the answer's error if it failed. A plain iterator, not a
    generator: leaving a loop early must not close the live stream under it (wait() reads the rest)."""

    def __init__(self, result: QwenResult, events: Iterator[Event]) -> None:
        self.result, self.events = result, events

    def __iter__(self) -> _Raising:
        return self

    def __next__(self) -> Event:
        try:
            return next(self.events)
        except StopIteration:
            if self.result.done:
                self.result.raise_error()
            raise


class QwenResult:
    """One answer: text, reasoning, usage, tool calls, images, search results, error, and the SDK's raw objects.

    Built from a stream of events. Reading a field waits for the stream to end; iterating yields the events
    live the first time and replays them afterwards.
    """

    def __init__(
        self,
        events: Iterable[Event],
        *,
        messages: tuple[Message, ...] = (),
        model: str | None = None,
        api: str | None = None,
        region: str | None = None,
        on_complete: Callable[[QwenResult], None] | None = None,
        max_answer_chars: int = ANSWER_LIMIT,
        searched: bool = False,
    ) -> None:
        self.searched = searched  # the request asked to search the web (the footer says when no sources came)
        self._limit = max_answer_chars
        self._source: Iterator[Event] | None = iter(events)
        self._live: Iterator[Event] | None = None
        self._fold = Fold()
        self._fold.model = model
        self._sent = messages
        self.api = api
        self.region = region  # where it was asked: its cost is estimated at that region's prices
        self._on_complete = on_complete
        self._started_at = time.perf_counter()  # reset when the stream starts: chat() is lazy
        self._ended_at: float | None = None
        self._reader: int | None = None  # the thread reading the live stream
        self._raw: list[Any] | None = None
        self._finished = threading.Event()
        self._hang_up: Callable[[], None] | None = None  # cuts the connection being read (stop from elsewhere)
        self._stopped = False  # stop() came from another thread: whatever the stream does next ends it
        self._line_lock = threading.Lock()  # so a stop never falls between a connection's start and its handle
        self._unread = _Unread(None)  # a failure nobody read (.error, raise, a view) is said on stderr at the end

    # -- streaming -------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        """The events, live the first time and replayed after; an answer that failed raises its QwenError at the
        end (so a script never carries on with an empty answer)."""
        return _Raising(self, self.watch())

    def watch(self) -> Iterator[Event]:
        """The events as __iter__ gives them, but never raising the answer's error (for views, which show it)."""
        if self._source is not None:
            self._live = self._stream()  # the one pass over the source; wait() finishes it if abandoned
            return self._live
        return iter(self._fold.replay())  # finished, or being streamed elsewhere: what has arrived

    def _stream(self) -> Iterator[Event]:
        source, self._source = self._source, None
        fold, limit = self._fold, self._limit
        self._reader, self._started_at = threading.get_ident(), time.perf_counter()
        try:
            for event in source:
                if type(event) is Connecting:
                    with self._line_lock:
                        self._hang_up = event.hang_up
                    if not self._stopped:
                        continue
                if self._stopped:  # no request goes out after a stop; what follows a hang-up is its echo
                    if type(event) is ToolOutput:  # what became of the call in flight (Stop at its approval is a no)
                        fold.add(event)
                    if fold.finish_reason is None:  # a stop after the answer ended (its usage pending) is too late
                        self._fail(interrupted_error())
                    return
                fold.add(event)
                yield event
                if fold.size > limit:
                    self._fail(too_long_error(limit))
                    return
        except KeyboardInterrupt:
            self._fail(interrupted_error())
            raise Interrupted() from None  # one line in IPython, not the HTTP library's frames
        except GeneratorExit:  # stop(): the answer is cut short, like an interrupt
            self._fail(interrupted_error())
            raise
        except Exception as exc:  # a bug, not a service failure: keep the result consistent, then let it show
            self._fail(QwenError(f"Unexpected {type(exc).__name__}: {exc}", code="Unexpected"))
            raise
        finally:
            close = getattr(source, "close", None)
            if close:
                close()  # closes the SDK stream and its connection
            self._complete()

    @classmethod
    async def gather(cls, events: AsyncIterator[Event], **kwargs: Any) -> QwenResult:
        """A finished result from an async stream of events (folded as they arrive, so timings hold)."""
        result = cls((), **kwargs)
        result._source = None
        try:
            async for event in events:
                result._fold.add(event)
                if result._fold.size > result._limit:
                    result._fail(too_long_error(result._limit))
                    break
        finally:
            close = getattr(events, "aclose", None)
            if close:
                await close()  # closes the SDK stream and its connection
            result._complete()
        return result

    def _fail(self, error: QwenError) -> None:
        if self._fold.error is None:
            self._fold.add(Failed(error))

    def _complete(self) -> None:
        if self._ended_at is not None:
            return
        self._ended_at = time.perf_counter()
        if self._fold.error is None and self._fold.finish_reason is None and self._fold.log:
            self._fail(QwenError("The stream ended before the model finished.", code="IncompleteStream"))
        error = self._fold.error
        if error is not None and error.code != "Interrupted":
            self._unread = _Unread(error)
            weakref.finalize(self, self._unread.say)  # when the result goes away (or the process ends) unread
            in_cell = threading.current_thread() is threading.main_thread()  # a cell's own ask, not the panel's
            if in_cell and running_shell() is not None:
                _ENDED_IN_CELL.append(self._unread)
        try:
            if self._on_complete:
                self._on_complete(self)
        finally:
            self._finished.set()

    def wait(self, raise_error: bool = True) -> QwenResult:
        """Read the stream to its end (also one a loop left early); returns self. An answer that failed raises its
        QwenError (the result is on it as `.result`), unless `raise_error` is False."""
        self._settle()
        if raise_error:
            self.raise_error()
        return self

    def raise_error(self) -> None:
        """Raise the answer's error, if it failed (with this result on it as `.result`, partial answer kept); an
        answer ended by stop() is not a failure: whoever stopped it knows."""
        error = self._fold.error
        if error is not None and error.code != "Interrupted":
            error.result = self
            self._unread.read = True
            raise error.with_traceback(None) from None

    def _settle(self) -> QwenResult:
        """Read the stream to its end, whatever it ended in; returns self."""
        if self._ended_at is not None:  # done (or finishing: on_complete reads fields from inside the stream)
            return self
        if self._source is not None:
            self.watch()
        if self._reader not in (None, threading.get_ident()):
            self._finished.wait()  # another thread (the panel's) is reading it: wait, never read along
        elif self._live is not None:
            for _ in self._live:
                pass
        return self

    def stop(self) -> None:
        """End the stream now: the connection closes and the partial answer is kept, marked interrupted."""
        if self.done:
            return
        if self._reader == threading.get_ident() and self._live is not None:
            self._live.close()  # from the reading thread, between events: the generator ends here
            return
        # Not read yet (it will end before sending anything), or read by another thread (the panel's worker, a
        # compared model's reader), maybe blocked on a stalled stream: its connection is cut under it.
        with self._line_lock:
            self._stopped, hang_up = True, self._hang_up
        if hang_up is not None:
            hang_up()

    def __enter__(self) -> QwenResult:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leaving a `with` block ends the stream (its connection closes; what arrived is kept)."""
        self.stop()

    @property
    def done(self) -> bool:
        """Whether the stream has ended (answered, failed or stopped)."""
        return self._source is None and self._ended_at is not None

    def claim(self, thread_id: int) -> None:
        """Say which thread reads the stream (a worker's): the others wait for it and never read along."""
        if self._ended_at is None:
            self._reader = thread_id

    @property
    def streaming(self) -> bool:
        """Whether a reader is in the middle of the stream now (the panel's worker, a loop, a view)."""
        return self._reader is not None and not self.done

    # -- fields ----------------------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The answer's text (waits for the stream to end)."""
        return self._settle()._fold.text.value()

    @property
    def reasoning(self) -> str:
        """The model's reasoning, when it thought before answering (empty otherwise)."""
        return self._settle()._fold.reasoning.value()

    @property
    def usage(self) -> Usage:
        """Token counts: input_tokens, output_tokens, total_tokens, reasoning_tokens, cached_tokens (None where the
        service did not say)."""
        return self._settle()._fold.usage

    @property
    def finish_reason(self) -> str | None:
        """Why the answer ended, as the service said it (stop, length, tool_calls, …)."""
        return self._settle()._fold.finish_reason

    @property
    def model(self) -> str | None:
        """The model the request went to."""
        return self._fold.model

    @property
    def request_id(self) -> str | None:
        """The service's id of the request, for support tickets and the log."""
        return self._settle()._fold.request_id

    @property
    def emulated(self) -> bool:
        """True when the built-in emulator produced this answer, not Model Studio."""
        return self._settle()._fold.emulated

    @property
    def tool_calls(self) -> tuple[ToolUse, ...]:
        """Every call the model made, in every round, with what running it gave (the service's own built-in
        tools first)."""
        fold = self._settle()._fold
        uses = [ToolUse("", c.name, arguments_of(c.arguments), c.arguments, c.output) for c in fold.service_calls]
        for index, (call_id, name, arguments) in sorted(fold.calls.items()):
            out = fold.outputs.get(index)
            uses.append(ToolUse(call_id or "", name or "", arguments_of(arguments or ""), arguments or "",
                                out and out.output, out and out.error, out and out.seconds,
                                out.approved if out else None, out.displays if out else (),
                                fold.code_arguments.get(index)))
        return tuple(uses)

    @property
    def steps(self) -> tuple[Message, ...]:
        """The tool rounds' messages (the assistant's calls and the tools' results) before the answer."""
        steps = self._settle()._fold.steps
        return tuple(steps[:-1] if self._ends_with_calls() else steps)

    @property
    def images(self) -> tuple[Any, ...]:
        """The generated images as PIL images (downloaded as they came; `image_urls` has the service's links)."""
        return tuple(open_png(image.png) for image in self._settle()._fold.images if image.png)

    @property
    def image_urls(self) -> tuple[str, ...]:
        """The service's addresses of the generated images (they expire after a day)."""
        return tuple(image.url for image in self._settle()._fold.images)

    def save_images(self, target: str | os.PathLike[str] = ".") -> list[Path]:
        """Write the generated images as PNG: into a folder, by a pattern with {n}, or to a file name."""
        pngs = [image.png for image in self._settle()._fold.images if image.png]
        return save_pngs(pngs, target, f"{self.model or 'image'}-{(self.request_id or '')[:8]}")

    @property
    def audio(self) -> Speech | None:
        """The spoken answer (`.wav`, `.save(path)`, `.transcript`), or None when none was asked for."""
        fold = self._settle()._fold
        return Speech(bytes(fold.audio), "".join(fold.transcript)) if fold.audio else None

    @property
    def search_results(self) -> tuple[SearchResult, ...]:
        """The web sources of a --search answer (index, title, url, site_name), in the answer's numbering."""
        return tuple(self._settle()._fold.search)

    @property
    def logprobs(self) -> tuple[TokenLogprob, ...]:
        """One entry per output token (`token`, `logprob`, `top`), when asked for with --logprobs / logprobs=."""
        return entries(self._settle()._fold.logprobs)

    def logprobs_frame(self) -> Any:
        """The log probabilities as a pandas DataFrame, a row per token."""
        return logprobs_frame(self.logprobs)

    @property
    def ocr(self) -> Reading | None:
        """What an OCR task (--ocr) read: tables as DataFrames, key information as a dict, formulas, words."""
        found = self._settle()._fold.ocr
        return None if found is None else reading(found.task, self.text, found.data)

    @property
    def research(self) -> list[dict[str, Any]]:
        """Deep research's rounds: id, goal, queries and the web sites read (the references are search_results)."""
        return rounds(self._settle()._fold.research)

    @property
    def error(self) -> QwenError | None:
        """The QwenError the answer ended in, or None on success."""
        self._settle()._unread.read = True
        return self._fold.error

    def peek_error(self) -> QwenError | None:
        """The error, for the toolkit's own bookkeeping: unlike reading .error, this is not someone seeing it."""
        return self._settle()._fold.error

    @property
    def ok(self) -> bool:
        """True when the answer ended without an error."""
        return self.error is None

    @property
    def interrupted(self) -> bool:
        """True when the answer was stopped part way (stop(), an interrupt); the partial answer is kept."""
        return self.error is not None and self.error.code == "Interrupted"

    @property
    def retries(self) -> tuple[QwenError, ...]:
        """The failures that were retried before this answer (rate limits, server errors)."""
        return tuple(self._settle()._fold.retries)

    @property
    def raw(self) -> list[Any]:
        """The SDK's own objects: every chunk of a stream, or the one final response (built on first read)."""
        fold = self._settle()._fold
        if self._raw is None:
            lines = bytes(fold.raw).split(b"\n")[:-1]
            self._raw = [fold.build(line) for line in lines] if fold.build else []
        return self._raw

    @property
    def sent(self) -> tuple[Message, ...]:
        """The messages that were sent, as Message objects (media included)."""
        return self._sent

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation that was sent, as plain dicts (media by name, not inline data)."""
        return [m.to_dict() for m in self._sent]

    @property
    def events(self) -> tuple[Event, ...]:
        """The events the stream produced, as a finished result replays them."""
        return tuple(self._settle()._fold.replay())

    @property
    def elapsed(self) -> float | None:
        """Seconds from the request to the end of the answer."""
        self._settle()
        return None if self._ended_at is None else self._ended_at - self._started_at

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from the request to the first text or reasoning token."""
        first = self._settle()._fold.first_token_at
        return None if first is None else first - self._started_at

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens a second, from the first token to the end."""
        output, first, end = self.usage.output_tokens, self._fold.first_token_at, self._ended_at
        if not output or first is None or end is None or end <= first:
            return None
        return output / (end - first)

    def json(self) -> Any:
        """The answer parsed as JSON (for JSON mode); fenced ```json blocks are unwrapped."""
        text = self.text.strip()
        if text.startswith("```"):
            text = text.split("\n", 1)[1].rsplit("```", 1)[0]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise QwenError(f"The answer is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
                            code="NotJSON", hint="Ask with --json (json_mode=True) for JSON, or read .text.") from None

    def message(self) -> Message:
        """The answer as an assistant message, ready to go back into a conversation (after `steps`)."""
        fold = self._settle()._fold
        if self._ends_with_calls():
            calls = fold.steps[-1]
            # Calls the caller answers are the answer; calls cut short before they ran leave their words only
            # (an assistant's calls must be followed by their results, or the service refuses the conversation).
            return calls if fold.error is None else replace(calls, tool_calls=())
        text_from, reasoning_from = fold.answer_from
        calls = () if fold.steps else tuple(ToolCall(u.id, u.name, u.arguments_json) for u in self.tool_calls
                                            if u.id)  # the service's own calls are not the model's to answer
        text = self.text[text_from:].lstrip("\n") or (f"[{len(fold.images)} generated image(s)]" if fold.images else "")
        return Message("assistant", text, reasoning=self.reasoning[reasoning_from:], tool_calls=calls)

    def _ends_with_calls(self) -> bool:
        steps = self._fold.steps
        return bool(steps) and steps[-1].role == "assistant"

    # -- display ---------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        if not self.done:
            return f"<QwenResult model={self.model!r} streaming>"
        text = self.text
        preview = text if len(text) <= 60 else text[:57] + "..."
        parts = [f"model={self.model!r}", f"text={preview!r}"]
        if self.reasoning:
            parts.append(f"reasoning={len(self.reasoning)} chars")
        if self.tool_calls:
            parts.append(f"tool_calls={[c.name for c in self.tool_calls]}")
        if self.usage.total_tokens is not None:
            parts.append(f"tokens={self.usage.total_tokens}")
        if self.error:
            parts.append(f"error={self.error.code!r}")
        if self.emulated:
            parts.append("emulated")
        return f"<QwenResult {' '.join(parts)}>"


def unread_failures() -> list[str]:
    """A line for each failure that ended since the last call and that nothing read (.error, a raise, a view): a
    shell says them after each cell, where the end-of-process line would land in whichever cell ran then."""
    ended = list(_ENDED_IN_CELL)
    _ENDED_IN_CELL.clear()
    unread = [item for item in ended if item.error is not None and not item.read]
    for item in unread:
        item.read = True  # said once
    return [item.line() for item in unread]


class _Unread:
    """A failed answer's error until someone reads it. A script that only printed .text would otherwise end as if
    the request had worked; as asyncio says of a task exception never retrieved, it is said on stderr when the
    result goes away or the process ends."""

    def __init__(self, error: QwenError | None) -> None:
        self.error, self.read = error, False

    def line(self) -> str:
        """The one line that says it."""
        assert self.error is not None
        return printable(f"qwen_jupyter: an answer failed and nothing read its error: {self.error.code}: "
                         f"{self.error.message}")

    def say(self) -> None:
        if running_shell() is not None:
            return  # a shell says it after the cell it ended in (unread_failures); here it would land anywhere
        if self.error is not None and not self.read:
            sys.stderr.write(self.line() + "\n")


_ENDED_IN_CELL: list[_Unread] = []  # failures ended on the main thread, until a shell's cell end looks at them

