"""QwenResult folds events: tool-call fragments, replay, interruption and incomplete streams."""

from __future__ import annotations

import threading

import pytest

from qwen_jupyter.core.events import Finished, Started, TextDelta, ToolCallDelta, Usage
from qwen_jupyter.core.result import QwenResult


def test_tool_call_fragments_with_empty_ids_join_without_losing_id_or_name():
    events = [
        Started("qwen-plus", "r1"),
        ToolCallDelta(0, "call_1", "lookup", '{"q":'),
        ToolCallDelta(0, None, None, ' "x"}'),
        ToolCallDelta(1, "call_2", "other", "{}"),
        Finished("tool_calls"),
    ]
    result = QwenResult(events)
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("call_1", "lookup", {"q": "x"}),
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
    assert [e.text for e in result if isinstance(e, TextDelta)] == ["a", "b"]  # live: each delta as it came
    assert [e.text for e in result if isinstance(e, TextDelta)] == ["ab"]  # replayed: a run of deltas as one
    assert produced == ["a", "b"] and result.usage.total_tokens == 3
    assert [type(e).__name__ for e in result.events] == ["TextDelta", "Usage", "Finished"]


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


def test_streaming_never_touches_the_garbage_collector():
    import gc

    def source():
        assert gc.isenabled()
        yield TextDelta("a")
        yield TextDelta("b")
        yield Finished("stop")

    result = QwenResult(source())
    for _ in result:
        break  # a loop left early: the generator stays suspended, referenced by the result
    assert gc.isenabled()
    result.wait()
    assert gc.isenabled() and result.text == "ab"


def _endless(closed: list[bool]):
    try:
        while True:
            yield TextDelta("x" * 50)
    finally:
        closed.append(True)


def test_an_interrupt_in_the_consumer_ends_an_endless_stream_at_once():
    from qwen_jupyter.views.cell import CellView

    class InterruptingDisplay:
        """A display whose second publication is interrupted, as Ctrl-C lands in display code."""

        calls = 0

        def display(self, bundle, raw=True, display_id=None):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt

        update_display = display

        def clear_output(self, wait=False):
            pass

    closed: list[bool] = []
    result = QwenResult(_endless(closed))
    view = CellView(publisher=InterruptingDisplay(), rate=1e6, burst=1e6)
    with pytest.raises(KeyboardInterrupt):
        try:
            view.run(result)
        finally:
            view.finish(result)  # must not resume the endless stream
    assert closed == [True] and result.interrupted and result.done


def test_a_stop_that_comes_after_the_answer_ended_leaves_it_complete():
    finished, go = threading.Event(), threading.Event()

    def source():
        yield Started("qwen-plus", "r1")
        yield TextDelta("all of it")
        yield Finished("stop")
        go.wait(10)
        yield Usage(input_tokens=1, output_tokens=3)

    result = QwenResult(source())

    def read():
        for event in result:
            if isinstance(event, Finished):
                finished.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert finished.wait(10)
    result.stop()  # from another thread, while only the usage is still to come
    go.set()
    reader.join(10)
    assert result.error is None and result.text == "all of it" and result.finish_reason == "stop"


def test_a_runaway_answer_is_stopped_at_the_size_limit():
    closed: list[bool] = []
    result = QwenResult(_endless(closed), max_answer_chars=10_000)
    assert result.error.code == "AnswerTooLong" and "10,000 characters" in result.error.message
    assert 10_000 < len(result.text) <= 10_050 and closed == [True]


def test_leaving_a_with_block_ends_the_stream():
    closed = []

    def source():
        try:
            yield Started("qwen-plus", "r1")
            for word in ("one ", "two ", "three "):
                yield TextDelta(word)
            yield Finished("stop")
        finally:
            closed.append(True)

    with QwenResult(source()) as result:
        for event in result:
            if isinstance(event, TextDelta):
                break
    assert closed == [True] and result.done and result.interrupted and result.text == "one "
    with QwenResult([Started("m", None), TextDelta("all"), Finished("stop")]) as whole:
        whole.wait()
    assert whole.ok and whole.text == "all"  # a finished answer is left as it is
