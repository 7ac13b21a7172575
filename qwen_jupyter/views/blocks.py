"""Markdown text that arrives in pieces, and where it can safely be cut into finished blocks."""

from __future__ import annotations

MIN_BLOCK = 200   # characters before a boundary is worth sealing at
MAX_BLOCK = 2000  # characters after which a block is split even without a blank line


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
        self.line_start = True
        self.pending_newline = False
        self.boundary = 0  # offset just after the last safe boundary

    @property
    def text(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0] if self.parts else ""

    def add(self, text: str) -> None:
        """Append text, tracking code fences and the last blank line outside one (O(len(text)))."""
        offset = self.size
        self.parts.append(text)
        self.size += len(text)
        if "\n" not in text and "`" not in text:  # most pieces: no line ends, no fences
            if text:
                self.line_start = False
                if not text.isspace():
                    self.pending_newline = False
            return
        for i, char in enumerate(text):
            if char == "\n":
                if self.pending_newline and not self.in_fence:
                    self.boundary = offset + i + 1
                self.pending_newline = True
                self.line_start = True
                continue
            if self.line_start and char == "`" and text.startswith("```", i):
                self.in_fence = not self.in_fence
                if self.in_fence:
                    end = text.find("\n", i)
                    self.fence = text[i:end] if end != -1 else text[i:]
            if not char.isspace():
                self.pending_newline = False
            self.line_start = False

    def split_point(self) -> int | None:
        """Where to seal: the last blank line, else (when long) the last newline or space."""
        if self.boundary >= MIN_BLOCK:
            return self.boundary
        if self.size < MAX_BLOCK:
            return None
        text = self.text
        cut = text.rfind("\n", 0, self.size - 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, self.size - 1)
        return cut + 1 if cut > 0 else self.size

    def split(self, cut: int) -> Block:
        """Keep the text up to `cut` (closing an open code fence); the rest goes to the returned successor."""
        text = self.text
        head, rest = text[:cut], text[cut:]
        reopen = ""
        if self.in_fence and self.boundary < cut:  # cut inside a code block: close it here, reopen below
            head += "\n```"
            reopen = self.fence + "\n"
        self.parts, self.size = [head], len(head)
        successor = Block(self.kind, first=False)
        successor.add(reopen + rest)
        return successor
