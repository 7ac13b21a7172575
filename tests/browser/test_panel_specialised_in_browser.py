"""The panel's Compare and document controls in real JupyterLab: pick a model to compare with through the UI and
see the two answers side by side, streaming and finished; a file the panel cannot send refused in the browser; a
document as a chip before and after sending. Screenshots go to out/browser/."""

from __future__ import annotations

import pytest

from .conftest import OUTPUT, run_notebook_with_panel
from .test_panel_in_browser import _our_errors, _text

pytestmark = pytest.mark.e2e

SLOW = "~long=400,chunk=2,slow=0.03"  # slow enough (about 6 s) to see the columns stream


def _side_by_side(boxes: list[dict]) -> bool:
    first, second = boxes
    return first["x"] + first["width"] <= second["x"] + 1 and abs(first["y"] - second["y"]) < 4


def test_compare_with_a_model_and_a_document_in_the_panel(lab, page, tmp_path):
    run_notebook_with_panel(page, lab, "compare", [
        f"%load_ext qwen_jupyter\nimport qwen_jupyter\npanel = qwen_jupyter.Panel(chat='compare', "
        f"model='qwen-plus{SLOW}')\npanel"])

    # Compare with: a disclosure of checkboxes, the current model not among them.
    page.click(".qwen-panel .qp-compare-picker > summary")
    page.wait_for_selector(".qwen-panel .qp-compare-list input[value='qwen-flash']")
    names = page.locator(".qwen-panel .qp-compare-choice").evaluate_all("xs => xs.map(x => x.value)")
    assert f"qwen-plus{SLOW}" not in names and "qwen-flash" in names
    assert page.get_attribute(".qwen-panel .qp-compare-list", "aria-label") == "Models to compare with (up to 5)"
    page.check(".qwen-panel .qp-compare-list input[value='qwen-flash']")
    page.wait_for_function("() => document.querySelector('.qp-compare-picker summary').textContent === 'Compare (1)'")
    page.click(".qwen-panel .qp-compare-picker > summary")  # closed again
    assert page.get_attribute(".qwen-panel .qp-translate", "aria-label").startswith("Translate to")
    assert page.locator(".qwen-panel .qp-translate option").first.text_content() == "None"

    # A file the panel cannot send is refused in the browser, said under the input; nothing goes to the kernel.
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ not a document")
    page.set_input_files(".qwen-panel .qp-file", str(program))
    page.wait_for_selector(".qwen-panel .qp-pending .qp-refused")
    assert _text(page, ".qwen-panel .qp-pending .qp-refused").startswith("setup.exe: not an image")
    assert page.get_attribute(".qwen-panel .qp-pending .qp-refused", "role") == "alert"

    # Streaming: a column a model, side by side, each with its name.
    page.fill(".qwen-panel .qp-input", "Who are you?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.qp-turn .qp-column')].length === 2 && "
                           "[...document.querySelectorAll('.qp-turn .qp-column')].every("
                           "c => c.textContent.length > 60)")  # a model's name, then its answer coming
    live = page.locator(".qp-turn .qp-column")
    assert live.locator(".qp-column-model").all_text_contents() == [f"qwen-plus{SLOW}", "qwen-flash"]
    assert _side_by_side([live.nth(0).bounding_box(), live.nth(1).bounding_box()])
    page.screenshot(path=str(OUTPUT / "panel-compare-streaming.png"))

    # Finished: each model's answer and footer in its column.
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    finished = page.locator(".qp-turn .qwen-compare > div")
    assert finished.count() == 2
    for n in range(2):
        column = finished.nth(n).text_content()
        assert "emulated" in column and "total" in column
    assert _side_by_side([finished.nth(0).bounding_box(), finished.nth(1).bounding_box()])
    assert page.locator(".qwen-panel .qp-pending .qp-refused").count() == 0  # said once, gone after sending

    # A document (Compare cleared: only qwen-long reads it): a chip with its name, before sending and after.
    page.click(".qwen-panel .qp-compare-picker > summary")
    page.uncheck(".qwen-panel .qp-compare-list input[value='qwen-flash']")
    page.click(".qwen-panel .qp-compare-picker > summary")
    notes = tmp_path / "notes.txt"
    notes.write_text("Qwen-Long reads long documents. This one is short.\nSecond line.", encoding="utf-8")
    page.set_input_files(".qwen-panel .qp-file", str(notes))
    page.wait_for_selector(".qwen-panel .qp-pending .qp-chip")
    assert _text(page, ".qwen-panel .qp-pending .qp-chip .qp-chip-name") == "notes.txt"
    assert page.get_attribute(".qwen-panel .qp-pending .qp-chip", "aria-label") == "Remove attached document notes.txt"
    page.fill(".qwen-panel .qp-input", "What is this about?")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.qp-turn')].some("
                           "t => t.textContent.includes('I read 1 document: notes.txt'))")
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    assert page.locator(".qp-turn").last.locator(".qp-user-documents .qp-chip").text_content() == "notes.txt"
    assert page.locator(".qwen-panel .qp-pending .qp-chip").count() == 0
    page.screenshot(path=str(OUTPUT / "panel-compare-document.png"))
    assert not _our_errors(page), page.errors
