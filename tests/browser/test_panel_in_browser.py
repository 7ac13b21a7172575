"""The panel in real JupyterLab: type, send, watch reasoning and answer stream side by side, stop, attach an image,
and prove that model HTML does not run. Screenshots go to out/browser/."""

from __future__ import annotations

import nbformat
import pytest

from .conftest import OUTPUT, TOKEN

pytestmark = pytest.mark.e2e

KERNEL_IDLE = ("() => { const t = document.querySelector('#jp-main-statusbar')?.textContent || '';"
               " return t.includes('| Idle') && !t.includes('No Kernel'); }")
SLOW = "qwen-plus~long=6000,chunk=4,slow=0.01"


def _notebook(folder):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(
        "%load_ext qwen_jupyter\nimport qwen_jupyter\n"
        f"panel = qwen_jupyter.Panel(chat='demo', model={SLOW!r})\npanel")]
    nbformat.write(notebook, folder / "panel.ipynb")


def _our_errors(page) -> list[str]:
    """Script errors raised by the panel's code (the host application's own warnings are not ours to judge)."""
    return [e for e in page.errors if any(word in e.lower() for word in ("qwen", "anywidget", "qp-", "render"))]


def _text(page, selector):
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent).join('')")


def _open_panel(page, lab, name: str) -> None:
    """Open NAME.ipynb in its own JupyterLab workspace and run its first cell, which shows the panel."""
    page.goto(f"{lab['url']}/lab/workspaces/qwen-{name}/tree/{name}.ipynb?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function(KERNEL_IDLE)
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".qwen-panel .qp-input", state="visible")


def test_panel_streams_stops_takes_images_and_stays_safe(lab, page, tmp_path):
    _notebook(lab["notebooks"])
    _open_panel(page, lab, "panel")

    # Think, type, Shift+Enter: reasoning and answer stream side by side.
    page.check(".qwen-panel .qp-think")
    page.fill(".qwen-panel .qp-input", "Why is the sky blue?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_function("() => document.querySelector('.qp-turn .qp-answer .qp-tail')?.textContent.length > 40"
                           " || document.querySelector('.qp-turn .qp-answer .qp-html')?.textContent.length > 40")
    reasoning = page.locator(".qp-turn .qp-reasoning").first.bounding_box()
    answer = page.locator(".qp-turn .qp-answer").first.bounding_box()
    assert "Okay, the user asks" in _text(page, ".qp-turn .qp-reasoning")
    assert reasoning["x"] + reasoning["width"] <= answer["x"] + 1  # beside, not above
    assert reasoning["y"] < answer["y"] + answer["height"] and answer["y"] < reasoning["y"] + reasoning["height"]
    page.screenshot(path=str(OUTPUT / "panel-streaming.png"))

    # Stop on a slow stream: the text stops growing and the turn is marked interrupted.
    page.click(".qwen-panel .qp-stop")
    page.wait_for_selector(".qp-turn.qp-interrupted")
    stopped = _text(page, ".qp-turn .qp-answer")
    page.wait_for_timeout(1000)
    assert _text(page, ".qp-turn .qp-answer") == stopped and 0 < len(stopped) < 6000
    assert "Interrupted" in _text(page, ".qp-turn .qp-error") or "interrupted" in _text(page, ".qp-turn .qp-error")

    # Attach an image: a thumbnail before sending, and beside the question after.
    from PIL import Image

    picture = tmp_path / "orange.png"
    Image.new("RGB", (64, 48), "orange").save(picture)
    page.select_option(".qwen-panel .qp-model", "qwen-vl-max")
    page.uncheck(".qwen-panel .qp-think")
    page.set_input_files(".qwen-panel .qp-file", str(picture))
    page.wait_for_selector(".qwen-panel .qp-pending img.qp-thumb")
    page.fill(".qwen-panel .qp-input", "What is in this picture?")
    page.click(".qwen-panel .qp-send")
    page.wait_for_function("() => [...document.querySelectorAll('.qp-turn')].length >= 2 && "
                           "document.querySelectorAll('.qp-turn')[1].textContent.includes('I received 1 image')")
    assert page.locator(".qp-turn").nth(1).locator(".qp-user-images img").count() == 1

    # Model text that tries to run HTML is shown, not executed.
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    page.fill(".qwen-panel .qp-input", '<img src=x onerror="window.__pwned=1"> [go](javascript:window.__pwned=2)')
    page.click(".qwen-panel .qp-send")
    page.wait_for_function("() => document.querySelectorAll('.qp-turn').length >= 3 && "
                           "document.querySelectorAll('.qp-turn')[2].querySelector('.qp-footer').textContent")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".qwen-panel img[onerror], .qwen-panel a[href^='javascript']").count() == 0
    assert "<img src=x" in _text(page, ".qp-turn:nth-child(3) .qp-answer")
    page.screenshot(path=str(OUTPUT / "panel.png"), full_page=True)
    assert not _our_errors(page), page.errors


def test_panel_in_notebook7(notebook7, page):
    _notebook(notebook7["notebooks"])
    page.goto(f"{notebook7['url']}/notebooks/panel.ipynb?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    # Notebook 7 says "idle" before a kernel exists: wait for the kernel's name too.
    try:
        page.wait_for_function("() => { const name = document.querySelector('.jp-KernelName')?.textContent || '';"
                               " const state = document.querySelector('.jp-Notebook-ExecutionIndicator');"
                               " return name && !name.includes('No Kernel') && state?.getAttribute('data-status') === 'idle'; }",
                               timeout=20000)
    except Exception:
        page.screenshot(path=str(OUTPUT / "panel-notebook7-kernel.png"))
        print("DOM", page.eval_on_selector_all(".jp-KernelName, .jp-Notebook-ExecutionIndicator, .jp-Dialog",
              "els => els.map(e => e.className + '|' + e.getAttribute('data-status') + '|' + e.textContent.slice(0, 80))"))
        raise
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_selector(".qwen-panel .qp-input", state="visible")
    except Exception:
        page.screenshot(path=str(OUTPUT / "panel-notebook7-failed.png"))
        raise
    page.select_option(".qwen-panel .qp-model", "qwen-plus")
    page.fill(".qwen-panel .qp-input", "Who are you?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    try:
        page.wait_for_function("() => document.querySelector('.qp-turn .qp-footer')?.textContent.includes('emulated')")
    finally:
        page.screenshot(path=str(OUTPUT / "panel-notebook7.png"))
    assert "I am a large language model created by Alibaba Cloud" in _text(page, ".qp-turn .qp-answer")
    assert not _our_errors(page), page.errors


def test_stop_and_send_in_the_panel_while_a_cell_sleeps(lab, page):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(
        "%load_ext qwen_jupyter\nimport qwen_jupyter\n"
        "panel = qwen_jupyter.Panel(chat='beside', model='qwen-plus~long=30000,chunk=4,slow=0.005')\npanel"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(10)\nprint('slept')")]
    nbformat.write(notebook, lab["notebooks"] / "beside.ipynb")
    _open_panel(page, lab, "beside")
    page.fill(".qwen-panel .qp-input", "A long answer, please")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_function("() => (document.querySelector('.qp-turn .qp-answer')?.textContent || '').length > 40")

    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").nth(1).click()  # run the sleeping cell
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("() => (document.querySelector('#jp-main-statusbar')?.textContent || '').includes('Busy')")
    started = page.evaluate("() => performance.now()")
    page.click(".qwen-panel .qp-stop")
    page.wait_for_selector(".qp-turn.qp-interrupted")
    stop_ms = page.evaluate("() => performance.now()") - started
    page.fill(".qwen-panel .qp-input", "Another, while the cell sleeps")
    started = page.evaluate("() => performance.now()")
    page.click(".qwen-panel .qp-send")
    page.wait_for_function("() => [...document.querySelectorAll('.qp-turn')].some("
                           "t => t.textContent.includes('while the cell sleeps') && "
                           "t.querySelector('.qp-answer').textContent.length > 20)")
    send_ms = page.evaluate("() => performance.now()") - started
    # The sleeping cell's prompt still says [*] (the status bar may show the panel subshell's idle instead).
    still_sleeping = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-InputPrompt").inner_text() == "[*]:"
    page.screenshot(path=str(OUTPUT / "panel-beside-a-sleeping-cell.png"))
    print(f"in JupyterLab, during time.sleep(10): Stop {stop_ms:.0f} ms, Send to first text {send_ms:.0f} ms")
    assert still_sleeping and stop_ms < 2000 and send_ms < 3000, (stop_ms, send_ms)
    page.click(".qwen-panel .qp-stop")
    assert not _our_errors(page), page.errors
