"""The cell view: streams a result into the cell's output within Jupyter's message budget, in O(n) bytes.

While streaming, text goes into a live output that is updated about eight times a second (with a burst of two
and the two closing messages, never more than twelve in any second). When the live
text reaches a safe Markdown boundary (a blank line outside code) it is sealed: that output keeps its text and
a new live output starts below it, so each update carries one block, not the whole answer. Every output starts
empty, which nbval does not compare, and when the answer ends the streaming outputs are replaced (clear_output
with wait) by one final output: reasoning beside the answer, errors, footer. That final output is what a saved
notebook, nbviewer, GitHub and nbval see.
"""

from __future__ import annotations

import base64
import html
import io
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..core.events import (
    Event,
    ReasoningDelta,
    ResearchProgress,
    Retrying,
    ServiceToolCall,
    TaskProgress,
    TextDelta,
    ToolOutput,
    ToolRunning,
)
from ..core.media import Media
from ..core.research import note as research_note
from ..core.text import printable
from .blocks import Block
from .html import ROOT_CLASS, fragment, markdown_html
from .layout import MUTED, final_bundle, reasoning_html, result_text, retry_note
from .media import media_bundles, progress_note
from .tools import LiveCalls

THUMB_SIZE = 128
IDLE_FLUSH = 0.25  # seconds without a new piece after which what arrived is shown, budget permitting
WAITING_AFTER = 1.0  # seconds without a token after which the cell says it is waiting for the model
TICK = 0.1  # how often the idle check runs while a stream is read


class _Bucket:
    """Message budget: `rate` a second on average, at most `burst` at once."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = burst, clock()

    def ready(self) -> bool:
        """Whether one message could go now."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1

    def take(self, count: int) -> bool:
        self.ready()
        if self.tokens >= count:
            self.tokens -= count
            return True
        return False


class CellView:
    """Shows a result's events in the current cell; call run(result), or feed on_event() and finish()."""

    def __init__(
        self,
        inputs: tuple[Media, ...] = (),
        *,
        rate: float = 8.0,
        burst: float = 2.0,
        clock: Callable[[], float] = time.perf_counter,
        publisher: Any = None,
        plain: bool = False,
        image_hosts: tuple[str, ...] = (),
    ) -> None:
        if publisher is None:
            from IPython import display as publisher
        self.display = publisher
        self.inputs = inputs
        self.plain = plain  # -f text: show the answer as plain text, not Markdown
        self.image_hosts = image_hosts  # hosts whose images an answer may show (none by default)
        self.bucket = _Bucket(rate, burst, clock)
        self.outputs: list[Block] = []
        self._behind: Block | None = None
        self.messages = 0
        self._status: str | None = None  # the output saying a request is being retried
        self._header = thumbnails(inputs)
        self._calls = LiveCalls()  # the calls' blocks, as the panel keeps them
        self._call_outputs: dict[int, Block] = {}  # the output each call's block shows in, by its key
        self._header_shown = not self._header
        self.clock = clock
        self._lock = threading.Lock()  # the idle ticker and the stream's reader take turns publishing
        self._quiet_since = clock()  # the last token (or the start): how long the model has been silent
        self._busy = ""  # what the status line says instead of "waiting" (a retry, a tool, an image task)
        self._waiting_shown = -1  # whole seconds the waiting note shows (-1: not shown)

    # -- publishing --------------------------------------------------------------------------------------------

    def _show(self, bundle: dict[str, str], display_id: str, update: bool) -> None:
        self.messages += 1
        if update:
            self.display.update_display(bundle, raw=True, display_id=display_id)
        else:
            self.display.display(bundle, raw=True, display_id=display_id)

    def _create(self, bundle: dict[str, str]) -> str:
        """A new output: first empty (nothing for nbval to compare), then its content."""
        display_id = uuid.uuid4().hex
        self._show({}, display_id, update=False)
        self._show(bundle, display_id, update=True)
        return display_id

    def _bundle(self, output: Block, text: str) -> dict[str, str]:
        if self.plain:
            return {"text/plain": printable(text)}
        if output.kind == "reasoning":
            return {"text/html": reasoning_html(text, "Reasoning" if output.first else None, self.image_hosts)}
        return {"text/html": fragment(markdown_html(text, self.image_hosts))}

    # -- streaming ---------------------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Take one event; publish if the budget allows."""
        kind = type(event)  # called for every streamed piece: type checks, not `match`
        if kind is TextDelta:
            self._add("answer", event.text)
        elif kind is ReasoningDelta:
            self._add("reasoning", event.text)
        elif kind is Retrying:
            self._retrying("⟳ " + retry_note(event))
            return
        elif kind is TaskProgress:
            self._retrying("⏳ " + progress_note(event))
            return
        elif kind is ResearchProgress:  # deep research: the phase and round, in the status line
            self._retrying("🔎 " + research_note(event))
            return
        elif kind is ToolRunning or kind is ToolOutput or kind is ServiceToolCall:
            self._busy = "tool" if kind is ToolRunning else ""  # a running call is not the model being slow
            self._tool(event)
            return
        else:
            return
        self._quiet_since, self._busy = self.clock(), ""
        if self._waiting_shown >= 0:  # tokens again: the waiting note goes
            self._waiting_shown = -1
            self._show({}, self._status, update=True)
        self._tick()

    def on_idle(self) -> None:
        """Called while no event arrives: show what arrived (budget permitting), and after a second without a
        token say the cell is waiting for the model, with the seconds waited."""
        quiet = self.clock() - self._quiet_since
        if quiet >= IDLE_FLUSH and self.outputs:
            self._tick()
        if quiet >= WAITING_AFTER and not self._busy and int(quiet) != self._waiting_shown:
            self._waiting_shown = int(quiet)
            self._status_line(f"waiting for the model… {int(quiet)} s" + (" since the last words" if any(
                o.kind in ("answer", "reasoning") for o in self.outputs) else ""))

    def _tool(self, event: ToolRunning | ToolOutput | ServiceToolCall) -> None:
        """A call shows at once, in order below what came before it (few and slow: outside the budget)."""
        key = self._calls.on_event(event)
        if key is None:
            return
        bundle = {"text/html": fragment(self._calls.blocks[key])}
        block = self._call_outputs.get(key)
        if block is not None:
            self._show(bundle, block.display_id, update=True)
            return
        for earlier in self.outputs:  # what the model said before the call is finished: show all of it
            if earlier.size > earlier.shown:
                self._publish(earlier, earlier.text)
        self._behind = None
        block = self._call_outputs[key] = Block("tool", True)  # its own output; the next words go below it
        self.outputs.append(block)
        block.display_id = self._create(bundle)

    def _retrying(self, note: str) -> None:
        """Say at once that the request failed and when it is tried again (the final output replaces it)."""
        self._busy, self._waiting_shown = note, -1
        self._status_line(note)

    def _status_line(self, note: str) -> None:
        """The one status output: a retry, an image task's state, research's phase, or waiting for the model."""
        bundle = {"text/html": f'<div class="qwen-retrying {ROOT_CLASS}" style="color:{MUTED}">{html.escape(note)}</div>',
                  "text/plain": note}
        if self._status is None:
            self._status = self._create(bundle)
        else:
            self._show(bundle, self._status, update=True)

    def _add(self, kind: str, text: str) -> None:
        if not text:
            return
        if not self.outputs or self.outputs[-1].kind != kind:
            first = not any(o.kind == kind for o in self.outputs)
            if self.outputs and self.outputs[-1].shown < self.outputs[-1].size:
                self._behind = self.outputs[-1]
            self.outputs.append(Block(kind, first))
        self.outputs[-1].add(text)

    def _tick(self) -> None:
        """At most one publishing step, when the budget has room for it (checked first: it costs nothing)."""
        if not self.bucket.ready():
            return
        if not self._header_shown:
            if self.bucket.take(2):
                self._create({"text/html": self._header})
                self._header_shown = True
            return
        # An output left behind by a change of kind (reasoning -> answer) is finished: show all of it once.
        behind = self._behind
        if behind is not None:
            if self.bucket.take(1 if behind.display_id else 2):
                self._publish(behind, behind.text)
                self._behind = None
            return
        live = self.outputs[-1]
        if not live.size:
            return
        cost = 1 if live.display_id else 2
        cut = live.split_point()
        if cut is not None:
            if self.bucket.take(cost):
                self._seal(live, cut)
            return
        if live.shown < live.size and self.bucket.take(cost):
            self._publish(live, live.text)

    def _publish(self, output: Block, text: str) -> None:
        bundle = self._bundle(output, text)
        if output.display_id is None:
            output.display_id = self._create(bundle)
        else:
            self._show(bundle, output.display_id, update=True)
        output.shown = output.size

    def _seal(self, live: Block, cut: int) -> None:
        """Give the live output its final text up to `cut`; the rest starts a new live output."""
        successor = live.split(cut)
        self._publish(live, live.text)
        self.outputs.append(successor)

    def run(self, result: Any) -> None:
        """Stream a result; an interrupt, wherever it lands, ends the stream at once and then propagates. While
        no event comes, a ticker thread shows what arrived and says when the model is slow."""
        self._quiet_since = self.clock()
        stop = threading.Event()
        ticker = threading.Thread(target=self._ticks, args=(stop,), daemon=True, name="qwen-cell-ticker")
        ticker.start()
        try:
            for event in result.watch():
                with self._lock:
                    self.on_event(event)
        except KeyboardInterrupt:
            result.stop()  # the connection closes; the partial answer is kept, marked interrupted
            raise
        finally:
            stop.set()
            ticker.join()  # nothing may publish after the final output replaces the streaming ones

    def _ticks(self, stop: threading.Event) -> None:
        while not stop.wait(TICK):
            with self._lock:
                if not stop.is_set():
                    self.on_idle()

    def finish(self, result: Any) -> None:
        """Replace the streaming outputs with the final one (reasoning beside the answer, error, footer)."""
        if self.messages:
            self.display.clear_output(wait=True)
            self.messages += 1
        self.messages += 1
        if self.plain:
            bundle = {"text/plain": result_text(result)}
        else:
            bundle = final_bundle(result, self._header, self.image_hosts)
        self.display.display(bundle, raw=True)
        for output in media_bundles(result):  # generated images and speech, embedded (the links expire)
            self.messages += 1
            self.display.display(output, raw=True)
        for call in result.tool_calls:  # what approved code displayed (kept while the answer streamed)
            for output in call.displays:
                self.messages += 1
                self.display.display(output, raw=True)


def thumbnails(inputs: tuple[Media, ...]) -> str:
    """Small previews of the input images (our own HTML; data URLs are shrunk first)."""
    cells = []
    for media in inputs:
        if media.kind == "image":
            src = html.escape(_small(media.url), quote=True)
            label = html.escape(media.label, quote=True)
            cells.append(f'<img src="{src}" title="{label}" alt="{label}" '
                         f'style="max-height:{THUMB_SIZE}px;max-width:{THUMB_SIZE * 2}px;margin-right:.4em">')
        else:
            cells.append(f'<span style="color:{MUTED}">[{html.escape(media.kind)}: {html.escape(media.label)}]</span>')
    return f'<div class="qwen-inputs {ROOT_CLASS}">{"".join(cells)}</div>' if cells else ""


def _small(url: str) -> str:
    if not url.startswith("data:") or len(url) < 24_000:
        return url
    try:
        from PIL import Image
    except ImportError:
        return url
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    image.thumbnail((THUMB_SIZE * 2, THUMB_SIZE))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
