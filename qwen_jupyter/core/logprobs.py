"""Token log probabilities: read from each API's wire shape into Logprobs events, and kept on the result as
TokenLogprob entries (one per output token, with its alternatives)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .events import Logprobs


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One output token: its text, its log probability and the alternatives as (token, logprob) pairs."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()

    @property
    def probability(self) -> float:
        """exp(logprob), between 0 and 1."""
        return math.exp(self.logprob)

    def __getitem__(self, key: str) -> Any:
        """entry["token"] reads like entry.token (results are often handled as dicts)."""
        if key not in ("token", "logprob", "top"):
            raise KeyError(key)
        return getattr(self, key)


def _entry(item: Any) -> tuple[str, float, tuple[tuple[str, float], ...]] | None:
    if not isinstance(item, dict) or item.get("logprob") is None:
        return None
    top = tuple((str(t.get("token", "")), float(t["logprob"])) for t in item.get("top_logprobs") or ()
                if isinstance(t, dict) and t.get("logprob") is not None)
    return str(item.get("token", "")), float(item["logprob"]), top


def logprobs_event(value: Any) -> Logprobs | None:
    """A Logprobs event from a wire value: Chat Completions and native `{"content": [...]}`, or the Responses
    API's bare list; None when there are none."""
    items = value.get("content") if isinstance(value, dict) else value
    if not isinstance(items, list):
        return None
    entries = tuple(e for e in (_entry(item) for item in items) if e is not None)
    return Logprobs(entries) if entries else None


def entries(events: Iterable[Logprobs]) -> tuple[TokenLogprob, ...]:
    """The result's entries from its Logprobs events."""
    return tuple(TokenLogprob(token, logprob, top) for event in events for token, logprob, top in event.tokens)


def logprobs_frame(tokens: Iterable[TokenLogprob]) -> Any:
    """A pandas DataFrame: one row per token with its logprob, probability and alternatives."""
    import pandas as pd

    rows = [{"token": t.token, "logprob": t.logprob, "probability": t.probability,
             "top": [alternative for alternative, _ in t.top], "top_logprobs": [lp for _, lp in t.top]}
            for t in tokens]
    frame = pd.DataFrame(rows, columns=["token", "logprob", "probability", "top", "top_logprobs"])
    frame.attrs["qwen"] = {"tokens": len(rows)}  # model text: shown out of the typesetter's reach
    return frame
