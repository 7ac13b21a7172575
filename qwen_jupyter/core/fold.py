"""The fold under a QwenResult: events accumulated as they arrive, text joined a block at a time, raw chunks kept
as compact JSON, runs of deltas remembered so a replay gives each run as one delta; and ToolUse, one call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import QwenError
from .events import (
    AudioDelta,
    Chunk,
    Event,
    Failed,
    Finished,
    Image,
    Logprobs,
    OcrResult,
    ReasoningDelta,
    ResearchProgress,
    Retrying,
    SearchResult,
    SearchResults,
    ServiceToolCall,
    Started,
    Step,
    TextDelta,
    ToolCallDelta,
    ToolOutput,
    ToolRunning,
    Usage,
    join_fragment,
)
from .messages import Message


class _Text:
    """Text that arrives in many small pieces, joined a block at a time: a few objects, not one per piece
    (the fold appends the pieces itself: this is the hot path)."""

    BLOCK = 256

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.pending: list[str] = []
        self.size = 0

    def value(self) -> str:
        if self.pending:
            self.blocks.append("".join(self.pending))
            self.pending = []
        if len(self.blocks) > 1:
            self.blocks = ["".join(self.blocks)]
        return self.blocks[0] if self.blocks else ""


@dataclass(frozen=True)
class ToolUse:
    """One call the model made: the tool's name, its arguments (a dict; {} when the model's JSON was not valid,
    which `error` then says), what running it gave (`output`) or why it did not run (`error`), whether the person
    approved it (None: it needed no approval) and what it displayed."""

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str  # as the model sent it
    output: str | None = None
    error: str | None = None
    seconds: float | None = None
    approved: bool | None = None
    displays: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    code_argument: str | None = None  # which argument is code to run (run_python's "code"): shown as code

    @property
    def code(self) -> str | None:
        """The code the call runs (or asked to run), for a tool whose argument is code; None otherwise."""
        value = self.arguments.get(self.code_argument) if self.code_argument else None
        return value if isinstance(value, str) else None

    @property
    def ran(self) -> bool:
        """Whether the toolkit ran the call (a plain schema's calls are left to the caller)."""
        return self.output is not None or self.error is not None


def arguments_of(text: str) -> dict[str, Any]:
    """A call's arguments as a dict ({} when the model's JSON was not a valid object)."""
    try:
        value = json.loads(text or "{}")
    except (json.JSONDecodeError, RecursionError):  # nested past the parser: the call's error says so
        return {}
    return value if isinstance(value, dict) else {}


class _Run:
    """Consecutive text (or reasoning) deltas, kept as a range of the folded text; replayed as one delta."""

    __slots__ = ("kind", "start", "end")

    def __init__(self, kind: type, start: int, end: int) -> None:
        self.kind, self.start, self.end = kind, start, end


class Fold:
    """Mutable accumulation while events arrive; text parts are joined once, not per chunk."""

    def __init__(self) -> None:
        self.text = _Text()
        self.reasoning = _Text()
        self.log: list[Event | _Run] = []  # what replays: events, with runs of deltas and no raw chunks
        self.run: _Run | None = None  # the run of deltas the log ends with
        self.calls: dict[int, list[str | None]] = {}
        self.outputs: dict[int, ToolOutput] = {}
        self.code_arguments: dict[int, str] = {}  # a call whose argument is code to run: which one
        self.service_calls: list[ServiceToolCall] = []
        self.steps: list[Message] = []  # the messages of tool rounds, between the question and the answer
        self.answer_from = (0, 0)  # where the last round's text and reasoning start
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.request_id: str | None = None
        self.emulated = False
        self.images: list[Image] = []
        self.audio = bytearray()  # a spoken answer's PCM
        self.transcript: list[str] = []
        self.search: list[SearchResult] = []
        self.logprobs: list[Logprobs] = []
        self.ocr: OcrResult | None = None
        self.research: list[ResearchProgress] = []
        # Every chunk's compact JSON, a line each, in one buffer: no object per chunk to keep or for the garbage
        # collector to walk; the SDK objects are built when `raw` is read.
        self.raw = bytearray()
        self.build: Callable[[bytes], Any] | None = None
        self.retries: list[QwenError] = []
        self.error: QwenError | None = None
        self.first_token_at: float | None = None
        self.size = 0  # characters of answer and reasoning so far

    def add(self, event: Event) -> None:
        kind = type(event)  # the hot path (a chunk and a delta per streamed piece) first, without `match`
        if kind is Chunk:
            self.raw += event.data
            self.raw += b"\n"  # JSON text never holds a raw newline: one line a chunk
            self.build = event.build
        elif kind is TextDelta:
            self._delta(self.text, TextDelta, event.text)
        elif kind is ReasoningDelta:
            self._delta(self.reasoning, ReasoningDelta, event.text)
        else:
            self._other(event)
            self.log.append(event)
            self.run = None

    def _delta(self, text: _Text, kind: type, piece: str) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        text.pending.append(piece)
        text.size += len(piece)
        if len(text.pending) == _Text.BLOCK:
            text.blocks.append("".join(text.pending))
            text.pending = []
        self.size += len(piece)
        run = self.run
        if run is not None and run.kind is kind:
            run.end = text.size
        else:
            self.run = _Run(kind, text.size - len(piece), text.size)
            self.log.append(self.run)

    def _other(self, event: Event) -> None:
        match event:
            case ToolCallDelta(index=index):
                join_fragment(self.calls.setdefault(index, [None, None, ""]), event)
            case ToolOutput(index=index):
                self.outputs[index] = event
            case ToolRunning(index=index, code_argument=argument) if argument:
                self.code_arguments[index] = argument
            case ServiceToolCall():
                self.service_calls.append(event)
            case Step(message=message):
                self.steps.append(message)
                self.answer_from = (self.text.size, self.reasoning.size)
            case Usage():
                self.usage = event
            case Started(model=model, request_id=request_id, emulated=emulated):
                self.model, self.request_id, self.emulated = model, request_id, emulated
            case Finished(finish_reason=reason):
                self.finish_reason = reason
            case Image():
                self.images.append(event)
            case AudioDelta(pcm=pcm, transcript=transcript):
                self.audio += pcm
                self.transcript.append(transcript)
            case SearchResults(results=results):
                self.search.extend(results)
            case Logprobs():
                self.logprobs.append(event)
            case OcrResult():
                self.ocr = event
            case ResearchProgress():
                self.research.append(event)
            case Retrying(error=error):
                self.retries.append(error)
            case Failed(error=error):
                self.error = error

    def replay(self) -> list[Event]:
        """The events so far, each run of deltas as one delta."""
        texts = {TextDelta: self.text.value(), ReasoningDelta: self.reasoning.value()}
        return [entry.kind(texts[entry.kind][entry.start:entry.end]) if type(entry) is _Run else entry
                for entry in self.log]
