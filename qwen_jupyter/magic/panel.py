"""The panel opened from the magic's side: it shares the magic's session, settings and namespace, so a panel
and %%qwen -c NAME cells continue the same chats under the same %config."""

from __future__ import annotations

from typing import Any

from ..panel import QwenPanel
from ..state.session import DEFAULT_CHAT
from . import kernel


def open_panel(magics: Any, chat: str = DEFAULT_CHAT, model: str | None = None) -> QwenPanel:
    """A panel on the magic's session and settings, so both share conversations and %config (and the notebook's
    functions, for its tools picker)."""
    return QwenPanel(magics.session, magics.settings, chat=chat, model=model, default_model=magics.model,
                     on_result=lambda r: magics.shell.user_ns.__setitem__("_qwen", r), namespace=magics.shell.user_ns,
                     kernel=magics.shell)


def Panel(chat: str = DEFAULT_CHAT, model: str | None = None) -> QwenPanel:  # noqa: N802 - reads like a class
    """qwen_jupyter.Panel(chat=NAME, model=...): the panel for this notebook (loads the extension if needed)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("The panel needs IPython or Jupyter.")
    return open_panel(kernel.magics(shell), chat, model)
