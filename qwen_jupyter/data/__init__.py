"""Prompts over data: map() runs a template over every row of a table, live or through the Batch API.

It imports core/, backends/, state/ and engine/ (routing); never the views, the panel or the magic.
"""

from __future__ import annotations

from .accessor import register
from .mapping import Preview, batch_cancel, batch_result, map, run_map

__all__ = ["Preview", "batch_cancel", "batch_result", "map", "run_map"]

register()  # df.qwen.map(...) (importing this package means tables are in use: pandas loads now)
