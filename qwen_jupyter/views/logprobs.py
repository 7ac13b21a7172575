"""An answer with its token log probabilities: each token shaded by how likely it was, its alternatives in a
tooltip (a `title`, so it reads in a saved notebook, on GitHub and in nbviewer; no script, no handler).

Every token is model text: escaped here, and the layout's allowlist cleans the whole output again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .html import escape

TINT = "var(--jp-warn-color1, var(--vscode-editorWarning-foreground, #e65100))"


def shade(probability: float) -> str:
    """The background of a token: clear when the model was sure, a stronger tint the less sure it was."""
    strength = round(min(1.0, max(0.0, 1.0 - probability)) * 70)
    return f"color-mix(in srgb, {TINT} {strength}%, transparent)" if strength else "transparent"


def _tip(entry: Any) -> str:
    lines = [f"{entry.token!r}: p = {entry.probability:.3f} (logprob {entry.logprob:.3f})"]
    lines += [f"  {token!r}: p = {math.exp(logprob):.3f}" for token, logprob in entry.top if token != entry.token]
    return "\n".join(lines)


def logprobs_html(entries: Sequence[Any]) -> str:
    """The tokens as shaded spans with their alternatives on hover, and a one-line legend."""
    spans = "".join(
        f'<span class="qwen-token" style="background:{shade(e.probability)};border-radius:2px" '
        f'title="{escape(_tip(e))}">{escape(e.token)}</span>' for e in entries)
    sure = sum(1 for e in entries if e.probability >= 0.9)
    legend = (f"{len(entries)} tokens · {sure} with p ≥ 0.9 · darker = less likely · hover a token for its "
              "alternatives")
    return (f'<div class="qwen-logprobs" style="white-space:pre-wrap;line-height:1.6">{spans}</div>'
            f'<div class="qwen-logprobs-legend" style="font-size:.8em;opacity:.75">{escape(legend)}</div>')
