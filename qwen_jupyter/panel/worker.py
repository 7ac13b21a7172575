"""The panel's worker thread: it streams an answer (or a comparison, a column a model) into the panel as deltas
and sealed blocks, refreshes the live turn now and then, and ends the turn, whatever fails on the way."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from ..core.errors import redact
from ..core.events import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    ServiceToolCall,
    TaskProgress,
    TextDelta,
    ToolOutput,
    ToolRunning,
)
from ..core.result import QwenResult
from ..engine.comparison import Comparison
from ..views.blocks import Block
from ..views.compare import final_html as comparison_html
from ..views.html import fragment, markdown_html
from ..views.layout import footer
from ..views.logprobs import logprobs_html
from ..views.media import audio_html, images_html, progress_note
from ..views.tools import LiveCalls, tool_calls_html

DELTA_INTERVAL = 0.05  # seconds between delta messages (at most 20 a second)
REFRESH_INTERVAL = 3.0  # seconds between full refreshes of the live turn, at the least


class Worker:
    """Streams one ask into its panel, from a thread of its own (Stop acts at once, a cell can run meanwhile)."""

    def __init__(self, panel: Any) -> None:  # the QwenPanel (widget.py, which starts workers)
        self.panel = panel

    def run(self, answer: QwenResult | Comparison, turn_id: str, user: str, key: str) -> None:
        """The worker: stream, then record; whatever fails on the way, the turn ends and the panel takes the next."""
        try:
            if isinstance(answer, Comparison):
                self._stream_comparison(answer, turn_id, user, key)
            else:
                self._stream(answer, turn_id, user, key)
        except Exception as exc:  # a bug or a storage failure below us must not leave the panel busy for good
            self._recover(turn_id, user, exc)

    def _recover(self, turn_id: str, user: str, exc: Exception) -> None:
        message = redact(f"The panel could not finish this turn ({type(exc).__name__}: {exc}).")
        partial = self.panel.last.text if isinstance(self.panel.last, QwenResult) and self.panel.last.done else ""
        shown = (comparison_html(self.panel.last) if isinstance(self.panel.last, Comparison) and self.panel.last.done
                 else fragment(markdown_html(partial)))  # what came stays, a comparison's columns too
        self.panel._keep_failed(turn_id, user, message, shown, partial=partial)
        with self.panel.hold_sync():
            self.panel.live = {}
            self.panel._load_turns()
            self.panel.busy = False
        self.panel._update_display()

    def _stream(self, result: QwenResult, turn_id: str, user: str, key: str) -> None:
        streams = {"answer": Stream("answer"), "reasoning": Stream("reasoning")}
        calls = LiveCalls()
        last_delta = time.monotonic()
        refresh = Refresh()
        try:
            for event in result.watch():
                if self.panel._stop.is_set():
                    result.stop()  # marks the result interrupted and closes the HTTP stream
                    break
                if isinstance(event, TaskProgress):  # an image task's state, as the live turn's plain-text tail
                    self.panel.live = {**self.panel.live, "answer_tail": progress_note(event)}
                if isinstance(event, (ToolRunning, ToolOutput, ServiceToolCall)):  # few: each shows at once
                    calls.on_event(event)
                    self._flush(turn_id, streams.values())
                    self.panel.live = {**self.panel.live, **live_state(streams), "tools_html": calls.html()}
                stream = stream_for(streams, event)
                if stream is None:
                    continue
                stream.add(event.text)
                now = time.monotonic()
                if now - last_delta < DELTA_INTERVAL:
                    continue
                last_delta = now
                self._flush(turn_id, streams.values())
                if refresh.due(streams.values()):  # after a flush, so it matches what was sent
                    self.panel.live = {**self.panel.live, **live_state(streams)}
        finally:
            result.wait(raise_error=False)
            self._flush(turn_id, streams.values())
            self._finish(result, user, key)

    def _stream_comparison(self, comparison: Comparison, turn_id: str, user: str, key: str) -> None:
        """Every model's answer as deltas and sealed blocks of its own column; Stop stops them all."""
        models = comparison.models
        streams = [Stream("answer", column) for column in range(len(models))]
        taken = [0] * len(models)
        refresh = Refresh()

        def take() -> None:  # the text each model's reader has added since
            for column, name in enumerate(models):
                pieces = comparison.partial[name]
                count = len(pieces)  # its reader appends meanwhile: up to what is there now
                if count > taken[column]:
                    streams[column].add("".join(pieces[taken[column]:count]))
                    taken[column] = count

        try:
            comparison.start()
            while not comparison.done:
                if self.panel._stop.is_set():
                    comparison.stop()  # each stream is closed; what arrived is kept, marked interrupted
                    break
                time.sleep(DELTA_INTERVAL)
                take()
                self._flush(turn_id, streams)
                if refresh.due(streams):
                    self.panel.live = {**self.panel.live, "columns": columns_state(models, streams)}
        finally:
            comparison.wait()
            take()
            self._flush(turn_id, streams)
            self._finish_comparison(comparison, user, key)

    def _finish_comparison(self, comparison: Comparison, user: str, key: str) -> None:
        """Show the comparison where it was asked (it is no turn of the chat): each model's answer and footer."""
        results = comparison.results
        status = ("interrupted" if any(r.interrupted for r in results.values()) else
                  "error" if any(r.error for r in results.values()) else "ok")
        conversation = self.panel.session.chats.get(self.panel.chat)
        self.panel._shown[key] = {**self.panel._shown.get(key, {}), "id": key, "user": user,
                            "answer_html": comparison_html(comparison), "reasoning_html": "",
                            "answer_md": "\n\n".join(f"**{name}**\n\n{r.text}" for name, r in results.items()),
                            "model": " · ".join(results), "footer": "", "status": status, "compare": True,
                            "after": len(conversation.turns) if conversation else 0}
        self._end_turn()

    def _flush(self, turn_id: str, streams: Iterable[Stream]) -> None:
        for stream in streams:
            for message in stream.messages():
                self.panel._sequence += 1
                self.panel.send({**message, "turn": turn_id, "seq": self.panel._sequence})

    def _finish(self, result: QwenResult, user: str, key: str) -> None:
        """The turn is recorded (ask_in did it): show it with this answer's footer and error, if any."""
        shown = self.panel._shown.setdefault(key, {})
        shown["footer"] = footer(result)
        if result.tool_calls:  # as they ran here: approved or not, code shown as code (the stored turn has less)
            shown["tools_html"] = fragment(tool_calls_html(result))
        speech = result.audio
        media = images_html(result) + (audio_html(speech.wav) if speech else "")
        if logprobs := result.logprobs:  # the answer token by token, shaded by probability (the Markdown is in Copy)
            shown["answer_html"] = fragment(logprobs_html(logprobs)) + media
        elif media:  # generated pictures and speech, as our own PNG and WAV data
            shown["answer_html"] = fragment(markdown_html(result.text)) + media
        if result.error:
            shown["error"] = result.error.summary()
            shown["status"] = "interrupted" if result.interrupted else "error"
            conversation = self.panel.session.chats.get(self.panel.chat)
            if conversation is None or conversation.position(key) is None:  # nothing came back: no turn
                self.panel._keep_failed(key, user, shown["error"], footer=shown["footer"])
        self._end_turn()

    def _end_turn(self) -> None:
        """Show the finished turn (an answer's or a comparison's) and take the next question."""
        self.panel._load_turns()  # the view keeps the finished turn hidden behind the live one until `live` empties
        # The front end re-renders the whole output on a display update: that happens while the panel is busy,
        # and the finished turn and "not busy" reach the view together, in one state message, after it.
        self.panel._update_display()
        with self.panel.hold_sync():
            self.panel.live = {}
            self.panel.busy = False


class Refresh:
    """When to resend the whole live turn: at least REFRESH_INTERVAL apart and only once its text has doubled,
    so that a turn's refreshes add up to O(answer) (geometric), for one answer and for a comparison alike."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.size = 0

    def due(self, streams: Iterable[Stream]) -> bool:
        now, size = time.monotonic(), sum(s.size for s in streams)
        if now - self.last < REFRESH_INTERVAL or size < 2 * max(self.size, 512):
            return False
        self.last, self.size = now, size
        return True


class Stream:
    """One kind of text in the live turn: deltas to send, and finished blocks to send once as HTML."""

    def __init__(self, kind: str, column: int | None = None) -> None:
        self.kind = kind
        self.column = column  # a comparison's model, by position
        self.block = Block(kind, first=True)
        self.sealed_html: list[str] = []
        self.pending = ""
        self.size = 0

    def add(self, text: str) -> None:
        self.block.add(text)
        self.pending += text
        self.size += len(text)

    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        where = {"kind": self.kind} if self.column is None else {"kind": self.kind, "column": self.column}
        if self.pending:
            out.append({"type": "delta", **where, "text": self.pending})
            self.pending = ""
        cut = self.block.split_point()
        if cut is not None and cut < self.block.size:
            rest = self.block.split(cut)
            html = fragment(markdown_html(self.block.text))
            self.sealed_html.append(html)
            self.block = rest
            out.append({"type": "block", **where, "html": html, "tail": rest.text})
        return out


def stream_for(streams: dict[str, Stream], event: Event) -> Stream | None:
    match event:
        case TextDelta():
            return streams["answer"]
        case ReasoningDelta():
            return streams["reasoning"]
        case Finished() | Failed():
            return None
    return None


def live_state(streams: dict[str, Stream]) -> dict[str, str]:
    return {f"{kind}_html": "".join(s.sealed_html) for kind, s in streams.items()} | {
        f"{kind}_tail": s.block.text for kind, s in streams.items()}


def columns_state(models: list[str], streams: list[Stream]) -> list[dict[str, str]]:
    return [{"model": name, "answer_html": "".join(s.sealed_html), "answer_tail": s.block.text}
            for name, s in zip(models, streams, strict=True)]
