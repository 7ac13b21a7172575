"""What the kernel knows about where a cell runs: the notebook's identity, the cell's id, deleted cells."""

from __future__ import annotations

import ast
import linecache
import os
import sys
from typing import Any


def _parent(shell: Any) -> dict[str, Any]:
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return {}
    try:
        return kernel.get_parent() or {}
    except TypeError:  # ipykernel < 6.16 takes a channel
        return kernel.get_parent("shell") or {}
    except Exception:  # noqa: BLE001 - no parent outside an execute_request
        return {}


def execution_id(shell: Any) -> str:
    """What identifies the execution now running: the request's message id, or the input number in a terminal."""
    header = _parent(shell).get("header") or {}
    if header.get("msg_id"):
        return str(header["msg_id"])
    return f"{os.getpid()}:{getattr(shell, 'execution_count', 0)}"


def cell_id(shell: Any) -> str:
    """The front end's cell id (JupyterLab, Notebook 7 and VS Code send one: a re-run replaces its turn); else
    the execution itself. What sends none runs a notebook headless (nbconvert, papermill, nbval: each cell once,
    and two cells asking "Explain more." are two turns) or is a terminal (each input is new)."""
    metadata = _parent(shell).get("metadata") or {}
    if metadata.get("cellId"):
        return str(metadata["cellId"])
    return "in:" + execution_id(shell)


def result_is_unused() -> bool:
    """Whether the statement that called the line magic is the call alone, so its value is only displayed or
    dropped (`%qwen hi`), not bound or passed on (`x = %qwen hi`): then the streamed output was the display."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("qwen_jupyter", "IPython")):
        frame = frame.f_back
    if frame is None:
        return False
    try:
        tree = ast.parse(linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip())
    except SyntaxError:
        return False
    statement = tree.body[0] if len(tree.body) == 1 else None
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute) and statement.value.func.attr == "run_line_magic")


def deleted_cells(shell: Any) -> set[str]:
    """Ids of cells deleted since the last execution (JupyterLab sends them with each request)."""
    metadata = _parent(shell).get("metadata") or {}
    return {str(cell) for cell in metadata.get("deletedCells") or ()}


def notebook_id(shell: Any) -> str:
    """The notebook's path when the front end tells the kernel (JupyterLab, Notebook 7, VS Code).

    A kernel whose front end names no notebook (nbclient, nbval, some IDEs) keeps its chats to itself, so two
    notebooks never read each other's conversations; plain IPython keeps them per working directory.
    """
    path = (os.environ.get("JPY_SESSION_NAME") or shell.user_ns.get("__session__")
            or shell.user_ns.get("__vsc_ipynb_file__"))
    if path:
        return str(path)
    if getattr(shell, "kernel", None) is not None:
        return f"kernel:{os.getpid()}"
    return "ipython:" + os.getcwd()


def magics(shell: Any) -> Any:
    """The extension's QwenMagics in this shell, loading the extension first if it is not loaded."""
    if "QwenMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "qwen_jupyter")
    return shell.magics_manager.registry["QwenMagics"]
