"""The panel's messages go to a kernel subshell, so Send and Stop act at once while a cell runs.

Widget messages arrive on the shell channel, which runs one cell at a time: a Stop pressed during a long cell
would wait for it. ipykernel 7 runs subshells (JEP 91), threads with their own queue, and asks each comm which
subshell its incoming messages belong to (`_reply_subshell_for`). The panel's comm answers with one subshell this
module starts in the kernel. Where the kernel has no subshells, nothing changes: messages wait for the cell.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

_lock = threading.Lock()
_subshell: str | None = None


def _panel_subshell(kernel: Any) -> str:
    """One subshell for every panel of this kernel, started on the shell channel thread (where ipykernel wants)."""
    global _subshell
    with _lock:
        if _subshell is None:
            channel = kernel.shell_channel_thread
            manager = channel.manager
            made: concurrent.futures.Future[str] = concurrent.futures.Future()

            def create() -> None:
                try:
                    made.set_result(manager._create_subshell())
                except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                    made.set_exception(exc)

            channel.io_loop.add_callback(create)
            _subshell = made.result(timeout=5)
        return _subshell


def route_to_subshell(widget: Any) -> bool:
    """Send the widget's incoming messages to the panel subshell; False where the kernel cannot."""
    try:
        from IPython import get_ipython

        kernel = get_ipython().kernel
        subshell = _panel_subshell(kernel)
        comm = widget.comm
        comm._reply_subshell_for = lambda data, default: subshell
    except Exception:  # noqa: BLE001 - an older kernel, terminal IPython, or no kernel at all
        return False
    return True
