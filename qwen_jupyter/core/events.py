"""The normalized stream: small typed records that every backend produces and every consumer matches on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import QwenError
from .messages import Message


@dataclass(frozen=True, slots=True)
class Connecting:
    """A request is going out (or waits to be retried); `hang_up()` cuts its connection, or ends the wait, from
    any thread (Stop on a stalled stream). Only the result sees it: it is not part of what was answered."""

    hang_up: Callable[[], None] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Started:
    """The service accepted the request (first bytes of the response arrived)."""

    model: str
    request_id: str | None
    emulated: bool = False


@dataclass(frozen=True, slots=True)
class Retrying:
    """A retryable failure happened before any output; the engine waits `delay` seconds and tries again."""

    attempt: int
    delay: float
    error: QwenError


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same index join into one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


def join_fragment(call: list[str | None], delta: ToolCallDelta) -> None:
    """Add a fragment to a call being assembled ([id, name, arguments]): DashScope's continuation fragments carry
    "id": "" (and no name), so a later empty id or name never replaces a known one."""
    call[0] = call[0] or delta.id
    call[1] = call[1] or delta.name
    call[2] = (call[2] or "") + delta.arguments


@dataclass(frozen=True, slots=True)
class ToolRunning:
    """The toolkit is running a call the model asked for (index as in the ToolCallDelta events); with `asks`, it
    waits for the person's approval first; `code_argument` names the argument that is code to run."""

    index: int
    name: str
    arguments: str
    asks: bool = False
    code_argument: str | None = None


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool call ended: its output (what the model is sent) or its error, and how long it took."""

    index: int
    output: str | None
    error: str | None = None
    seconds: float = 0.0
    approved: bool | None = None  # None: it needed no approval
    displays: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # what it showed the person


@dataclass(frozen=True, slots=True)
class ServiceToolCall:
    """A built-in tool the service ran itself (the code interpreter): shown like a call, never run here."""

    name: str
    arguments: str
    output: str


@dataclass(frozen=True, slots=True)
class Step:
    """A message of a tool round (the assistant's calls, a tool's result) that goes back to the model: the
    conversation keeps these between the question and the answer."""

    message: Message


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts (None where the service did not say); a later Usage replaces an earlier one (DashScope's are
    cumulative). The one usage type: a result's `usage` is the last of these, and turns store it as a dict."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    index: int
    title: str
    url: str
    site_name: str = ""


@dataclass(frozen=True, slots=True)
class SearchResults:
    results: tuple[SearchResult, ...]

    @classmethod
    def parse(cls, items: Any, index_key: str = "index") -> SearchResults:
        """The sources as a service listed them, each checked: a number that is not a small whole number, a title
        or a link that is not text, and an entry that is not an object are the service's mistakes, not ours to
        crash on (the position stands in for the number)."""
        results = []
        for position, item in enumerate(items if isinstance(items, (list, tuple)) else (), 1):
            if isinstance(item, dict):
                number = item.get(index_key)
                if isinstance(number, str) and number.strip().isdigit():
                    number = int(number)
                if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 100_000:
                    number = position
                results.append(SearchResult(number, *(_text(item.get(key)) for key in ("title", "url", "site_name"))))
        return cls(tuple(results))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Image:
    """An image the model produced: its URL (short-lived on the real service) and the PNG it was downloaded as."""

    url: str
    png: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """An image task's state while it is waited for (PENDING, RUNNING, …), `seconds` after it was submitted."""

    task_id: str
    status: str
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """A piece of a spoken answer: raw PCM (16-bit mono little-endian) and/or its transcript."""

    pcm: bytes = field(default=b"", repr=False)
    transcript: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One object as the SDK yielded it, kept as its compact JSON (a few hundred bytes, nothing for the garbage
    collector to walk); `build` makes the SDK's own object again when someone reads it. Only the result uses it."""

    data: bytes = field(repr=False)
    build: Callable[[bytes], Any] = field(repr=False, compare=False)

    @property
    def raw(self) -> Any:
        """The SDK object, built anew from the JSON."""
        return self.build(self.data)


@dataclass(frozen=True, slots=True)
class Logprobs:
    """Log probabilities of answer tokens, in order: (token, logprob, ((alternative, logprob), …)) each."""

    tokens: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...]


@dataclass(frozen=True, slots=True)
class ResearchProgress:
    """Deep research moved on: its phase and status, and in a research round its id, goal, query and the web
    sites it read (title, url)."""

    phase: str
    status: str
    round: int | None = None
    goal: str = ""
    query: str = ""
    sites: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OcrResult:
    """An OCR task's structured output (the service's ocr_result: kv_result, words_info, …) for `task`."""

    task: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finished:
    finish_reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The stream ended in an error; whatever arrived before it is kept."""

    error: QwenError


Event = (
    Connecting
    | Started | Retrying | TextDelta | ReasoningDelta | ToolCallDelta | ToolRunning | ToolOutput | ServiceToolCall | Step
    | Usage
    | SearchResults | Image | TaskProgress | AudioDelta | Logprobs | OcrResult | ResearchProgress | Chunk | Finished | Failed
)
