"""The panel's front end on a bare page (no Jupyter, no theme variables): math typeset by the package's KaTeX,
hostile TeX that typesets to nothing that runs, fetches or links, readable neutral default colours, and Insert
below falling back to the clipboard where there is no notebook to insert into."""

from __future__ import annotations

import functools
import http.server
import json
import pathlib
import threading

import pytest

from qwen_jupyter.panel import QwenPanel, front_end, katex_assets
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store
from qwen_jupyter.views.html import fragment, markdown_html

from .conftest import OUTPUT
from .test_native_look import CONTRAST

pytestmark = pytest.mark.e2e

PANEL = pathlib.Path(__file__).resolve().parents[2] / "qwen_jupyter" / "panel"
CANARY = "http://127.0.0.1:9/qwen-canary"  # nothing listens there; any request to it is recorded
ANSWER = ("Inline \\( e^{i\\pi} + 1 = 0 \\), dollars $a^2 + b^2 = c^2$ and display:\n\n"
          "$$\\int_0^1 x^2 \\, dx = \\frac{1}{3}$$\n\n```python\nprint('hi')\n```")
HOSTILE = [f"$\\href{{{CANARY}/href}}{{a}}$", f"$\\url{{{CANARY}/url}}$", f"$\\includegraphics{{{CANARY}/img}}$",
           f"$\\htmlStyle{{background:url({CANARY}/style)}}{{b}}$", "$\\htmlClass{jp-Dialog}{c}$",
           "$\\htmlData{x=1}{d}$", "$\\htmlId{x}{e}$", "$\\def\\a{\\a\\a}\\a$", "$\\rule{99999em}{99999em}$",
           f"$\\color{{url({CANARY}/color)}}{{f}}$", "$\\textcolor{javascript:__qwenCanary(1)}{g}$",
           "$\\text{<img src=x onerror=__qwenCanary(2)>}$", "$\\mathrm{\\verb|<script>__qwenCanary(3)</script>|}$"]
PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="panel.css"></head>
<body><div id="host"></div><script type="module">
const data = await (await fetch("state.json")).json();
const handlers = {};
window.__sent = [];
window.__qwenCanary = (id) => (window.__ran = window.__ran || []).push(id);
const model = {
  get: (name) => data.state[name], set: (name, value) => { data.state[name] = value; }, save_changes() {},
  on: (name, handler) => (handlers[name] = handlers[name] || []).push(handler), off() {},
  send(msg) {
    window.__sent.push(msg);
    if (msg.type === "katex") setTimeout(() => handlers["msg:custom"].forEach((h) => h(data.katex)), 0);
  },
  widget_manager: {},
};
const panel = await import("./panel.js");
panel.default.render({ model, el: document.getElementById("host") });
</script></body></html>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _turn(index: int, text: str) -> dict:
    return {"id": f"panel:{index}", "user": "math", "answer_html": fragment(markdown_html(text)),
            "answer_md": text, "reasoning_html": "", "status": "ok", "footer": "qwen-plus"}


@pytest.fixture
def site(tmp_path):
    (tmp_path / "panel.js").write_text(front_end())  # the ES module the widget is given
    (tmp_path / "panel.css").write_text((PANEL / "panel.css").read_text())
    (tmp_path / "index.html").write_text(PAGE)
    turns = [_turn(0, ANSWER)] + [_turn(i + 1, text) for i, text in enumerate(HOSTILE)]
    panel = QwenPanel(Session("math.ipynb", Store(":memory:")), lambda: None)  # every synced trait, as sent
    state = {k: v for k, v in panel.get_state().items() if not k.startswith("_")} | {"turns": turns}
    panel.close()
    (tmp_path / "state.json").write_text(json.dumps({"state": state, "katex": {"type": "katex", **katex_assets()}}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_katex_typesets_offline_and_hostile_tex_stays_inert(site, page):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.goto(f"{site}/index.html")
    page.wait_for_function("() => document.querySelectorAll('.qwen-panel .qp-turn').length === 14 && "
                           "document.querySelectorAll('.qwen-panel .katex').length >= 3")
    page.wait_for_timeout(500)
    first = page.locator(".qwen-panel .qp-turn").first
    assert first.locator(".katex").count() == 3 and first.locator(".katex-display").count() == 1
    assert page.evaluate("() => window.__sent.filter((m) => m.type === 'katex').length") == 1  # asked once
    assert page.evaluate("() => document.fonts.check('16px KaTeX_Main')")  # the fonts came inlined

    # Hostile TeX: shown as code (views/html.py) or refused by KaTeX (trust off, limits); nothing runs or links.
    panel = ".qwen-panel .qp-turn:not(:first-child)"
    assert page.evaluate("() => window.__ran") is None
    assert page.locator(f"{panel} [href], {panel} [src], {panel} script, {panel} img").count() == 0
    styles = page.eval_on_selector_all(f"{panel} [style]", "els => els.map((e) => e.getAttribute('style'))")
    assert not [s for s in styles if "url(" in s or "javascript" in s], styles
    tallest = page.eval_on_selector_all(panel, "els => Math.max(...els.map((e) => e.offsetHeight))")
    # \rule{99999em}{99999em} is held to maxSize (20em, about 320 px here)
    assert tallest < 500 and page.evaluate("() => document.body.scrollWidth <= innerWidth")
    codes = page.eval_on_selector_all(f"{panel} .qp-answer", "els => els.map((e) => e.textContent)")
    assert "\\href{" in codes[0] and "\\url{" in codes[1] and "\\includegraphics{" in codes[2]  # as their source
    assert not [url for url in requests if not url.startswith((site, "blob:", "data:"))], requests

    # Neutral default colours (no front end variables here) read well.
    rows = page.evaluate(CONTRAST, [".qwen-panel"])
    failing = [r for r in rows if r["ratio"] < r["need"]]
    print(f"contrast without a theme: {len(rows)} texts, lowest {min(r['ratio'] for r in rows)}")
    assert rows and not failing, failing

    # No notebook to insert into: Insert below copies the code and says so.
    first.locator(".qp-insert").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('.qp-insert').textContent.startsWith('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == "print('hi')"
    page.screenshot(path=str(OUTPUT / "panel-math-bare-page.png"), full_page=True)
    assert not page.errors, page.errors
