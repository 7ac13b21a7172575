"""The panel's Agent switch against the emulator: a run waits in the live turn, showing the code, until the panel's
own Run or Don't run is pressed (as the front end sends it); Stop refuses it; nothing runs unapproved."""

from __future__ import annotations

import time

from qwen_jupyter.core.settings import Settings
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store

from .conftest import KEY
from .test_panel import RecordingPanel


def _panel(emu, namespace):
    panel = RecordingPanel(Session("panel-agent.ipynb", Store(":memory:")),
                           lambda: Settings(base_url=emu.url, api_key=KEY), namespace=namespace)
    panel.agent = True
    return panel


def _waiting(panel, seconds: float = 10) -> dict:
    """The approval the live turn shows, once the worker asks for it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        approval = panel.live.get("approval")
        if approval:
            return approval
        time.sleep(0.02)
    raise AssertionError(f"no approval asked: {panel.live}")


def _press(panel, approval: dict, approved: bool) -> None:
    panel._on_message(panel, {"type": "approval", "id": approval["id"], "approved": approved}, [])


def test_run_waits_for_the_panels_run_button_and_shows_the_code(emu):
    namespace: dict = {}
    panel = _panel(emu, namespace)
    result = panel.ask("Run `answer = 41 + 1`")
    approval = _waiting(panel)
    assert approval["name"] == "run_python" and approval["code"]
    assert "┃ answer = 41 + 1" in approval["shown"] and "answer" not in namespace  # shown, not yet run
    _press(panel, approval, True)
    panel.wait(30)
    assert namespace["answer"] == 42 and result.tool_calls[0].approved is True
    assert "approval" not in panel.live and "approved by you" in panel.turns[-1]["tools_html"]


def test_dont_run_and_stop_run_nothing(emu):
    namespace: dict = {"ran": []}
    panel = _panel(emu, namespace)
    refused = panel.ask("Run `ran.append('refused')`")
    _press(panel, _waiting(panel), False)
    panel.wait(30)
    assert namespace["ran"] == [] and refused.tool_calls[0].approved is False
    stopped = panel.ask("Run `ran.append('stopped')`")
    _waiting(panel)
    panel.stop()
    panel.wait(30)
    assert namespace["ran"] == [] and stopped.interrupted and not panel.busy
    # Stop was the answer to the waiting call: its record says so, not that it was left for someone to answer
    (call,) = stopped.tool_calls
    assert call.approved is False and call.output is None
    assert "not run: you said no" in panel.turns[-1]["tools_html"]
