"""Approving a call before it runs: what the person is shown is what will run.

The call's arguments are parsed first (a key given twice is the model's error, not a choice of which to show),
then described (core.tools.Tool.described: code as code, every hidden character written out), and only a yes runs
it. Who answers: the front end's input box (ask_on_stdin, in a cell or a terminal), the panel's buttons, a
function the caller gave, or a yes to all (--yes). Where nobody can answer (nbconvert, papermill) nothing runs and
the cell ends with one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import QwenError, redact
from ..core.shell import running_shell
from ..core.text import visible
from ..core.tools import Tool

SHOWN_LIMIT = 4_000  # characters of a call shown before asking; the rest is folded with its count, "all" shows it


@dataclass(frozen=True)
class Approval:
    """A call waiting for a yes: the tool, the arguments as they will be passed, and what the person reads."""

    tool: Tool
    arguments: dict[str, Any]

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def shown(self) -> str:
        """The call described whole, every hidden character written out (in the other arguments of a call that runs
        code too: an extra argument named code with a zero-width space in it must not read as the code), keys this
        process used never shown."""
        return redact(visible(self.tool.described(self.arguments)))

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


Approve = Callable[[Approval], bool]
"""Asked before a call runs; False declines it (the model is told, and nothing runs)."""

Confirm = Callable[[str, str], bool]
"""The public form (chat(confirm=...)): asked with the tool's name and its arguments as JSON."""


def from_confirm(confirm: Confirm) -> Approve:
    """An approver from a person's own function (name, arguments JSON) -> bool."""
    return lambda approval: bool(confirm(approval.name, approval.arguments_json))


def approve_all(approval: Approval) -> bool:
    """--yes: every call of the cell is approved (for runs the person has decided to trust)."""
    return True


def ask_on_stdin(approval: Approval) -> bool:
    """Ask through the front end's input box (or the terminal), showing exactly what will run, folded past a limit
    with a count and 'all' to see the rest; where nothing can ask, the call does not run and the cell ends."""
    if not _front_end_takes_input():
        raise nobody_to_ask(approval)
    shown = approval.shown
    folded = len(shown) > SHOWN_LIMIT
    print(f"The model asks to run:\n{shown[:SHOWN_LIMIT]}")
    if folded:
        print(f"… {len(shown) - SHOWN_LIMIT:,} more characters (answer 'all' to see them before deciding)")
    try:
        while True:
            answer = input(f"Run {visible(approval.name)}? [y/N{'/all' if folded else ''}] ").strip().lower()
            if answer != "all":
                return answer in ("y", "yes")
            print(shown)
    except EOFError as exc:
        if sys.stdin is not None and sys.stdin.isatty():  # Ctrl-D at a terminal's prompt: the person said no
            print()
            return False
        raise nobody_to_ask(approval) from exc
    except (RuntimeError, NotImplementedError) as exc:  # nbconvert, papermill: no one to ask
        raise nobody_to_ask(approval) from exc


def _front_end_takes_input() -> bool:
    """False where the cell's front end said it takes no input (nbconvert, papermill, nbval): ipykernel records
    it per request, so nothing is printed as if someone would be asked. Elsewhere input() itself says."""
    return getattr(getattr(running_shell(), "kernel", None), "_allow_stdin", True)


def approver(confirm: bool | Confirm | Approve = False, yes: bool = False) -> Approve:
    """Who answers an approval: a yes to all (--yes), the person's own function, else the input box."""
    if yes:
        return approve_all
    if callable(confirm):
        return from_confirm(confirm)
    return ask_on_stdin


def nobody_to_ask(approval: Approval) -> QwenError:
    """The one line a cell ends with when a call needs approval and nothing can ask."""
    approve = "add --yes to approve every call of the cell" if running_shell() is not None else \
        "pass yes=True (or confirm=a function that decides)"
    return QwenError(f"{approval.name} needs your approval to run, but nothing here can ask: nothing ran.",
                     code="NoStdin", hint=f"Run it where it can ask (JupyterLab, a terminal), or {approve}.")
