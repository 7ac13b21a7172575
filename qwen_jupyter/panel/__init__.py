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

The panel imports core/, state/, engine/ and views/; the magic opens it (%qwen panel).
"""

from __future__ import annotations

from .render import front_end, katex_assets
from .widget import MODELS, QwenPanel

__all__ = ["MODELS", "QwenPanel", "front_end", "katex_assets"]
