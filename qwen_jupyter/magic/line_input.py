"""`%qwen What is the capital of France?` asks the question.

IPython reads a line ending in `?` as a help request (`France?` would show "Object `France` not found."), and
most one-line questions end in one. This cleanup transformer, which IPython runs before its help syntax, turns
such a `%qwen` line into the magic call with the question mark kept. `%qwen?` alone still shows the help.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^(?P<indent>[ \t]*)(?:(?P<target>[A-Za-z_][\w.]*)\s*=\s*)?%qwen(?P<rest>[ \t]+\S.*?)[ \t]*$")


def questions_are_prompts(lines: list[str]) -> list[str]:
    """Rewrite `%qwen … ?` lines (outside %% cell magics) as magic calls that keep the question mark."""
    if any(line.lstrip().startswith("%%") for line in lines[:1]):
        return lines  # a cell magic's body is passed as typed
    out = []
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if match and match.group("rest").rstrip().endswith("?"):
            call = f"get_ipython().run_line_magic('qwen', {match.group('rest').strip()!r})"
            target = f"{match.group('target')} = " if match.group("target") else ""
            line = f"{match.group('indent')}{target}{call}\n"
        out.append(line)
    return out
