"""What the kernel knows about where a cell runs: the notebook's identity, the cell's id, deleted cells."""

from __future__ import annotations

import hashlib
import os
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


def cell_id(shell: Any, source: str) -> str:
    """The front end's cell id (JupyterLab, Notebook 7, nbclient send one), else a hash of the cell's source."""
    metadata = _parent(shell).get("metadata") or {}
    if metadata.get("cellId"):
        return str(metadata["cellId"])
    return "src:" + hashlib.sha256(source.encode()).hexdigest()[:16]


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
