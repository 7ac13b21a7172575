"""The emulated answer to "why did this cell fail?": when a prompt quotes a Python cell and its traceback (as
%qwen fix sends them), say which line raised what, and give the cell back with that line guarded against that
exception. A guess, as an offline model's must be, but one that reads as the prompt asked.
"""

from __future__ import annotations

import re

_CELL = re.compile(r"```python\n(.*?)```", re.DOTALL)
_FENCE = re.compile(r"```\n(Traceback \(most recent call last\):.*?)```", re.DOTALL)
_CELL_LINE = re.compile(r"^ {2}cell, line (\d+), in ", re.MULTILINE)
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?::\s*(.*))?$")


def fix(prompt: str, model: str) -> str | None:
    """The reply to a prompt quoting a failing cell and its traceback, or None when it quotes no such pair."""
    cell, traceback = _CELL.search(prompt), _FENCE.search(prompt)
    if not cell or not traceback:
        return None
    source = cell.group(1).rstrip("\n").split("\n")
    lines = _CELL_LINE.findall(traceback.group(1))
    last = traceback.group(1).rstrip().rsplit("\n", 1)[-1]
    exception = _EXCEPTION.match(last.strip())
    if not lines or not exception or not 1 <= int(lines[-1]) <= len(source):
        return None
    kind, message = exception.group(1), exception.group(2) or ""
    number = int(lines[-1])
    failing = source[number - 1]
    indent = failing[: len(failing) - len(failing.lstrip())]
    guarded = [f"{indent}try:", f"    {failing}",
               f"{indent}except {kind} as error:  # the line that failed: handle the case it could not",
               f'{indent}    print(f"skipped: {{error!r}}")']
    fixed = source[: number - 1] + guarded + source[number:]
    said = f" ({message})" if message else ""
    return (f"**[emulated {model}]** Line {number} of the cell raised `{kind}`{said}: `{failing.strip()}`. "
            "Check the values that line uses. As a start, here is the cell with that line guarded:\n\n"
            "```python\n" + "\n".join(fixed) + "\n```")
