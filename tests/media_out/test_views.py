"""Images and speech in the views: what the service controls (task ids, states, messages) is inert text, pictures
are PNG outputs of our own bytes, and the player's only source is our own WAV (checked with the views' auditor)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.events import AudioDelta, Failed, Finished, Started, TaskProgress, TextDelta
from qwen_jupyter.core.events import Image as ImageEvent
from qwen_jupyter.core.result import QwenResult
from qwen_jupyter.views.cell import CellView
from qwen_jupyter.views.terminal import TerminalView

from ..views.safety import problems, tags
from ..views.test_cell_view import Clock, Recorder

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>\x1b]0;pwned\x07'


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def _events(error: QwenError | None = None):
    yield Started("wanx-v1", "r1")
    yield TaskProgress(HOSTILE, HOSTILE, 1.0)
    yield ImageEvent("javascript:alert(3)", _png())
    yield TextDelta("Here it is.")
    yield AudioDelta(b"\0\1" * 2400, HOSTILE)
    yield Failed(error) if error else Finished("stop")


def test_the_cell_shows_progress_as_text_then_pictures_and_a_player_as_outputs():
    clock = Clock()
    recorder = Recorder(clock)
    view = CellView(publisher=recorder, clock=clock)
    result = QwenResult(_events(), model="wanx-v1")
    view.run(result)
    progress = [bundle for _, kind, bundle, _ in recorder.sent if "qwen-progress" in str(bundle) or "⏳" in str(bundle)]
    assert progress and "<script" not in progress[0]["text/html"] and "&lt;script&gt;" in progress[0]["text/html"]
    assert "\x1b" not in progress[0]["text/plain"]
    view.finish(result)
    outputs = [recorder.outputs[key] for key in recorder.order]
    assert [sorted(o) for o in outputs[1:]] == [["image/png", "text/plain"], ["text/html", "text/plain"]]
    assert Image.open(io.BytesIO(base64.b64decode(outputs[1]["image/png"]))).size == (8, 6)
    player = outputs[2]["text/html"]
    assert [tag for tag, _ in tags(player)] == ["div", "audio"]
    assert tags(player)[1][1]["src"].startswith("data:audio/wav;base64,") and "controls" in tags(player)[1][1]
    assert "javascript" not in str(outputs) and "onerror" not in str(outputs)
    page = outputs[0]["text/html"]
    assert problems(page) == [] and "[image 1: result.images[0]]" in outputs[0]["text/plain"]


def test_a_failed_task_message_is_shown_as_text():
    result = QwenResult(_events(QwenError(HOSTILE, code=HOSTILE)), model="wanx-v1")
    recorder = Recorder(Clock())
    view = CellView(publisher=recorder, clock=recorder.clock)
    view.run(result)
    view.finish(result)
    page = recorder.outputs[recorder.order[0]]["text/html"]
    assert problems(page) == [] and "<script>" not in page


def test_the_terminal_says_where_the_pictures_and_the_speech_are_kept():
    out = io.StringIO()
    view = TerminalView(out)
    result = QwenResult(_events(), model="wanx-v1")
    view.run(result)
    view.finish(result)
    written = out.getvalue()
    assert "[image 1: result.images[0]]" in written and "[speech: 0.1 s, result.audio]" in written
    assert "\x1b]0" not in written and "Image task" in written
