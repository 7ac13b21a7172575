"""What an OCR task read, shown the way a person reads it: tables as tables, key information as a two-column
table, formulas as math, words with their boxes. Every cell is model text, escaped here (the layout cleans the
whole output again)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .html import escape, fragment, markdown_html

_TABLE = 'style="border-collapse:collapse;margin:.4em 0"'
_CELL = 'style="border:1px solid var(--jp-border-color2, #e0e0e0);padding:.15em .5em;text-align:left"'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th {_CELL}>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="qwen-ocr-table" {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _flat(fields: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    rows: list[list[Any]] = []
    for key, value in fields.items():
        name = f"{prefix} › {key}" if prefix else str(key)
        rows += _flat(value, name) if isinstance(value, dict) else [[name, value]]
    return rows


def ocr_html(reading: Any, image_hosts: Collection[str] = ()) -> str:
    """The answer of an OCR task (text, tables, fields, formulas or words) as our own safe HTML."""
    if reading.tables:
        body = "".join(_table([str(c) for c in frame.columns], frame.values.tolist()) for frame in reading.tables)
    elif reading.fields:
        body = _table(["field", "value"], _flat(reading.fields))
    elif reading.formulas:
        body = "".join(fragment(markdown_html(f"$$\n{tex}\n$$", image_hosts)) for tex in reading.formulas)
    elif reading.words:
        body = _table(["text", "location"], [[w.get("text", ""), w.get("location", "")] for w in reading.words])
    else:
        return fragment(markdown_html(reading.text, image_hosts))
    note = f'<div class="qwen-ocr-note" style="font-size:.8em;opacity:.75">OCR task {escape(reading.task)} · ' \
           "result.ocr has it as data</div>"
    return f'<div class="qwen-ocr">{body}{note}</div>'
