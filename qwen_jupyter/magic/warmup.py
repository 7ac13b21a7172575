"""Warm-up after `%load_ext`: the first request should not pay for importing an SDK.

Importing the openai SDK (or dashscope), building the Markdown renderer and starting the emulator take 0.3-0.5 s
together. A daemon thread does that work while the kernel sits idle after loading the extension, so %load_ext
itself returns at once and the first cell's first token comes as fast as later ones. Nothing here may fail a
cell: an error is left for the real request to report.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from typing import Any

DELAY = 0.05  # seconds: let %load_ext finish and its output go out before the thread takes the interpreter


def start(magics: Any) -> threading.Thread:
    """Warm the pieces the next request of this configuration will use, in the background."""
    thread = threading.Thread(target=_warm, args=(magics,), name="qwen-jupyter-warmup", daemon=True)
    thread.start()
    return thread


def _warm(magics: Any) -> None:
    time.sleep(DELAY)
    with contextlib.suppress(Exception):
        from ..backends import get_backend
        from ..views.html import markdown_html

        settings = magics.settings()  # starts the emulator or a replaying one when that is where requests go
        backend = get_backend(settings.api)  # imports the SDK
        warm = getattr(backend, "warm", None)
        if warm is not None:
            warm(settings)
        markdown_html("**warm** $x$ [link](https://example.com)")
        importlib.import_module("qwen_jupyter.views.show")
