"""A comparison shown side by side: a column per model, streaming together, each ending with its own footer
(tokens, time to first token, total time). Like the cell view, the live output starts empty (nbval skips it)
and is replaced by one final output, the one a saved notebook keeps.
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any, TextIO

from ..core.errors import Interrupted
from .html import ROOT_CLASS, escape, fragment, markdown_html, one_block
from .layout import MUTED, result_html, result_text
from .show import in_kernel


def _columns(cells: list[str]) -> str:
    return ('<div class="qwen-compare" style="display:grid;gap:1.2em;align-items:start;overflow-x:auto;'
            f'grid-template-columns:repeat({len(cells)}, minmax(16em, 1fr))">{"".join(cells)}</div>')


def _heading(model: str, note: str = "") -> str:
    extra = f' <span style="color:{MUTED};font-weight:normal">{escape(note)}</span>' if note else ""
    return f'<div class="qwen-compare-model" style="font-weight:bold;margin-bottom:.3em">{escape(model)}{extra}</div>'


def live_html(comparison: Any) -> str:
    """The answers so far, a column each."""
    cells = []
    for model, result in comparison.results.items():
        text = "".join(comparison.partial[model])
        cells.append(f"<div>{_heading(model, 'done' if result.done else 'streaming…')}"
                     f"{fragment(markdown_html(text))}</div>")
    return f'<div class="{ROOT_CLASS}">{_columns(cells)}</div>'


def final_html(comparison: Any) -> str:
    """The finished comparison on one line: each model's answer, error and footer in its column."""
    cells = [f"<div>{_heading(model)}{result_html(result)}</div>" for model, result in comparison.results.items()]
    return one_block(f'<div class="{ROOT_CLASS}">{_columns(cells)}</div>')


def final_bundle(comparison: Any) -> dict[str, str]:
    """The finished comparison: each model's answer, error and footer in its column; plain text one after another."""
    page = final_html(comparison)
    text = "\n\n".join(f"== {model} ==\n{result_text(result)}" for model, result in comparison.results.items())
    return {"text/html": page, "text/markdown": page, "text/plain": text}


def show_comparison(comparison: Any, rate: float = 4.0, publisher: Any = None) -> None:
    """Stream a comparison into the cell, then show its final form; an interrupt stops every stream."""
    if publisher is None:
        from IPython import display as publisher
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and not in_kernel(shell):  # terminal IPython: no live display
            print_as_they_finish(comparison)
            return
    if not comparison.done:
        display_id = uuid.uuid4().hex
        publisher.display({}, raw=True, display_id=display_id)
        comparison.start()
        try:
            while not comparison.done:
                time.sleep(1 / rate)
                publisher.update_display({"text/html": live_html(comparison)}, raw=True, display_id=display_id)
        except KeyboardInterrupt:
            comparison.stop()
            publisher.clear_output(wait=True)
            publisher.display(final_bundle(comparison), raw=True)
            raise Interrupted() from None
        publisher.clear_output(wait=True)
    publisher.display(final_bundle(comparison.wait()), raw=True)


def print_as_they_finish(comparison: Any, out: TextIO | None = None, poll: float = 0.05) -> None:
    """A terminal's comparison: each model's answer and footer printed as soon as it has ended (columns do not fit
    a terminal, and one answer streamed over another would be unreadable); an interrupt stops the rest."""
    out = out or sys.stdout
    printed: set[str] = set()

    def print_finished() -> None:
        for model, result in comparison.results.items():
            if model not in printed and result.done:
                printed.add(model)
                out.write(f"== {model} ==\n{result_text(result)}\n\n")
                out.flush()

    comparison.start()
    try:
        while len(printed) < len(comparison.results):
            print_finished()
            time.sleep(poll)
    except KeyboardInterrupt:
        comparison.stop()
        print_finished()
        raise Interrupted() from None
