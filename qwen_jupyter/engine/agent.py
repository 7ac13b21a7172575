"""The notebook agent's four tools, bound to the person's kernel: run_python (asks first, every time),
list_variables, describe and last_error (read-only, they ask nothing).

What goes back to the model is bounded and has every key the process has used removed (an approved
`print(os.environ)` does not carry the key to the service), and so has what approved code prints and displays in
the cell. Code the person approved runs in their namespace as a cell would (its printed output shown in the cell as
it comes); what it displays is kept and shown in the cell after the answer (the streaming outputs are replaced
then), and the model is told how many figures and displays the person saw. Nothing here evaluates a name the
model gives as code: describe() takes a variable's name only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import os
import reprlib
import sys
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.errors import redact, remember_secret
from ..core.tools import Tool, ToolFailed, ToolResult, as_tool
from .routing import KEY_ENV

NAMES = ("run_python", "list_variables", "describe", "last_error")
LIMIT = 4_000  # characters of each part of what goes back to the model (output, value, error, a description)
_IPYTHON_OWN = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict = 400, 400, 20, 20


def bounded(text: str, limit: int = LIMIT) -> str:
    """Text for the model: its head and tail within `limit` characters, and no key this process used."""
    text = redact(text)
    if len(text) <= limit:
        return text
    head = limit * 3 // 4
    return f"{text[:head]}\n… [{len(text) - limit:,} characters cut] …\n{text[-(limit - head):]}"


@dataclass
class Ran:
    """What running approved code gave: what it printed, its last expression's value (repr), its error, and the
    displays it made (kept to show after the answer)."""

    printed: str = ""
    value: str | None = None
    error: str | None = None
    displays: list[dict[str, Any]] = field(default_factory=list)
    figures: int = 0

    def for_model(self) -> str:
        """The bounded report the model reads."""
        parts = []
        if self.printed:
            parts.append("Printed:\n" + bounded(self.printed))
        if self.value is not None:
            parts.append("Value: " + bounded(self.value))
        shown = [f"{self.figures} figure(s)" if self.figures else "",
                 f"{len(self.displays)} display(s)" if self.displays else ""]
        if any(shown):
            parts.append(f"Shown to the person: {' and '.join(s for s in shown if s)}.")
        return "\n".join(parts) or "The code ran and printed nothing."


class _Tee(io.TextIOBase):
    """Writes to the cell as it comes and keeps a copy for the model."""

    def __init__(self, shown: Any) -> None:
        self.shown, self.kept, self.styled = shown, io.StringIO(), False

    def write(self, text: str) -> int:
        self.kept.write(text)
        self.shown.write(redact(text))  # an approved print(os.environ) shows no key in the cell either
        self.styled = self.styled or "\x1b" in text or "\x9b" in text
        return len(text)

    def flush(self) -> None:
        self.shown.flush()

    def end(self) -> None:
        """Reset the colours the run set (black on black, hidden): the next approval must not print under them."""
        if self.styled:
            self.shown.write("\x1b[0m")
            self.shown.flush()


@contextlib.contextmanager
def _displays_kept(shell: Any, into: list[dict[str, Any]]) -> Iterator[None]:
    """What the code displays is kept, not published now: the answer's final output replaces the cell's streaming
    outputs, and the displays are shown after it."""
    publisher = getattr(shell, "display_pub", None)
    if publisher is None:
        yield
        return
    original = publisher.publish

    def keep(data: dict[str, Any], metadata: Any = None, *args: Any, **kwargs: Any) -> None:
        into.append({kind: redact(value) if isinstance(value, str) else value for kind, value in data.items()})

    publisher.publish = keep
    try:
        yield
    finally:
        publisher.publish = original


def _figures() -> set[int]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    return set(pyplot.get_fignums()) if pyplot is not None else set()


def run_code(shell: Any, code: str) -> Ran:
    """Run code in the notebook's namespace as a cell would (the last expression's value is its result)."""
    ran = Ran()
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        ran.error = f"SyntaxError: {exc.msg} (line {exc.lineno})"
        return ran
    name = shell.compile.cache(code) if hasattr(shell, "compile") else "<agent>"
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    before = _figures()
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _displays_kept(shell, ran.displays):
            exec(compile(tree, name, "exec"), shell.user_ns)  # noqa: S102 - code the person approved, in their kernel
            if last is not None:
                value = eval(compile(ast.Expression(last.value), name, "eval"), shell.user_ns)  # noqa: S307
                if value is not None:
                    ran.value = _repr.repr(value) if not isinstance(value, str) else repr(value[:LIMIT])
    except Exception as exc:  # the code's own failure is its result, for the model and the person
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == name]
        where = "".join(traceback.format_list(frames[-3:]))
        ran.error = f"{type(exc).__name__}: {exc}" + (f"\n{where}" if where else "")
    finally:
        out.end()
        err.end()
    ran.printed = out.kept.getvalue() + err.kept.getvalue()
    ran.figures = len(_figures() - before)
    return ran


def _is_theirs(name: str, value: Any, hidden: Any) -> bool:
    """A variable the person made: not private, not IPython's own, not a module, function or class."""
    return not (name.startswith("_") or name in _IPYTHON_OWN or name in hidden
                or isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)))


def _size(value: Any) -> str:
    shape = getattr(value, "shape", None)
    columns = getattr(value, "columns", None)
    if shape is not None and columns is not None:
        names = ", ".join(map(str, list(columns)[:20])) + (", …" if len(columns) > 20 else "")
        return f"{' × '.join(map(str, shape))} ({names})"
    if shape is not None:
        return f"shape {tuple(shape)}, dtype {getattr(value, 'dtype', '?')}"
    with contextlib.suppress(Exception):
        return f"{len(value):,} items"
    return ""


def variables(shell: Any) -> str:
    """The person's variables, a line each: name, type and size (a DataFrame's shape and columns)."""
    hidden = getattr(shell, "user_ns_hidden", {})
    lines = [f"{name}: {type(value).__name__}{' ' + size if (size := _size(value)) else ''}"
             for name, value in shell.user_ns.items() if _is_theirs(name, value, hidden)]
    return bounded("\n".join(lines)) if lines else "The notebook has no variables of its own yet."


def description(shell: Any, name: str) -> str:
    """A variable by its name: a DataFrame's dtypes, first rows and summary statistics, an array's shape and
    dtype, anything else as a bounded repr. Only a name is looked up; nothing the model wrote is evaluated."""
    if not name.isidentifier() or name not in shell.user_ns:
        return f"There is no variable called {name!r}; list_variables() shows them."
    value = shell.user_ns[name]
    kind = type(value).__name__
    if hasattr(value, "dtypes") and hasattr(value, "describe"):  # pandas
        parts = [f"{name}: {kind} {_size(value)}"]
        with contextlib.suppress(Exception):
            parts.append("dtypes:\n" + value.dtypes.to_string())
        with contextlib.suppress(Exception):
            parts.append("first rows:\n" + value.head(5).to_string())
        with contextlib.suppress(Exception):
            parts.append("summary:\n" + value.describe(include="all").to_string())
        return bounded("\n\n".join(parts))
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return bounded(f"{name}: {kind}, shape {tuple(value.shape)}, dtype {value.dtype}\n{_repr.repr(value)}")
    return bounded(f"{name}: {kind}\n{_repr.repr(value)}")


def _is_cell(filename: str) -> bool:
    """Whether a frame's file is a notebook cell (ipykernel's, or terminal IPython's)."""
    return "ipykernel_" in filename or filename.startswith("<ipython-input")


def _cell_of(tb: Any) -> str:
    """The source of the notebook cell a traceback passed through (the outermost one it reached)."""
    for frame in traceback.extract_tb(tb):
        if _is_cell(frame.filename):
            return "".join(linecache.getlines(frame.filename))
    return ""


def _where(filename: str) -> str:
    """A frame's file as the model needs it: "cell" for the notebook's own, a library's path from its package
    (no temporary folders, home directories or environments: they say nothing and may name the person)."""
    if _is_cell(filename):
        return "cell"
    return filename.split("site-packages/", 1)[-1] if "site-packages/" in filename else filename.rsplit("/", 1)[-1]


def last_error_report() -> tuple[str, str] | None:
    """(the exception with its last frames, the failing cell's source) of the last error, or None; no key in
    either (a message that quotes the key, as an authentication error may, goes to the model with %qwen fix)."""
    error = getattr(sys, "last_value", None)
    if error is None:
        return None
    remember_secret(os.environ.get(KEY_ENV, ""))  # %qwen fix asks before any request has read the key
    frames = list(traceback.extract_tb(error.__traceback__))
    cells = [i for i, frame in enumerate(frames) if _is_cell(frame.filename)]
    frames = frames[cells[0] if cells else 0:]  # from the cell on: IPython's own run_code says nothing
    kept: list[Any] = frames if len(frames) <= 5 else [frames[0], None, *frames[-4:]]  # the cell's line, the end
    lines = ["Traceback (most recent call last):"]
    for frame in kept:
        if frame is None:
            lines.append(f"  ... ({len(frames) - 5} frames in between)")
            continue
        lines.append(f'  {_where(frame.filename)}, line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines += [line.rstrip() for line in traceback.format_exception_only(type(error), error)]
    return redact("\n".join(lines)), redact(_cell_of(error.__traceback__))


def last_error(shell: Any) -> str:
    """The last exception in the notebook (type, message, traceback) and the source of the cell that raised it."""
    found = last_error_report()
    if found is None:
        return "No cell has raised an error in this session."
    error, cell = found
    return bounded(f"The cell:\n{cell}\n\nThe error:\n{error}" if cell else f"The error:\n{error}")


def tools(shell: Any) -> list[Tool]:
    """The four tools, bound to this kernel; run_python asks before every run and shows its code as code."""

    def run_python(code: str) -> ToolResult:
        """Run Python code in the notebook's namespace (the person approves it first). Returns what it printed
        and the value of its last expression, or the error it raised.

        Args:
            code: The Python code to run, exactly as it should run.
        """
        ran = run_code(shell, code)
        if ran.error is not None:
            raise ToolFailed(bounded(ran.error) + (f"\nPrinted before it failed:\n{bounded(ran.printed)}"
                                                   if ran.printed else ""), tuple(ran.displays))
        return ToolResult(ran.for_model(), tuple(ran.displays))

    def list_variables() -> str:
        """The notebook's variables (not modules, functions or private names), with type and size."""
        return variables(shell)

    def describe(name: str) -> str:
        """A variable in detail: a DataFrame's dtypes, first rows and summary statistics; an array's shape.

        Args:
            name: The variable's name, as list_variables() gives it.
        """
        return description(shell, name)

    def last_error_tool() -> str:
        """The last error the notebook raised and the source of the cell that raised it."""
        return last_error(shell)

    last_error_tool.__name__ = "last_error"
    made = [as_tool(f) for f in (run_python, list_variables, describe, last_error_tool)]
    return [replace(made[0], asks=True, code="code"), *made[1:]]
