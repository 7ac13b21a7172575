"""The concurrent engine under map(): requests over one async client, within request and token limits, backing off
on 429 (honouring Retry-After) and server errors, each finished row handed to `save` the moment it completes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..backends import backoff
from ..backends.completions import Completions
from ..core.errors import QwenError
from ..core.logprobs import logprobs_event
from ..core.settings import Settings

T = TypeVar("T")
MAX_ATTEMPTS = 8  # tries of one row through rate limits and server errors before it is marked failed


@dataclass
class Row:
    """One distinct request: its content key, the Chat Completions body it sends, its estimated input tokens."""

    key: str
    body: dict[str, Any]
    tokens: int


@dataclass
class Stats:
    """How a run is going, read by the progress bar from another thread (plain counters)."""

    total: int
    done: int = 0
    failed: int = 0
    tokens: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)


def entry(key: str, completion: dict[str, Any], emulated: bool) -> dict[str, Any]:
    """A stored row from a chat.completion body (a live answer, or a batch output line's body): the text, the
    usage with what the context cache read and wrote, and the tokens' log probabilities when they came (as
    [token, logprob, [[alternative, logprob], …]] lists; None when the answer has none)."""
    choice = (completion.get("choices") or [{}])[0]
    usage = completion.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    counts = {"input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens"),
              "total_tokens": usage.get("total_tokens"), "cached_tokens": details.get("cached_tokens"),
              "cache_creation_tokens": details.get("cache_creation_input_tokens"),
              "cache_type": details.get("cache_type")}
    event = logprobs_event(choice.get("logprobs"))
    return {"key": key, "model": completion.get("model"), "text": (choice.get("message") or {}).get("content") or "",
            "usage": {name: value for name, value in counts.items() if value is not None or "cache" not in name},
            "error": None, "request_id": (completion.get("id") or "").removeprefix("chatcmpl-") or None,
            "emulated": emulated,
            "logprobs": [[token, lp, [list(pair) for pair in top]] for token, lp, top in event.tokens] if event
            else None}


def failure(key: str, error: str, model: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """A stored row that ended in an error."""
    return {"key": key, "model": model, "text": None, "usage": {}, "error": error, "request_id": request_id,
            "emulated": False}


class Limiter:
    """Requests and tokens per minute as two buckets that refill evenly and hold a second's worth (so a minute's
    allowance is not spent in one burst); None means no limit."""

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        self.rates = (rpm, tpm)
        self.sizes = [max(1.0, (rate or 0) / 60) for rate in self.rates]
        self.levels = list(self.sizes)
        self.last = time.monotonic()

    async def acquire(self, tokens: int) -> None:
        """Wait until one more request of `tokens` input tokens fits in both limits, then take it."""
        while True:
            now = time.monotonic()
            for i, rate in enumerate(self.rates):
                if rate:
                    self.levels[i] = min(self.sizes[i], self.levels[i] + (now - self.last) * rate / 60)
            self.last = now
            needs = (1.0, float(min(tokens, self.sizes[1])))
            short = [(need - level) * 60 / rate
                     for need, level, rate in zip(needs, self.levels, self.rates, strict=True) if rate and level < need]
            if not short:
                for i, need in enumerate(needs):
                    self.levels[i] -= need
                return
            await asyncio.sleep(max(short))


FINAL_STATUSES = (401, 403, 404)  # a refused key, no access, no such model: the next row gets the same answer
FINAL_CODES = ("Arrearage", "insufficient_quota", "NoApiKey")  # the account unsettled, or no key at all
STORM_WINDOW, STORM_SECONDS = 20, 2.0  # most of the last 20 requests failing for 2 s: the service is down


def final(error: QwenError) -> bool:
    """Whether an error will not change from one row to the next, so the run stops at once."""
    return error.status in FINAL_STATUSES or (error.code or "").split(".")[0] in FINAL_CODES


@dataclass
class Stop:
    """Why a run ended early: an error that will not change, or (`failing` of the `recent` requests) a service
    that kept failing."""

    error: QwenError
    failing: int = 0
    recent: int = 0


class Runner:
    """Runs rows with at most `allowed` requests in flight. A 429 pauses everyone for its Retry-After and halves
    `allowed`, at most once per window of requests (a 429 for a request sent before the last cut says nothing
    new, as in TCP congestion control); `allowed` grows back by one an answer up to where it was throttled
    (`throttled_at`, as CUBIC returns to its last maximum), then by one a window of answers. An error that will
    not change, or most of the recent requests failing for STORM_SECONDS, stops the run (`stopped`): no request
    starts after it, waits end, and those in flight finish. `check` validates an answer's text (None or a
    complaint): an invalid answer is asked once more, then kept with the complaint as its error. `first_alone`:
    one request, then the others once it is answered (the explicit context cache is written after an answer, so
    the rows behind the first read it instead of each writing their own)."""

    def __init__(self, settings: Settings, rows: Iterable[Row], total: int, save: Callable[[dict[str, Any]], None],
                 *, concurrency: int = 8, rpm: float | None = None, tpm: float | None = None,
                 check: Callable[[str], str | None] | None = None, first_alone: bool = False) -> None:
        self.settings, self.save, self.check = settings, save, check
        self.rows = iter(rows)  # pulled one at a time by the workers: a row's body exists only while it is sent
        self.stats = Stats(total)
        self.limiter = Limiter(rpm, tpm)
        self.concurrency = self.allowed = max(1, concurrency)
        self.warming = first_alone and self.concurrency > 1
        if self.warming:
            self.allowed = 1
        self.in_flight = 0
        self.paused_until = 0.0
        self.successes = 0
        self.throttled_at = self.allowed  # the window when the last cut came
        self.sent = 0  # requests sent so far; a request's number is its place in that order
        self.recover = 0  # a 429 for a request numbered below this was sent before the last cut
        self.recent: deque[bool] = deque(maxlen=STORM_WINDOW)  # the latest outcomes: True for a failure
        self.storm_since: float | None = None
        self.stopped: Stop | None = None
        self.halted = asyncio.Event()  # set with `stopped`: a retry's wait ends, no new request starts

    async def run(self) -> Stats:
        """Send every row; returns when each is answered or failed, or the run stopped (see `stopped`)."""
        async with Completions(self.settings) as client:
            await asyncio.gather(*(self._work(client) for _ in range(min(self.concurrency, self.stats.total))))
        return self.stats

    async def _work(self, client: Completions) -> None:
        for row in self.rows:
            done = await self._row(client, row)
            if done is None:  # the run stopped before this row was sent
                return
            self.save(done)
            if done["error"]:
                self.stats.failed += 1
            else:
                self.stats.done += 1
                self.stats.tokens += done["usage"].get("total_tokens") or 0

    async def _slot(self) -> int | None:
        """Wait for a pause after a 429 to end and for room under the (adaptive) concurrency; the request's
        number, or None once the run has stopped."""
        while not self.stopped:
            wait = self.paused_until - time.monotonic()
            if wait > 0:
                await self._rest(wait)
            elif self.in_flight >= self.allowed:
                await asyncio.sleep(0.005)
            else:
                self.in_flight += 1
                self.sent += 1
                return self.sent - 1
        return None

    async def _rest(self, seconds: float) -> None:
        """Sleep, unless the run stops first."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.halted.wait(), seconds)

    async def _send(self, client: Completions,
                    row: Row) -> tuple[int, tuple[dict[str, Any], bool] | QwenError | None]:
        """The request's number and its answer or error; None (and -1) once the run has stopped."""
        number = await self._slot()
        if number is None:
            return -1, None
        try:
            await self.limiter.acquire(row.tokens)
            return number, await client.create(row.body)
        except QwenError as error:
            return number, error
        finally:
            self.in_flight -= 1

    async def _row(self, client: Completions, row: Row) -> dict[str, Any] | None:
        """The row's answer, or its failure; None if the run stopped before it was sent. A request in flight when
        the run stops is let finish: its answer may be paid for."""
        attempt, asked_again, failed = 0, False, None
        while True:
            number, sent = await self._send(client, row)
            if sent is None:
                return failed
            if isinstance(sent, QwenError):
                self._outcome(sent.retryable)
                failed = failure(row.key, sent.summary(), row.body.get("model"), sent.request_id)
                if final(sent):
                    self._stop(Stop(sent))
                elif self.stopped is None and self._storm():
                    self._stop(Stop(sent, sum(self.recent), len(self.recent)))
                if self.stopped or not sent.retryable or attempt + 1 >= MAX_ATTEMPTS:
                    return failed
                delay = backoff(attempt, sent)
                if sent.status == 429:
                    self._throttled(number, delay)
                attempt += 1
                self.stats.retries += 1
                await self._rest(delay)  # outside the slot: other rows go on while this one waits
                continue
            completion, emulated = sent
            self._outcome(False)
            self._succeeded()
            done = entry(row.key, completion, emulated)
            complaint = self.check(done["text"]) if self.check else None
            if complaint is None:
                return done
            if asked_again:
                return {**done, "error": f"The answer does not match the schema ({complaint})."}
            asked_again = True

    def _stop(self, stop: Stop) -> None:
        self.stopped = self.stopped or stop
        self.halted.set()

    def _outcome(self, failed: bool) -> None:
        """Note whether the service failed a request (throttled, 5xx, dropped); a row it refused is an answer."""
        self.recent.append(failed)
        stormy = len(self.recent) >= STORM_WINDOW // 2 and sum(self.recent) * 2 > len(self.recent)
        if not stormy:
            self.storm_since = None
        elif self.storm_since is None:
            self.storm_since = time.monotonic()

    def _storm(self) -> bool:
        """Whether most of the recent requests have been failing for STORM_SECONDS (not a passing blip)."""
        return self.storm_since is not None and time.monotonic() - self.storm_since >= STORM_SECONDS

    def _throttled(self, number: int, delay: float) -> None:
        """A 429: everyone waits (Retry-After); the window is cut unless this request went before the last cut."""
        self.paused_until = max(self.paused_until, time.monotonic() + delay)
        if number < self.recover:
            return
        self.throttled_at = self.allowed
        self.allowed = max(1, self.allowed // 2)
        self.recover = self.sent
        self.successes = 0

    def _succeeded(self) -> None:
        if self.warming:  # the first answer is in: everyone may go
            self.warming, self.allowed = False, max(self.allowed, self.concurrency)
        elif self.allowed < self.throttled_at:
            self.allowed += 1
        elif self.allowed < self.concurrency:
            self.successes += 1
            if self.successes >= self.allowed:
                self.allowed += 1
                self.successes = 0


def run_in_thread(coroutine: Coroutine[Any, Any, T], poll: Callable[[], None], interval: float = 0.1) -> T:
    """Run a coroutine on its own event loop in a worker thread (a notebook's kernel already runs a loop), calling
    poll() on this thread as it goes; an interrupt (Ctrl+C, the stop button) cancels it and is raised again."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coroutine)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            outcome["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=work, name="qwen-map", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(interval)
            poll()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(task.cancel)
        thread.join()
        poll()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
