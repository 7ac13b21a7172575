"""What an OCR task read, in the shape a person works with: tables as pandas DataFrames, key information as a
dict, formulas as LaTeX (shown as math), words with their boxes; the service's ocr_result kept as it came."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

_FENCE = re.compile(r"```[\w-]*\n(.*?)```", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.DOTALL)


@dataclass(frozen=True)
class Reading:
    """One OCR answer: `task`, `text`, `tables` (DataFrames), `fields` (key information), `formulas` (LaTeX),
    `words` (text with location boxes), and `ocr_result` (the service's own)."""

    task: str
    text: str
    tables: list[Any] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    formulas: list[str] = field(default_factory=list)
    words: list[dict[str, Any]] = field(default_factory=list)
    ocr_result: dict[str, Any] = field(default_factory=dict)


class _Tables(HTMLParser):
    """The rows of every <table> in a piece of HTML, cell text only (nothing is rendered or fetched)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(text: str) -> list[Any]:
    """The HTML tables in an answer as DataFrames (the first row is the header)."""
    import pandas as pd

    parser = _Tables()
    parser.feed(text)
    frames = []
    for rows in parser.tables:
        rows = [row for row in rows if row]
        if not rows:
            continue
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        header = rows[0] if len(rows) > 1 else [str(i) for i in range(width)]
        frame = pd.DataFrame(rows[1:] if len(rows) > 1 else rows, columns=_unique(header))
        frame.attrs["qwen"] = {"ocr": "table"}  # model text: shown out of the typesetter's reach
        frames.append(frame)
    return frames


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def _json_in(text: str) -> Any:
    for block in [*_FENCE.findall(text), text]:
        try:
            return json.loads(block)
        except json.JSONDecodeError:
            continue
    return None


def formulas(text: str) -> list[str]:
    """The LaTeX formulas of an answer: $$…$$ and \\[…\\] blocks, a fenced block, or the whole answer."""
    found = [(a or b).strip() for a, b in _DISPLAY_MATH.findall(text)]
    if found:
        return found
    fenced = [block.strip() for block in _FENCE.findall(text)]
    return fenced or ([text.strip()] if text.strip() else [])


def reading(task: str, text: str, ocr_result: dict[str, Any]) -> Reading:
    """A Reading from the task, the answer's text and the service's ocr_result."""
    found: dict[str, Any] = {}
    if task == "table_parsing":
        found["tables"] = tables(text)
    elif task == "key_information_extraction":
        value = ocr_result.get("kv_result")
        value = value if isinstance(value, dict) else _json_in(text)
        found["fields"] = value if isinstance(value, dict) else {}
    elif task == "formula_recognition":
        found["formulas"] = formulas(text)
    elif task == "advanced_recognition":
        words = ocr_result.get("words_info")
        found["words"] = [w for w in words if isinstance(w, dict)] if isinstance(words, list) else []
    return Reading(task, text, ocr_result=dict(ocr_result), **found)
