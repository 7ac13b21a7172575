"""Prefix continuation: the service answers only with the continuation of the partial assistant turn; the result
reads as the person's start followed by it (the raw chunks keep what the service sent)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..core.events import Event, Finished, TextDelta


def with_prefix(events: Iterable[Event], prefix: str) -> Iterator[Event]:
    """The events with the prefix as the answer's first text (before its first text, or its end)."""
    source = iter(events)
    pending = True
    try:
        for event in source:
            if pending and type(event) in (TextDelta, Finished):
                pending = False
                yield TextDelta(prefix)
            yield event
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
