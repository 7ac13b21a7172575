"""The progress bar of a map() run: rows done and failed, tokens, ETA. tqdm draws it as a widget in JupyterLab and
as text in a terminal or a log; it is only ever touched from the caller's thread."""

from __future__ import annotations

from typing import Any


class Progress:
    """A bar over `total` rows; `show(done, failed, tokens)` moves it, `close()` leaves the final line."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.bar: Any = None
        self.label = label
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="row", dynamic_ncols=True)

    def show(self, done: int, failed: int, tokens: int | None, note: str = "") -> None:
        """Move the bar to done + failed rows and update the counters beside it (tokens None: not known yet)."""
        if self.bar is None:
            return
        parts = [f"{failed:,} failed", f"{tokens:,} tokens" if tokens is not None else "", note]
        self.bar.set_postfix_str(", ".join(p for p in parts if p), refresh=False)
        finished = done + failed
        if finished != self.bar.n:
            self.bar.update(finished - self.bar.n)  # redraws at most every tqdm.mininterval
        else:
            self.bar.refresh()

    def close(self, failed: int = 0) -> None:
        """Leave the bar at its final state; with failed rows, in words and, in a notebook, in the error style."""
        if self.bar is None:
            return
        if failed:
            from tqdm.notebook import tqdm as notebook_bar

            self.bar.set_description_str(f"{self.label}: {failed:,} of {self.bar.total:,} rows failed", refresh=False)
            if isinstance(self.bar, notebook_bar):
                self.bar.disp(bar_style="danger")  # tqdm never turns a danger bar green when it closes
        self.bar.close()
