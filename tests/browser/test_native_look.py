"""Issue 13 in real front ends: the panel and a %%qwen cell in JupyterLab 4 (Light, Dark, Dark High Contrast) and
Notebook 7, with reasoning, an error, code blocks and math. Each run takes screenshots (docs/screenshots/), checks
the WCAG AA contrast of every piece of text from its rendered colours, and uses the panel by keyboard only:
send, Escape to stop, copy a code block, insert it below, copy an answer, retry, edit and resend."""

from __future__ import annotations

import json
import urllib.request

import nbformat
import pytest

from .conftest import OUTPUT, ROOT, TOKEN
from .test_hostile_output import KERNEL_IDLE, NB7_IDLE
from .test_panel_in_browser import _our_errors

pytestmark = pytest.mark.e2e

SCREENSHOTS = ROOT / "docs" / "screenshots"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark", "high-contrast": "JupyterLab Dark High Contrast"}
SLOW = "qwen-plus~long=5000,chunk=4,slow=0.01"
CODE = "print('hello from the emulator')"
PANEL_CELL = 3

# Every visible piece of text under the scopes: its colour and its effective background (the backgrounds of its
# ancestors composited, translucent ones too), both as the browser rendered them (a canvas reads any CSS colour).
CONTRAST = r"""
(scopes) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = (value) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = value;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3]));
  const background = (node) => {
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = [];
  for (const scope of scopes) for (const root of document.querySelectorAll(scope)) {
    for (const node of [root, ...root.querySelectorAll('*')]) {
      if (node.closest('.katex-mathml, .qp-offscreen') || node.disabled) continue;
      const field = ['INPUT', 'TEXTAREA', 'SELECT'].includes(node.tagName) && node.type !== 'checkbox';
      const text = field ? (node.value || '') : [...node.childNodes].filter((c) => c.nodeType === 3)
        .map((c) => c.textContent).join('').trim();
      if (!text.trim() || !node.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
      const rect = node.getBoundingClientRect();
      if (rect.width < 1 || rect.height < 1) continue;
      const style = getComputedStyle(node);
      const bg = background(node);
      const fg = over(rgba(style.color), bg);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
      out.push({scope, text: text.slice(0, 40), ratio: Math.round(ratio(fg, bg) * 100) / 100,
                need: large ? 3 : 4.5, fg: fg.map(Math.round), bg: bg.map(Math.round),
                cls: String(node.className).slice(0, 50)});
    }
  }
  return out;
}
"""

# What a keyboard user gets: every control named, and the focused one drawn with a visible ring.
CONTROLS = r"""
() => [...document.querySelectorAll('.qwen-panel button, .qwen-panel select, .qwen-panel input, .qwen-panel textarea, .qwen-panel summary')]
  .filter((c) => c.getAttribute('aria-hidden') !== 'true')
  .map((c) => ({tag: c.tagName, cls: String(c.className), name: (c.getAttribute('aria-label') || c.closest('label')?.textContent
    || c.textContent || '').trim()}))
"""
FOCUS = r"""
() => { const a = document.activeElement; const s = getComputedStyle(a);
  return {cls: String(a.className), outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; }
"""


def _notebook(folder, name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext qwen_jupyter\nimport qwen_jupyter"),
        nbformat.v4.new_code_cell("%%qwen --think\nShow some math and python code, please."),
        nbformat.v4.new_code_cell("%%qwen -m qwen-plus~error_at=30\nShow some math, then fail."),
        nbformat.v4.new_code_cell(
            "panel = qwen_jupyter.Panel(chat='look', model='qwen-plus')\npanel.thinking = True\n"
            "panel.ask('Show some math and python code, please.'); panel.wait(30)\n"
            "panel.model = 'qwen-plus~error_at=50'\npanel.thinking = True\n"
            "panel.ask('Now something that fails.'); panel.wait(30)\n"
            f"panel.model = {SLOW!r}\npanel"),
    ]
    nbformat.write(notebook, folder / f"{name}.ipynb")


def _theme(server, theme: str) -> None:
    folder = server["notebooks"].parent / "settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "themes.jupyterlab-settings").write_text(json.dumps({"theme": THEMES[theme]}))


def _shut_kernels(server) -> None:
    """Kernels of earlier runs would share two cores with the next one."""
    with urllib.request.urlopen(f"{server['url']}/api/kernels?token={TOKEN}") as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(f"{server['url']}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request).close()


def _open_and_run(page, server, name: str, nb7: bool) -> None:
    url = (f"{server['url']}/notebooks/{name}.ipynb?token={TOKEN}" if nb7
           else f"{server['url']}/lab/workspaces/{name}/tree/{name}.ipynb?token={TOKEN}")
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function(NB7_IDLE if nb7 else KERNEL_IDLE, timeout=60_000)
    for index in range(PANEL_CELL + 1):  # one at a time: a cell that fails (the error cell) stops a queue
        page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").nth(index).click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function("(i) => /\\[\\d+\\]/.test(document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                               ".querySelector('.jp-InputPrompt').textContent)", arg=index, timeout=60_000)
    page.wait_for_selector(".qwen-panel .qp-input", state="visible", timeout=90_000)
    page.wait_for_function("() => document.querySelectorAll('.jp-Cell .qwen-result').length >= 2 && "
                           "document.querySelectorAll('.qwen-panel .qp-turn').length >= 2")
    page.wait_for_function("() => document.querySelectorAll('.qwen-panel .katex').length >= 2 && "
                           "document.querySelectorAll('.jp-Cell .qwen-result mjx-container, .jp-Cell .qwen-result .MathJax')"
                           ".length >= 2", timeout=30_000)


def _screenshots(page, label: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => { const t = document.querySelector('.qwen-panel .qp-transcript'); t.scrollTop = 0; }")
    page.locator(".qwen-panel").screenshot(path=str(SCREENSHOTS / f"panel-{label}.png"))
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.scroll_into_view_if_needed()
    both = cell.bounding_box(), page.locator(".jp-Notebook .jp-Cell").nth(2).bounding_box()
    clip = {"x": both[0]["x"], "y": both[0]["y"], "width": max(b["width"] for b in both),
            "height": both[1]["y"] + both[1]["height"] - both[0]["y"]}
    page.screenshot(path=str(SCREENSHOTS / f"cell-{label}.png"), clip=clip)


def _contrast(page, label: str) -> dict:
    rows = page.evaluate(CONTRAST, [".qwen-panel", ".jp-Cell .qwen-result"])
    failing = [r for r in rows if r["ratio"] < r["need"]]
    summary = {scope: min((r["ratio"] for r in rows if r["scope"] == scope), default=None)
               for scope in (".qwen-panel", ".jp-Cell .qwen-result")}
    record = {"theme": label, "texts": len(rows), "lowest": summary, "failing": failing}
    (OUTPUT / f"contrast-{label}.json").write_text(json.dumps(record, indent=1))
    print(f"contrast {label}: {len(rows)} texts, lowest panel {summary['.qwen-panel']}, "
          f"cell {summary['.jp-Cell .qwen-result']}")
    assert len(rows) > 40 and not failing, failing
    return record


def _tab_to(page, selector: str, backwards: bool = False, limit: int = 80) -> None:
    """Move focus with Tab (or Shift+Tab) until the focused element matches; every stop shows a focus ring."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s)", selector):
            focus = page.evaluate(FOCUS)
            assert focus["outline"] != "none" and focus["width"] >= 2, focus
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def _focused(page) -> str:
    return page.evaluate("() => [...document.activeElement.classList].find((c) => c.startsWith('qp-') && "
                         "c !== 'qp-button') || document.activeElement.tagName")


def _clipboard(page) -> str:
    return page.evaluate("() => navigator.clipboard.readText()")


def _keyboard(page, label: str) -> None:
    turns = ".qwen-panel .qp-turn"
    # Every control has a name a screen reader can say.
    unnamed = [c for c in page.evaluate(CONTROLS) if not c["name"]]
    assert not unnamed, unnamed
    status = page.locator(".qwen-panel [role=status]")
    assert status.get_attribute("aria-live") == "polite"
    # The input grows with its text.
    page.focus(".qwen-panel .qp-input")  # where a reader who tabbed into the panel lands
    before = page.locator(".qwen-panel .qp-input").bounding_box()["height"]
    page.keyboard.type("A long answer, please.")
    for _ in range(5):
        page.keyboard.press("Enter")
        page.keyboard.type("More lines.")
    assert page.locator(".qwen-panel .qp-input").bounding_box()["height"] > before + 40
    page.keyboard.press("Control+a")
    page.keyboard.type("A long answer, please.")
    page.evaluate("() => { document.querySelector('.qwen-panel .qp-turn').__kept = true; }")

    # Send with Shift+Enter; the screen reader hears the answer in a few pieces, not per delta.
    page.evaluate("() => { window.__heard = 0; new MutationObserver(() => window.__heard++).observe("
                  "document.querySelector('.qwen-panel [role=status]'), {childList: true, subtree: true, "
                  "characterData: true}); }")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("() => (document.querySelector('.qp-turn.qp-streaming .qp-answer')?.textContent || '')"
                           ".length > 600")
    # A reader who scrolled up keeps their place while the answer streams.
    page.evaluate("() => { document.querySelector('.qwen-panel .qp-transcript').scrollTop = 0; }")
    page.wait_for_timeout(1500)
    assert page.evaluate("() => document.querySelector('.qwen-panel .qp-transcript').scrollTop") == 0
    page.wait_for_timeout(3000)
    heard = page.evaluate("() => window.__heard")
    assert 1 <= heard <= 4, heard
    # Escape stops the stream.
    page.keyboard.press("Escape")
    page.wait_for_selector(".qwen-panel .qp-turn.qp-interrupted")
    assert page.evaluate("() => document.querySelector('.qwen-panel .qp-turn').__kept")  # not rebuilt

    # Back to a quick model with the keyboard, then ask for code.
    _tab_to(page, ".qwen-panel .qp-model")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.querySelector('.qwen-panel .qp-model').value === 'qwen-plus'")
    _tab_to(page, ".qwen-panel .qp-input", backwards=True)
    page.keyboard.type("Show some python code, please.")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(f"() => document.querySelectorAll('{turns}').length === 4 && "
                           "!document.querySelector('.qwen-panel').classList.contains('qp-busy') && "
                           "document.querySelectorAll('.qp-turn')[3].querySelector('.qp-insert')")
    last = f"{turns}:nth-child(4)"

    # Insert below: a new cell right under the panel's cell, holding the code (not run).
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    _tab_to(page, f"{last} .qp-insert", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === {cells + 1}")
    inserted = page.locator(".jp-Notebook .jp-Cell").nth(PANEL_CELL + 1)
    assert inserted.locator(".cm-content").inner_text().strip() == CODE
    assert inserted.locator(".jp-InputPrompt").inner_text().strip() in ("[ ]:", "")  # inserted, never run

    # Copy the code block, then the answer as Markdown.
    _tab_to(page, f"{last} .qp-copy-code", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelector('{last} .qp-copy-code').textContent === 'Copied'")
    assert _clipboard(page) == CODE
    _tab_to(page, f"{last} .qp-copy-answer")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelector('{last} .qp-copy-answer').textContent === 'Copied'")
    copied = _clipboard(page)
    assert copied.startswith("**[emulated qwen-plus]**") and f"```python\n{CODE}\n```" in copied

    # Retry, then Edit and resend: the last turn is replaced in place.
    _tab_to(page, f"{last} .qp-retry")
    page.evaluate(f"() => {{ document.querySelector('{last}').__old = true; }}")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('{turns}').length === 4 && "
                           "!document.querySelector('.qwen-panel').classList.contains('qp-busy') && "
                           f"!document.querySelector('{last}').__old && document.querySelector('{last} .qp-edit')")
    assert _focused(page) == "qp-input", _focused(page)  # focus kept in the panel
    _tab_to(page, f"{last} .qp-edit", backwards=True)
    page.keyboard.press("Enter")
    assert _focused(page) == "qp-input", _focused(page)
    page.keyboard.press("End")
    page.keyboard.type(" And some math.")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(f"() => document.querySelectorAll('{turns}').length === 4 && "
                           f"(document.querySelector('{last} .qp-user-text')?.textContent || '').endsWith('And some math.') "
                           f"&& document.querySelector('{last} .qp-answer .katex')")

    # Narrow: the reasoning column folds to its summary line.
    page.evaluate("() => { document.querySelector('.qwen-panel').style.width = '460px'; }")
    page.wait_for_function("() => [...document.querySelectorAll('.qwen-panel .qp-has-reasoning .qp-reasoning')]"
                           ".every((d) => !d.open)")
    assert "words" in page.locator(".qwen-panel .qp-has-reasoning .qp-reasoning summary").first.inner_text()
    if label == "lab-light":
        page.evaluate("() => { document.querySelector('.qwen-panel .qp-transcript').scrollTop = 0; }")
        page.locator(".qwen-panel").screenshot(path=str(SCREENSHOTS / "panel-narrow.png"))
    page.evaluate("() => { document.querySelector('.qwen-panel').style.width = ''; }")


def _check(page, server, name: str, label: str, nb7: bool = False) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server["url"])
    _notebook(server["notebooks"], name)
    try:
        _open_and_run(page, server, name, nb7)
        # The front end's MathJax offers a widget no typeset API (JupyterLab 4.6: version, _, config, loader).
        mathjax = page.evaluate("() => window.MathJax ? Object.keys(window.MathJax).join(', ') : 'none'")
        print(f"{label}: window.MathJax offers {mathjax}; the panel typesets with KaTeX")
        _screenshots(page, label)
        _contrast(page, label)
        _keyboard(page, label)
        assert not _our_errors(page), page.errors
    except Exception:
        print("page errors:", page.errors)  # and what the panel's cell printed (a kernel-side failure):
        print(page.locator(".jp-Notebook .jp-Cell").nth(PANEL_CELL).inner_text()[-1500:])
        raise
    finally:
        page.screenshot(path=str(OUTPUT / f"look-{label}.png"))
        _shut_kernels(server)


@pytest.mark.parametrize("theme", list(THEMES))
def test_jupyterlab_themes(lab, page, theme):
    _theme(lab, theme)
    _check(page, lab, f"look-{theme}", f"lab-{theme}")


def test_notebook7(notebook7, page):
    _check(page, notebook7, "look-nb7", "notebook7", nb7=True)
