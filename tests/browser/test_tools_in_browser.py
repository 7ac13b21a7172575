"""Tool calls in real JupyterLab: a %%qwen --tools cell shows each call as a block that opens to its arguments and
result, and the panel's tools picker offers the notebook's functions, runs the chosen one and shows its block; the
panel speaks an Omni answer with a player. Screenshots go to out/browser/."""

from __future__ import annotations

import pytest

from .conftest import OUTPUT, run_notebook_with_panel
from .test_panel_in_browser import _our_errors

pytestmark = pytest.mark.e2e

DEFINE = '''%load_ext qwen_jupyter
import qwen_jupyter

def get_weather(city: str) -> dict:
    """The weather in a city."""
    return {"city": city, "sky": "sunny", "celsius": 21}

def get_time(city: str) -> str:
    """The local time in a city."""
    return f"14:05 in {city}"'''


def test_tool_blocks_in_a_cell_and_the_panel_and_the_panels_player(lab, page):
    run_notebook_with_panel(page, lab, "tools", [
        DEFINE, "%%qwen --tools get_weather,get_time\nUse get_time and get_weather for Paris.",
        "panel = qwen_jupyter.Panel(chat='tools')\npanel"])

    # The cell: two blocks, in order, before the answer; each opens to its arguments and result.
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    blocks = cell.locator("details.qwen-tool-call")
    assert blocks.count() == 2
    assert [s.strip() for s in blocks.locator("summary").all_text_contents()] == [
        'Tool get_time(city="Paris") ✓ · ' + blocks.nth(0).locator("summary").text_content().split("· ")[-1],
        'Tool get_weather(city="Paris") ✓ · ' + blocks.nth(1).locator("summary").text_content().split("· ")[-1]]
    assert not blocks.nth(1).locator("pre").first.is_visible()  # closed until opened
    blocks.nth(1).locator("summary").click()
    assert '"sky": "sunny"' in blocks.nth(1).locator("pre").nth(1).text_content()
    answer = cell.locator(".qwen-result").text_content()
    assert answer.index("get_weather") < answer.index("The tools returned")
    cell.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "tools-cell.png"))

    # The panel: the picker lists the notebook's functions; the chosen one runs and shows as a block.
    page.click(".qwen-panel .qp-tools-picker > summary")
    page.wait_for_selector(".qwen-panel .qp-tools-list input[value='get_weather']")
    assert page.locator(".qwen-panel .qp-tools-list input").evaluate_all("xs => xs.map(x => x.value)") == [
        "get_time", "get_weather"]
    page.check(".qwen-panel .qp-tools-list input[value='get_weather']")
    page.wait_for_selector(".qwen-panel .qp-tools-picker > summary:text('Tools (1)')")
    page.click(".qwen-panel .qp-tools-picker > summary")  # close the list
    page.fill(".qwen-panel .qp-input", "What is the weather in Hangzhou?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    block = page.locator(".qwen-panel .qp-turn .qp-tools details.qwen-tool-call").first
    block.wait_for(state="visible")
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    assert "get_weather(city=\"Hangzhou\")" in block.locator("summary").text_content()
    assert "The tool returned" in page.locator(".qwen-panel .qp-turn .qp-answer").last.text_content()
    page.locator(".qwen-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "tools-panel.png"))

    # The panel speaks an Omni answer: Speak shows for Omni models only, and the turn gets a player that plays.
    assert not page.locator(".qwen-panel .qp-speak").is_visible()
    page.select_option(".qwen-panel .qp-model", "qwen3-omni-flash")
    page.check(".qwen-panel .qp-speak")
    page.fill(".qwen-panel .qp-input", "who are you")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    player = page.locator(".qwen-panel .qp-turn audio").last
    player.wait_for(state="attached")
    duration = player.evaluate("a => new Promise(done => a.readyState >= 1 ? done(a.duration) :"
                               " a.addEventListener('loadedmetadata', () => done(a.duration)))")
    assert duration > 1.0  # the browser decoded our WAV (the emulator's speech is a hum a word)
    page.screenshot(path=str(OUTPUT / "tools-panel-speech.png"))

    # Probabilities: the answer comes back shaded token by token, each token's alternatives in its title.
    page.select_option(".qwen-panel .qp-model", "qwen-plus")
    page.click(".qwen-panel .qp-tools-picker > summary")
    page.uncheck(".qwen-panel .qp-tools-list input[value='get_weather']")
    page.click(".qwen-panel .qp-tools-picker > summary")
    page.check(".qwen-panel .qp-probabilities")
    page.fill(".qwen-panel .qp-input", "Why is the sky blue?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_function("() => document.querySelectorAll('.qwen-panel .qp-turn').length >= 3 && "
                           "[...document.querySelectorAll('.qwen-panel .qp-turn')].pop()"
                           ".querySelectorAll('.qp-answer span[title]').length > 5")
    page.screenshot(path=str(OUTPUT / "panel-probabilities.png"))
    assert _our_errors(page) == []
