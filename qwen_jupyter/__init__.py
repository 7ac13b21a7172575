"""qwen_jupyter: Alibaba Cloud Model Studio's Qwen models in Jupyter, streaming, with an offline emulator.

`%load_ext qwen_jupyter` registers the %%qwen magic; `qwen_jupyter.chat()` is the same engine from Python.
Heavy modules (the SDKs, the emulator) load on first use, so loading the extension stays fast.
"""

from __future__ import annotations

from .api import achat, chat
from .errors import QwenError
from .result import QwenResult

__version__ = "0.1.0"
__all__ = ["Panel", "QwenError", "QwenResult", "achat", "chat", "load_ipython_extension", "session"]


def Panel(chat: str = "default", model: str | None = None):  # noqa: N802 - reads like the class it returns
    """A chat panel on this notebook's conversation `chat` (the same one `%%qwen -c chat` continues)."""
    from .panel import Panel as make_panel  # anywidget loads only when a panel is asked for

    return make_panel(chat, model)


def session():
    """This notebook's conversations and results (`.chats`, `.results`, `.last`), as %%qwen keeps them."""
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("QwenMagics") if shell else None
    if magics is None:
        raise QwenError("The extension is not loaded: run %load_ext qwen_jupyter first.", code="InvalidOption")
    return magics.session


def _display(result: QwenResult) -> None:
    from .views.show import display_result  # the views load when a result is first shown

    display_result(result)


def _register_display(shell) -> None:
    """Let IPython stream a QwenResult that a cell displays (chat() as its last expression)."""
    shell.display_formatter.ipython_display_formatter.for_type(QwenResult, _display)


def load_ipython_extension(ipython) -> None:
    """Register the magics, the `%qwen question?` input rule and result display with IPython."""
    from . import warmup
    from .line_input import questions_are_prompts
    from .magics import QwenMagics

    magics = QwenMagics(ipython)
    ipython.register_magics(magics)
    magics.forget_deleted_cells()  # the cell loading us carries the cells deleted before (a restart in between)
    if questions_are_prompts not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(questions_are_prompts)
    _register_display(ipython)
    warmup.start(magics)  # the SDK and renderer load while the kernel is idle, not in the first cell


def _register_if_in_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        _register_display(shell)


_register_if_in_ipython()
