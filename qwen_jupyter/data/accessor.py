"""`df.qwen.map(template, …)`, `df.qwen.classify(template, labels, …)` and `df.qwen.filter(question, …)`: map() and
the operators as a DataFrame accessor, registered once pandas is loaded."""

from __future__ import annotations

from typing import Any

_registered = False


def register() -> None:
    """Register the `qwen` DataFrame accessor (imports pandas; call it only once pandas is loaded)."""
    global _registered
    if _registered:
        return
    try:
        import pandas as pd
    except ImportError:  # map() says what to install when it is used
        return

    @pd.api.extensions.register_dataframe_accessor("qwen")
    class QwenAccessor:
        """`df.qwen.map(template, …)` is qwen_jupyter.map(df, template, …); classify and filter likewise."""

        def __init__(self, frame: pd.DataFrame) -> None:
            self._frame = frame

        def map(self, template: str, **options: Any) -> pd.DataFrame:  # noqa: A003 - the accessor's verb
            """Run the template over every row; a new DataFrame with the answers (see qwen_jupyter.map)."""
            from .mapping import map as run

            return run(self._frame, template, **options)

        def classify(self, template: str, labels: Any, **options: Any) -> pd.DataFrame:
            """One of the labels for every row, with its confidence (see qwen_jupyter.classify)."""
            from .operators import classify

            return classify(self._frame, template, labels, **options)

        def filter(self, question: str, **options: Any) -> pd.DataFrame:  # noqa: A003 - the accessor's verb
            """The rows the model answers yes to (see qwen_jupyter.filter)."""
            from .operators import filter as keep

            return keep(self._frame, question, **options)

    _registered = True
