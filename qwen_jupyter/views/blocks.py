"""Markdown text that arrives in pieces, and where it can be cut into finished blocks.

Where a cut falls only changes how the text looks while it streams (each block is parsed and sanitized on its own,
and the finished answer is rendered whole), so any cut is safe; good cuts are blank lines outside code. Text with
no such boundary is cut by size, so no block, and no display update, grows without bound.
"""

from __future__ import annotations

MIN_BLOCK = 200   # characters before a boundary is worth sealing at
MAX_BLOCK = 2000  # characters after which a block is cut even without a blank line
_PREFIX = 64      # characters of a line kept to recognise a fence and reopen it after a cut


class Block:
    """Streaming text of one kind (answer or reasoning): what arrived, what was shown, where it may be cut."""

    def __init__(self, kind: str, first: bool) -> None:
        self.kind = kind
        self.first = first  # the first block of its kind gets the "Reasoning" title
        self.parts: list[str] = []
        self.size = 0
        self.display_id: str | None = None
        self.shown = 0  # self.size when last published
        self.in_fence = False
        self.fence = "```"
        self.fence_start = 0  # offset of the line that opened the current fence
        self.boundary = 0  # offset just after the last blank line outside code
        self._line = ""  # the start of the current line (up to _PREFIX characters)
        self._line_blank = True
        self._lines = 0  # lines ended so far (a blank first line is no boundary)
        self._line_start = 0

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    def add(self, text: str) -> None:
        """Append text, tracking code fences and the last blank line outside one (C-speed scans per line)."""
        offset = self.size
        self.parts.append(text)
        self.size += len(text)
        position = 0
        while True:
            end = text.find("\n", position)
            segment = text[position:] if end == -1 else text[position:end]
            if segment:
                if len(self._line) < _PREFIX:
                    self._line += segment[:_PREFIX]
                if self._line_blank and not segment.isspace():
                    self._line_blank = False
            if end == -1:
                return
            self._end_line(offset + end + 1)
            position = end + 1

    def _end_line(self, after: int) -> None:
        stripped = self._line.lstrip(" ")
        marker = stripped[:3]
        if len(self._line) - len(stripped) <= 3 and marker in ("```", "~~~"):
            if not self.in_fence:
                self.in_fence, self.fence, self.fence_start = True, stripped, self._line_start
            elif stripped.startswith(self.fence[:3]) and not stripped[3:].strip(marker[0] + " \t"):
                self.in_fence = False
        elif self._line_blank and not self.in_fence and self._lines:
            self.boundary = after
        self._lines += 1
        self._line, self._line_blank, self._line_start = "", True, after

    def split_point(self) -> int | None:
        """Where to seal: the last blank line, else (when long) the last newline or space, else the size limit."""
        if self.boundary >= MIN_BLOCK:
            return self.boundary
        if self.size < MAX_BLOCK:
            return None
        text = self.text
        cut = text.rfind("\n", 0, self.size - 1)
        if cut < MIN_BLOCK:
            cut = text.rfind(" ", 0, self.size - 1)
        return cut + 1 if cut >= MIN_BLOCK else self.size

    def split(self, cut: int) -> Block:
        """Keep the text up to `cut` (closing an open code fence); the rest goes to the returned successor."""
        text = self.text
        head, rest = text[:cut], text[cut:]
        reopen = ""
        if self.in_fence and cut > self.fence_start:  # cut inside a code block: close it here, reopen below
            head += "\n" + self.fence[:3]
            reopen = self.fence + "\n"
        self.parts, self.size = [head], len(head)
        successor = Block(self.kind, first=False)
        if reopen:
            successor.add(reopen)
        successor.add(rest)
        return successor
