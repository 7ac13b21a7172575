"""Pictures and the audio player in real JupyterLab: a cell's generated images (image/png outputs that decode), an
Omni answer's player whose WAV the browser can play, and the panel making a picture. Screenshots go to out/browser/."""

from __future__ import annotations

import pytest

from .conftest import OUTPUT, run_notebook_with_panel
from .test_panel_in_browser import _our_errors

pytestmark = pytest.mark.e2e


def test_pictures_and_the_player_in_cells_and_the_panel(lab, page):
    run_notebook_with_panel(page, lab, "media", [
        "%load_ext qwen_jupyter\nimport qwen_jupyter",
        "%%qwen -m wanx2.1-t2i-turbo -n 2 --size 1024*768\nA fox in the snow",
        "%%qwen -m qwen3-omni-flash --speak\nwho are you",
        "panel = qwen_jupyter.Panel(chat='pictures', model='qwen-image-plus')\npanel"])

    cells = page.locator(".jp-Notebook .jp-Cell")
    pictures = cells.nth(1).locator(".jp-OutputArea-output img")
    pictures.first.wait_for(state="visible")
    sizes = pictures.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)])")
    assert sizes == [[96, 72, "data:image/png;base64,"]] * 2  # decoded by the browser, from the notebook itself

    player = cells.nth(2).locator("audio")
    player.wait_for(state="attached")
    duration = player.evaluate("a => new Promise(done => a.readyState >= 1 ? done(a.duration) :"
                               " a.addEventListener('loadedmetadata', () => done(a.duration)))")
    assert 1.0 < duration <= 2.01 and player.evaluate("a => a.controls && a.src.startsWith('data:audio/wav')")
    cells.nth(2).scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "media-cells.png"))

    page.fill(".qwen-panel .qp-input", "A lighthouse at dusk")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    panel_picture = page.locator(".qwen-panel .qp-turn .qp-answer img").first
    panel_picture.wait_for(state="visible")
    assert panel_picture.evaluate("i => i.naturalWidth > 0 && i.src.startsWith('data:image/png;base64,')")
    page.locator(".qwen-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "media-panel.png"))
    assert _our_errors(page) == []
