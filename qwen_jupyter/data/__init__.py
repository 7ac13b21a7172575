"""Prompts over data: map() runs a template over every row of a table, live or through the Batch API; classify()
and filter() ask a question with fixed answers of every row, with the model's confidence and cascades of models.

It imports core/, backends/, state/ and engine/ (routing); never the views, the panel or the magic.
"""

from __future__ import annotations

from .accessor import register
from .mapping import Preview, batch_cancel, batch_result, map, run_map
from .operators import classify, filter, run_choice

__all__ = ["Preview", "batch_cancel", "batch_result", "classify", "filter", "map", "run_choice", "run_map"]

register()  # df.qwen.map(...), df.qwen.classify(...), df.qwen.filter(...) (importing this package means tables are in use: pandas loads now)
