"""QwenResult folds events: tool-call fragments, replay, interruption and incomplete streams."""

from __future__ import annotations

import pytest

from qwen_jupyter.events import Finished, Started, TextDelta, ToolCallDelta, Usage
from qwen_jupyter.result import QwenResult


def test_tool_call_fragments_with_empty_ids_join_without_losing_id_or_name():
    events = [
        Started("qwen-plus", "r1"),
        ToolCallDelta(0, "call_1", "lookup", '{"q":'),
        ToolCallDelta(0, None, None, ' "x"}'),
        ToolCallDelta(1, "call_2", "other", "{}"),
        Finished("tool_calls"),
    ]
    result = QwenResult(events)
    assert [(c.id, c.name, c.args) for c in result.tool_calls] == [("call_1", "lookup", {"q": "x"}),
                                                                    ("call_2", "other", {})]


def test_streams_once_then_replays():
    produced = []

    def source():
        for word in ("a", "b"):
            produced.append(word)
            yield TextDelta(word)
        yield Usage(1, 2, 3)
        yield Finished("stop")

    result = QwenResult(source())
    assert [e.text for e in result if isinstance(e, TextDelta)] == ["a", "b"]
    assert [e.text for e in result if isinstance(e, TextDelta)] == ["a", "b"]
    assert produced == ["a", "b"] and result.usage.total_tokens == 3


def test_a_loop_left_early_is_finished_by_wait():
    result = QwenResult([Started("m", "r"), TextDelta("one "), TextDelta("two"), Finished("stop")])
    for event in result:
        if isinstance(event, TextDelta):
            break
    assert result.text == "one two" and result.error is None


def test_stop_keeps_partial_text_and_marks_interrupted():
    closed = []

    def source():
        try:
            yield Started("qwen-plus", "r1")
            for word in ("one ", "two ", "three "):
                yield TextDelta(word)
        finally:
            closed.append(True)

    result = QwenResult(source())
    for event in result:
        if isinstance(event, TextDelta) and event.text == "two ":
            result.stop()
    assert result.text == "one two " and result.interrupted and closed == [True]


def test_a_stream_without_a_finish_is_incomplete():
    result = QwenResult([Started("m", None), TextDelta("half")])
    assert result.text == "half" and result.error.code == "IncompleteStream"


def test_repr_is_short_and_stable():
    result = QwenResult([Started("qwen-plus", "r1", emulated=True), TextDelta("x" * 200), Usage(1, 2, 3),
                         Finished("stop")])
    assert repr(result.wait()) == f"<QwenResult model='qwen-plus' text={'x' * 57 + '...'!r} tokens=3 emulated>"


def test_garbage_collection_is_paused_only_while_streaming():
    import gc

    seen = []

    def source():
        seen.append(gc.isenabled())
        yield TextDelta("a")
        yield Finished("stop")

    assert gc.isenabled()
    result = QwenResult(source())
    for _ in result:
        seen.append(gc.isenabled())
    assert seen == [False, False, False] and gc.isenabled()

    def failing():
        yield TextDelta("a")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QwenResult(failing()).wait()
    assert gc.isenabled()
