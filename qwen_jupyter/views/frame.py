"""A DataFrame of answers, shown as pandas shows it but out of reach of the page's typesetter.

map() marks the frames it returns with `attrs["qwen"]` (so do a comparison's frame, the token table and OCR's
tables), and pandas carries the mark through head(), column selections and most other operations. Their cells
hold model and server text, where `$…$` is prose (or an attack: MathJax makes `\\href` a link and `\\style` a
styled box), never math to typeset. pandas escapes the cells' text; the frame's HTML goes inside the same ignore
root as every other output of ours. Other frames are left as they are.
"""

from __future__ import annotations

from typing import Any

from .html import fragment

MARK = "qwen"  # the attrs key of the frames we make


def frame_html(frame: Any) -> str | None:
    """pandas' own HTML of a frame (its cells escaped), inside the ignore root when map() made it."""
    html = frame._repr_html_()
    if html is None or MARK not in getattr(frame, "attrs", {}):
        return html
    return fragment(html, extra_class="qwen-frame")
