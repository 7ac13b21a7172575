"""Model comparison: the same request (prompt and context) to several models at once; a Comparison holds one
QwenResult per model. Each answer is read by a worker thread of its own, so all of them stream together; the view
(views/compare.py) shows them side by side as they come.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..core.errors import QwenError
from ..core.events import TextDelta
from ..core.options import check_compared, sent_documents
from ..core.request import Request, check_inputs
from ..core.result import QwenResult
from ..core.settings import Settings
from .asking import Asking, ask

MAX_MODELS = 6


def model_list(models: str | list[str] | tuple[str, ...]) -> list[str]:
    """The models of --compare a,b,c (or a list), checked: two to six, no repeats."""
    if isinstance(models, str) and models.rstrip().endswith(","):  # --compare qwen-plus, qwen-max: split at the space
        raise QwenError("Write the models without spaces after the commas: qwen-plus,qwen-max.",
                        code="InvalidInput", hint="")
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if m and m.strip()]
    if not 2 <= len(names) <= MAX_MODELS or len(set(names)) != len(names):
        raise QwenError(f"Compare two to {MAX_MODELS} different models, not {', '.join(names) or 'none'}.",
                        code="InvalidInput", hint="e.g. qwen-plus,qwen-max")
    return names


class Comparison:
    """The answers of several models to one prompt: `results` (model -> QwenResult), `comparison["qwen-max"]`,
    iteration over the results, and `frame()` for a table of text, tokens and timings."""

    def __init__(self, results: dict[str, QwenResult]) -> None:
        self.results = results
        self.partial: dict[str, list[str]] = {model: [] for model in results}  # text so far, for the live view
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(model,), daemon=True, name=f"qwen-{model}")
                         for model in results]

    def _read(self, model: str) -> None:
        result, pieces = self.results[model], self.partial[model]
        result.claim(threading.get_ident())
        for event in result.watch():
            if type(event) is TextDelta:
                pieces.append(event.text)
            if self._stop.is_set():
                result.stop()  # from the reading thread itself: the partial answer is kept, marked interrupted
                return

    def start(self) -> Comparison:
        """Start every model's stream (once); returns self."""
        for thread in self._threads:
            if thread.ident is None:
                thread.start()
        return self

    def stop(self) -> None:
        """Stop every stream still running; what arrived is kept."""
        self._stop.set()
        for result in self.results.values():
            if result.streaming:
                result.stop()  # cuts a reader's connection, so one that has stalled ends now too
        self.wait()

    def __enter__(self) -> Comparison:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leaving a `with` block stops every answer still streaming."""
        self.stop()

    def wait(self, timeout: float | None = None) -> Comparison:
        """Wait until every answer has ended (starting them if needed); returns self."""
        self.start()
        for thread in self._threads:
            thread.join(timeout)
        return self

    @property
    def done(self) -> bool:
        """Whether every answer has ended."""
        return all(result.done for result in self.results.values())

    @property
    def models(self) -> list[str]:
        """The models compared, in the order asked."""
        return list(self.results)

    @property
    def errors(self) -> dict[str, QwenError]:
        """The models whose answer failed, with the error."""
        self.wait()
        return {m: r.error for m, r in self.results.items() if r.error is not None}

    def __getitem__(self, model: str) -> QwenResult:
        return self.results[model]

    def __iter__(self) -> Iterator[QwenResult]:
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    def frame(self) -> Any:
        """A pandas DataFrame: a row per model with its answer, tokens, time to first token and total time."""
        import pandas as pd

        self.wait()
        rows = [{"model": m, "text": r.text, "input_tokens": r.usage.input_tokens,
                 "output_tokens": r.usage.output_tokens, "first_token_s": r.time_to_first_token,
                 "total_s": r.elapsed, "error": r.error.code if r.error else None}
                for m, r in self.results.items()]
        frame = pd.DataFrame(rows).set_index("model")
        frame.attrs["qwen"] = {"models": list(self.results)}  # model text: shown out of the typesetter's reach
        return frame

    def __repr__(self) -> str:
        state = "done" if self.done else "streaming"
        return f"<Comparison of {', '.join(self.results)} {state}>"


def compare_request(request: Request, settings: Settings, models: list[str], how: Asking | None = None) -> Comparison:
    """One result per model for the same request (nothing is sent until the comparison starts)."""
    check_compared(models, request.extra, bool(sent_documents(request.messages)))
    if how is not None and how.needs_approval:  # the models' calls would come at once, from several threads
        raise QwenError("A comparison asks its models at once, so a call that needs your approval could not be "
                        "asked: compare without --agent or --confirm.", code="InvalidInput", hint="")
    for model in models:  # each model must take the question's pictures, audio or video, as one asked alone
        check_inputs(model, request.messages[-1].media)
    return Comparison({model: ask(replace(request, model=model), settings, how=how or Asking())
                       for model in models})
