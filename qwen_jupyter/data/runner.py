"""The concurrent engine under map(): requests over one async client, within request and token limits, backing off
on 429 (honouring Retry-After) and server errors, each finished row handed to `save` the moment it completes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..backends import backoff
from ..backends.completions import Completions
from ..errors import QwenError
from ..settings import Settings

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
    """A stored row from a chat.completion body (a live answer, or a batch output line's body)."""
    choice = (completion.get("choices") or [{}])[0]
    usage = completion.get("usage") or {}
    return {"key": key, "model": completion.get("model"), "text": (choice.get("message") or {}).get("content") or "",
            "usage": {"input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens"),
                      "total_tokens": usage.get("total_tokens")},
            "error": None, "request_id": (completion.get("id") or "").removeprefix("chatcmpl-") or None,
            "emulated": emulated}


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


class Runner:
    """Runs rows with at most `concurrency` in flight; a 429 pauses everyone and halves the concurrency, which then
    grows back one by one as answers succeed. `check` validates an answer's text (None or a complaint): an
    invalid answer is asked once more, then kept with the complaint as its error."""

    def __init__(self, settings: Settings, rows: list[Row], save: Callable[[dict[str, Any]], None], *,
                 concurrency: int = 8, rpm: float | None = None, tpm: float | None = None,
                 check: Callable[[str], str | None] | None = None) -> None:
        self.settings, self.save, self.check = settings, save, check
        self.queue = deque(rows)
        self.stats = Stats(len(rows))
        self.limiter = Limiter(rpm, tpm)
        self.concurrency = self.allowed = max(1, concurrency)
        self.in_flight = 0
        self.paused_until = 0.0
        self.successes = 0

    async def run(self) -> Stats:
        """Send every row; returns when each is answered or failed."""
        async with Completions(self.settings) as client:
            workers = min(self.concurrency, len(self.queue))
            await asyncio.gather(*(self._work(client) for _ in range(workers)))
        return self.stats

    async def _work(self, client: Completions) -> None:
        while self.queue:
            row = self.queue.popleft()
            done = await self._row(client, row)
            self.save(done)
            if done["error"]:
                self.stats.failed += 1
            else:
                self.stats.done += 1
                self.stats.tokens += done["usage"].get("total_tokens") or 0

    async def _slot(self) -> None:
        """Wait for a pause after a 429 to end and for room under the (adaptive) concurrency."""
        while True:
            wait = self.paused_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif self.in_flight >= self.allowed:
                await asyncio.sleep(0.005)
            else:
                self.in_flight += 1
                return

    async def _send(self, client: Completions, row: Row) -> tuple[dict[str, Any], bool] | QwenError:
        await self._slot()
        try:
            await self.limiter.acquire(row.tokens)
            return await client.create(row.body)
        except QwenError as error:
            return error
        finally:
            self.in_flight -= 1

    async def _row(self, client: Completions, row: Row) -> dict[str, Any]:
        attempt, asked_again = 0, False
        while True:
            sent = await self._send(client, row)
            if isinstance(sent, QwenError):
                if not sent.retryable or attempt + 1 >= MAX_ATTEMPTS:
                    return failure(row.key, sent.summary(), row.body.get("model"), sent.request_id)
                delay = backoff(attempt, sent)
                if sent.status == 429:
                    self._throttled(delay)
                attempt += 1
                self.stats.retries += 1
                await asyncio.sleep(delay)  # outside the slot: other rows go on while this one waits
                continue
            completion, emulated = sent
            self._succeeded()
            done = entry(row.key, completion, emulated)
            complaint = self.check(done["text"]) if self.check else None
            if complaint is None:
                return done
            if asked_again:
                return {**done, "error": f"The answer does not match the schema ({complaint})."}
            asked_again = True

    def _throttled(self, delay: float) -> None:
        """A 429: everyone waits (Retry-After), and fewer requests go at once until answers succeed again."""
        self.paused_until = max(self.paused_until, time.monotonic() + delay)
        self.allowed = max(1, self.allowed // 2)
        self.successes = 0

    def _succeeded(self) -> None:
        if self.allowed < self.concurrency:
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
