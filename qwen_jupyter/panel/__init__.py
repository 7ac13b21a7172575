"""QwenPanel: a chat in the notebook (anywidget) that shares the engine and the conversations of %%qwen.

Streaming sends deltas, not whole values: text deltas with sequence numbers, and each finished Markdown block
once as sanitized HTML. The `live` trait (the turn in progress) is refreshed when its size has doubled and at
least a few seconds passed, and at the end, so a view that missed messages or opened later repairs itself while
the bytes of a turn stay O(answer). The displayed output also carries a Markdown transcript (updated after each
turn) for nbviewer, GitHub and JupyterLab without a kernel.

Math is typeset in the front end by KaTeX, vendored in `vendor/katex` and sent by the kernel on the first request
(no network). A panel remembers its model and options per chat for the life of the kernel.

Documents, translation and comparison take the magic's paths: documents (sent by the front end as a name and
base64 bytes) go through specialised/documents.upload_documents, `translate_to` becomes build_request's `to=`,
and `compare_with` runs specialised/compare.compare_request; a comparison streams a column per model and, as in
%%qwen, is kept where it was asked, not as a turn of the chat.
"""

from __future__ import annotations

from typing import Any

from .. import kernel
from ..notebook import DEFAULT_CHAT
from .render import front_end, katex_assets
from .widget import MODELS, QwenPanel

__all__ = ["MODELS", "Panel", "QwenPanel", "front_end", "katex_assets", "open_panel"]


def open_panel(magics: Any, chat: str = DEFAULT_CHAT, model: str | None = None) -> QwenPanel:
    """A panel on the magic's session and settings, so both share conversations and %config (and the notebook's
    functions, for its tools picker)."""
    return QwenPanel(magics.session, magics.settings, chat=chat, model=model, default_model=magics.model,
                     on_result=lambda r: magics.shell.user_ns.__setitem__("_qwen", r), namespace=magics.shell.user_ns)


def Panel(chat: str = DEFAULT_CHAT, model: str | None = None) -> QwenPanel:  # noqa: N802 - reads like a class
    """qwen_jupyter.Panel(chat=NAME, model=...): the panel for this notebook (loads the extension if needed)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("The panel needs IPython or Jupyter.")
    return open_panel(kernel.magics(shell), chat, model)

