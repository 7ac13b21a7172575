"""Where a result is shown: streamed into the cell's output under Jupyter, as plain text in a terminal.

The magic calls show() with its display settings; a QwenResult displayed by IPython (chat() as a cell's last
expression) reaches display_result() through the display formatter that the package registers, so the result
itself stays plain data and knows nothing of views.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Interrupted, Shown
from .cell import CellView
from .terminal import TerminalView


def in_kernel(shell: Any) -> bool:
    """Whether a Jupyter front end shows the output (not terminal IPython)."""
    return getattr(shell, "kernel", None) is not None


def show(result: Any, shell: Any = None, *, rate: float = 8.0, plain: bool = False,
         image_hosts: tuple[str, ...] = ()) -> None:
    """Stream a result where the person is looking, then show its final form; an interrupt stops the stream,
    shows what came, and ends the cell in one line (Interrupted)."""
    if shell is not None and not in_kernel(shell):
        view: Any = TerminalView()
    else:
        inputs = tuple(m for message in result.sent[-1:] for m in message.media)
        view = CellView(inputs, rate=rate, plain=plain, image_hosts=image_hosts)
    try:
        if not result.done:
            view.run(result)
    except KeyboardInterrupt:
        view.finish(result)
        raise Interrupted() from None
    view.finish(result)


def display_result(result: Any) -> None:
    """IPython's display of a QwenResult: stream it (once), or say where it streams when another reader has it."""
    from IPython import get_ipython

    shell = get_ipython()
    if result.streaming:  # e.g. panel.ask() as a cell's last expression: the panel shows it as it comes
        from IPython.display import display

        display({"text/plain": repr(result)}, raw=True)
        return
    magics = shell.magics_manager.registry.get("QwenMagics") if shell is not None else None
    options = magics.display_options() if magics is not None else {}
    show(result, shell, **options)
    if result.error is not None and not result.interrupted:  # shown with its error box; the cell fails too, so Run All stops here
        raise Shown(result.error)
