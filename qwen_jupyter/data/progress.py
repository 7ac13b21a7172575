"""The progress bar of a map() run: rows done and failed, tokens, ETA. tqdm draws it as a widget in JupyterLab and
as text in a terminal or a log; it is only ever touched from the caller's thread."""

from __future__ import annotations

from typing import Any


class Progress:
    """A bar over `total` rows; `show(done, failed, tokens)` moves it, `close()` leaves the final line."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.bar: Any = None
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=label, unit="row", dynamic_ncols=True)

    def show(self, done: int, failed: int, tokens: int, note: str = "") -> None:
        """Move the bar to done + failed rows and update the counters beside it."""
        if self.bar is None:
            return
        finished = done + failed
        if finished != self.bar.n:
            self.bar.update(finished - self.bar.n)
        extra = {"note": note} if note else {}
        self.bar.set_postfix(failed=failed, tokens=f"{tokens:,}", refresh=False, **extra)
        self.bar.refresh()

    def close(self) -> None:
        """Leave the bar at its final state."""
        if self.bar is not None:
            self.bar.close()
