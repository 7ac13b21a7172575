"""The panel makes pictures too: pick an image model, the task's state shows as the live turn's text, and the
finished turn carries the pictures as PNG data (no link, nothing that runs)."""

from __future__ import annotations

from qwen_jupyter.core.settings import Settings
from qwen_jupyter.panel import MODELS, QwenPanel
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store

from ..conftest import KEY
from ..views.safety import problems, tags


class WatchedPanel(QwenPanel):
    """The real panel, keeping every live turn it showed."""

    def __init__(self, *args, **kwargs):
        self.lives: list[dict] = []
        super().__init__(*args, **kwargs)
        self.observe(lambda change: self.lives.append(change["new"]), names="live")


def test_the_panel_makes_pictures_with_a_live_task_state(emu):
    assert "qwen-image-plus" in MODELS and "wanx2.1-t2i-turbo" in MODELS
    panel = WatchedPanel(Session("panel-images.ipynb", Store(":memory:")),
                         lambda: Settings(base_url=emu.url, api_key=KEY), model="wanx2.1-t2i-turbo")
    result = panel.ask("A fox in the snow")
    panel.wait(30)
    assert result.error is None and len(result.images) == 1
    assert any("RUNNING" in live.get("answer_tail", "") for live in panel.lives)
    answer = panel.turns[-1]["answer_html"]
    assert [(tag, attrs["src"][:22]) for tag, attrs in tags(answer) if tag == "img"] == [
        ("img", "data:image/png;base64,")]
    assert problems(answer) == [] and "/emulator/images/" not in answer
