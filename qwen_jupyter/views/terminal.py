"""The terminal view: terminal IPython (and any shell without a Jupyter front end) gets plain text as it arrives.

Model text is written without terminal control characters, so an answer cannot retitle the window, move the
cursor or write the clipboard; reasoning is dimmed when the output is a terminal.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

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
from ..core.research import note as research_note
from ..core.text import clipped, printable, visible
from .layout import footer, media_lines, retry_note, source_lines
from .media import progress_note


class TerminalView:
    """Writes a result's text progressively; call run(result), then finish(result)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.out = stream or sys.stdout
        self.styled = bool(getattr(self.out, "isatty", lambda: False)())
        self.kind: str | None = None
        self.status: str | None = None  # an image task's last state shown
        self.line_start = True
        self.last_note = ""

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.line_start = text.endswith("\n")

    def _note(self, text: str) -> None:
        """A line of its own (a retry, a task's state, a research phase), not glued to the text before it; a note
        that says again what the last one said is not repeated."""
        if text == self.last_note:
            return
        self.last_note = text
        self._write(("" if self.line_start else "\n") + printable(text) + "\n")

    def on_event(self, event: Event) -> None:
        """Write one event's text at once."""
        match event:
            case ReasoningDelta(text=text):
                self._switch("reasoning")
                self._write(printable(text))
            case TextDelta(text=text):
                self._switch("answer")
                self._write(printable(text))
            case Retrying():
                self._note(f"[{retry_note(event)}]")
            case ToolRunning(name=name, arguments=arguments, asks=asks):
                self._switch("tool")
                # as the approval shows them; one that asks ends its line, so the question starts on its own
                call = visible(printable(f"[tool {name}({clipped(arguments, 200)})"))
                self._write(f"{call} waits for your approval]\n" if asks else f"{call} running…] ")
            case ServiceToolCall(name=name, arguments=arguments, output=output):
                self._switch("tool")
                self._note(f"[{name} ran {clipped(arguments, 200)}] {clipped(output, 300)}")
            case ToolOutput(output=output, error=error, seconds=seconds):
                said = f"error: {error}" if error is not None else (output or "")
                self._write(printable(f"[{seconds:.2f} s] {clipped(said, 300)}\n"))
            case TaskProgress(status=status) if status != self.status:
                self.status = status
                self._note(f"[{progress_note(event)}]")
            case ResearchProgress():
                self._note(f"[{research_note(event)}]")

    def _switch(self, kind: str) -> None:
        if kind == self.kind:
            return
        if self.kind is not None:
            self._write("\n" if self.line_start else "\n\n")  # one blank line between kinds of text
        if kind == "reasoning":
            self._write("\x1b[2mReasoning: " if self.styled else "Reasoning: ")
        elif self.kind == "reasoning" and self.styled:
            self._write("\x1b[0m")
        self.kind = kind

    def run(self, result: Any) -> None:
        """Stream a result; an interrupt ends the stream at once and then propagates."""
        try:
            for event in result.watch():
                self.on_event(event)
        except KeyboardInterrupt:
            result.stop()
            raise

    def finish(self, result: Any) -> None:
        """End the text: the error, if any, and the footer line."""
        if self.kind == "reasoning" and self.styled:
            self._write("\x1b[0m")
        tail = "\n" if self.kind else ""
        tail += "".join(f"{line}\n" for line in media_lines(result))
        tail += "".join(printable(line) + "\n" for line in source_lines(result))
        for call in result.tool_calls:  # what approved code displayed, as a terminal shows a display
            tail += "".join(printable(shown.get("text/plain", f"[{', '.join(shown)}]")) + "\n" for shown in call.displays)
        if result.error:
            tail += f"\n{printable(result.error.summary())}\n"
        self._write(f"{tail}-- {footer(result)}\n")
