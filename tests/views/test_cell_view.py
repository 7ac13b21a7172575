"""The cell view's budget and shape, with a simulated clock and a recording publisher (no kernel needed)."""

from __future__ import annotations

from qwen_jupyter.core.events import Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_jupyter.core.result import QwenResult
from qwen_jupyter.views.cell import CellView

from .safety import text as shown_text


class Recorder:
    """Stands in for IPython.display: records what would be published, and when."""

    def __init__(self, clock):
        self.clock = clock
        self.sent: list[tuple[float, str, dict, str | None]] = []
        self.outputs: dict[str, dict] = {}
        self.order: list[str] = []

    def display(self, bundle, raw=True, display_id=None):
        self.sent.append((self.clock.now, "display", bundle, display_id))
        key = display_id or f"final{len(self.order)}"
        self.outputs[key] = bundle
        self.order.append(key)

    def update_display(self, bundle, raw=True, display_id=None):
        self.sent.append((self.clock.now, "update", bundle, display_id))
        self.outputs[display_id] = bundle

    def clear_output(self, wait=False):
        self.sent.append((self.clock.now, "clear", {}, None))
        self.outputs.clear()
        self.order.clear()

    def shown_html(self) -> str:
        return "".join(self.outputs[k].get("text/html", "") for k in self.order if k in self.outputs)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _stream(text: str, chunk: int, step: float, clock: Clock, reasoning: str = ""):
    yield Started("qwen-plus", "r1")
    for kind, body in ((ReasoningDelta, reasoning), (TextDelta, text)):
        for i in range(0, len(body), chunk):
            clock.now += step
            yield kind(body[i:i + chunk])
    yield Usage(1, 2, 3)
    yield Finished("stop")


def _paragraphs(count: int) -> str:
    return "".join(f"Paragraph {i} " + "word " * 60 + "\n\n" for i in range(count))


def _run(text, chunk=4, step=0.001, reasoning=""):
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(clock=clock, publisher=recorder)
    result = QwenResult(_stream(text, chunk, step, clock, reasoning))
    view.run(result)
    view.finish(result)
    return recorder, result, view


def test_message_rate_stays_within_budget_at_any_token_rate():
    for step in (0.0001, 0.001, 0.05):
        recorder, _, _ = _run(_paragraphs(60), step=step)
        times = [t for t, *_ in recorder.sent]
        assert max(sum(1 for u in times if s <= u < s + 1) for s in times) <= 12


def test_bytes_grow_linearly_with_the_answer():
    for count in (40, 160):
        text = _paragraphs(count)
        recorder, _, _ = _run(text)
        sent = sum(len(value) for _, _, bundle, _ in recorder.sent for value in bundle.values())
        assert sent < 5 * len(text)


def test_first_token_is_shown_at_once():
    recorder, _, _ = _run("Hello world", chunk=5, step=0.5)
    first = next(entry for entry in recorder.sent if entry[2].get("text/html"))
    assert first[0] == 0.5  # published when the first token arrived, not a tick later


def test_every_streaming_output_starts_empty_and_the_final_replaces_them():
    recorder, result, _ = _run(_paragraphs(20), reasoning="Thinking about it.\n\nStep two.")
    displays = [entry for entry in recorder.sent if entry[1] == "display"]
    assert all(bundle == {} for _, _, bundle, _ in displays[:-1])
    assert [kind for _, kind, _, _ in recorder.sent[-2:]] == ["clear", "display"]
    assert recorder.order == ["final0"]
    assert "qwen-columns" in recorder.shown_html()


def test_streamed_blocks_concatenate_to_the_answer_while_streaming():
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(clock=clock, publisher=recorder)
    text = _paragraphs(30)
    result = QwenResult(_stream(text, 7, 0.01, clock))
    for event in result:
        view.on_event(event)
    clock.now += 1
    view._tick()  # let the last tail out
    assert shown_text(recorder.shown_html()).split() == text.split()


def test_a_long_code_block_is_split_with_its_fence_closed_and_reopened():
    code = "```python\n" + "".join(f"x_{i} = {i}\n" for i in range(400)) + "```\n"
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(clock=clock, publisher=recorder)
    for i in range(0, len(code), 10):
        clock.now += 0.05
        view.on_event(TextDelta(code[i:i + 10]))
    blocks = [recorder.outputs[k]["text/html"] for k in recorder.order if recorder.outputs[k]]
    assert len(blocks) > 1
    assert all(block.count("<pre><code") == 1 and "```" not in block for block in blocks)  # each block is code
    assert "x_0 = 0" in blocks[0] and "x_399 = 399" in blocks[-1]


def test_reasoning_streams_in_its_own_style_before_the_answer():
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(clock=clock, publisher=recorder)
    for event in _stream("The answer.", 3, 0.2, clock, reasoning="First I think."):
        view.on_event(event)
    shown = [recorder.outputs[k].get("text/html", "") for k in recorder.order]
    assert 'class="qwen-reasoning"' in shown[0] and "First I think." in shown[0]
    assert "The answer." in shown[-1] and "qwen-reasoning" not in shown[-1]


def _display_bytes(text: str, chunk: int) -> tuple[int, int]:
    """Bytes of every display message, and the largest single one, for text streamed in fixed chunks."""
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(clock=clock, publisher=recorder)
    result = QwenResult(_stream(text, chunk, 0.0005, clock))
    view.run(result)
    view.finish(result)
    sizes = [sum(len(value) for value in bundle.values()) for _, _, bundle, _ in recorder.sent[:-1]]
    return sum(sizes), max(sizes)


def test_text_without_break_points_is_sealed_by_size():
    unbroken = "QUJD" * 50_000  # 200 kB of base64-like text: no space, no newline
    sent, largest = _display_bytes(unbroken, 40)
    assert sent < 5 * len(unbroken)
    assert largest < len(unbroken) / 5  # no update carries the whole answer


def test_paragraphs_that_end_exactly_at_each_chunk_are_sealed():
    paragraph = "word " * 50 + "\n\n"
    text = paragraph * 800  # every chunk is one paragraph ending on its blank line
    sent, _ = _display_bytes(text, len(paragraph))
    assert sent < 5 * len(text)
