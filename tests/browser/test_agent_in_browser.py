"""The notebook agent in real JupyterLab: the panel's Agent switch, a run that waits in the live turn showing
its code until Run it is pressed (and runs nothing on Don't run), and a %%qwen --agent cell whose prompt is
answered in the front end's input box, as a person would; an MCP server picked in the panel's tool picker answers
from its own process. Screenshots go to out/browser/."""

from __future__ import annotations

import sys

import pytest

from .conftest import OUTPUT, run_notebook_with_panel

pytestmark = pytest.mark.e2e

SETUP = "%load_ext qwen_jupyter\nimport qwen_jupyter\nran = []"


def test_the_panels_agent_waits_for_run_it_and_runs_nothing_on_dont_run(lab, page):
    run_notebook_with_panel(page, lab, "agent", [SETUP, "panel = qwen_jupyter.Panel(chat='agent')\npanel"])
    page.check(".qwen-panel .qp-agent")
    page.fill(".qwen-panel .qp-input", "Run `ran.append('from the panel')`")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    box = page.locator(".qwen-panel .qp-approval:not(:empty)")
    box.wait_for(state="visible")
    assert "┃ ran.append('from the panel')" in box.locator(".qp-approval-shown").text_content()
    page.locator(".qwen-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "agent-panel-approval.png"))
    box.locator(".qp-approve").click()
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    block = page.locator(".qwen-panel .qp-turn .qp-tools details.qwen-tool-call").last
    assert "approved by you" in block.locator("summary").text_content()

    page.fill(".qwen-panel .qp-input", "Run `ran.append('refused')`")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.locator(".qwen-panel .qp-approval:not(:empty) .qp-refuse").click()
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    assert "not run: you said no" in page.locator(
        ".qwen-panel .qp-turn .qp-tools details.qwen-tool-call").last.locator("summary").text_content()

    # What really ran in the kernel: the approved call only (read back through the agent itself).
    page.fill(".qwen-panel .qp-input", "Run `list(ran)`")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.locator(".qwen-panel .qp-approval:not(:empty) .qp-approve").click()
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    last = page.locator(".qwen-panel .qp-turn .qp-tools details.qwen-tool-call").last
    last.locator("summary").click()
    assert "Value: ['from the panel']" in last.text_content()


def test_an_mcp_server_picked_in_the_panel_answers_from_its_process(lab, page):
    from ..tools.test_mcp import UNITS

    config = {"units": {"command": [sys.executable, UNITS]}}
    run_notebook_with_panel(page, lab, "mcp", [f"%load_ext qwen_jupyter\n%config QwenMagics.mcp_servers = {config!r}",
                                               "import qwen_jupyter\npanel = qwen_jupyter.Panel(chat='mcp')\npanel"])
    page.click(".qwen-panel .qp-tools-picker > summary")
    choice = page.locator(".qwen-panel .qp-tools-list input[value='mcp:units']")
    choice.wait_for(state="visible")
    assert page.locator(".qwen-panel .qp-tools-list").text_content().strip() == "units (MCP server)"
    choice.check()
    page.fill(".qwen-panel .qp-input", "Convert 3 miles to km")
    page.press(".qwen-panel .qp-input", "Shift+Enter")
    page.wait_for_selector(".qwen-panel .qp-send:not([disabled])")
    block = page.locator(".qwen-panel .qp-turn .qp-tools details.qwen-tool-call").last
    assert "miles_to_km" in block.locator("summary").text_content()
    block.locator("summary").click()
    assert "3 mi = 4.828 km" in block.text_content()  # what the server process wrote


def test_a_cells_agent_prompt_is_answered_in_the_input_box(lab, page):
    import nbformat

    from .conftest import TOKEN
    from .test_panel_in_browser import KERNEL_IDLE

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(SETUP + "\n%qwen --agent Run `ran.append('from the cell'); ran`")]
    nbformat.write(notebook, lab["notebooks"] / "agent-cell.ipynb")
    page.goto(f"{lab['url']}/lab/workspaces/qwen-agent-cell/tree/agent-cell.ipynb?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function(KERNEL_IDLE)
    page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    stdin = page.locator(".jp-Stdin-input")
    stdin.wait_for(state="visible")
    shown = page.locator(".jp-Notebook .jp-Cell .jp-OutputArea").first.text_content()
    assert "The model asks to run:" in shown and "┃ ran.append('from the cell'); ran" in shown
    page.screenshot(path=str(OUTPUT / "agent-cell-approval.png"))
    stdin.fill("y")
    stdin.press("Enter")
    page.wait_for_function(KERNEL_IDLE)
    page.wait_for_selector(".jp-OutputArea-output :text('approved by you')")
