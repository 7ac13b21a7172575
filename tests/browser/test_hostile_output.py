"""Issue 8 in a real browser: model output may not run, fetch or navigate, wherever it is shown.

The corpus (tests/hostile/payloads.py) goes through the emulator's `echo` fault into every place model text
reaches (answer, reasoning, error box, search-source titles, tool calls; issue 17: the DataFrame map() returns,
with answers and server errors, as displayed and as derived, and from `%%qwen --map`; the panel's static
transcript, with refused asks and documents named by payloads) and is rendered by the real front ends:

(a) JupyterLab 4, live `%%qwen` cells and displayed `chat()` results (streaming, then final);
(b) the same notebook saved and reopened, its outputs trusted (rendered from the file);
(c) Notebook 7, live;
(d) the panel (anywidget) in JupyterLab, thinking on, every other batch compared side by side;
(e) `jupyter nbconvert --to html` of the saved notebook, opened from a local HTTP server that also serves the
    page its MathJax (nbconvert's points at a CDN): jupyter-server-mathjax's MathJax 2, so the page is typeset.

Canaries: every script payload calls `__qwenCanary('<id>')` (defined by an init script in every frame of the
context and reported to the test through a binding) or `alert('qc:<id>')` (dialogs are recorded); every URL
that would be fetched contains `qwen-canary` and the id (requests are recorded from the whole context, and the
canary server keeps its own log); the notebook's page may not navigate away and nothing may open a window.
Then static checks on the rendered outputs (links only to http(s)/mailto, images only data:image/…, no
script-capable elements, handlers or style URLs, no MathJax output outside our own math spans) and a bounded
pass that really clicks every link in the outputs: an http(s) link opening a tab is the reader's own navigation,
anything else a click does is not.
Each surface is recorded in the reliability ledger; a surface passes only when no payload ran, fetched or
navigated and no output failed the static checks. Screenshots go to out/browser/.

Harness measures, each recorded as a failure of its payload before it acts: a navigation of the notebook's
page to the canary is aborted (so one <meta refresh> does not end the run), and a <base> element that lands in
an output is removed after it was reported (it would send JupyterLab's own API calls elsewhere).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from ..hostile.payloads import TOKEN, Payload, by_class, corpus
from .conftest import CHROMIUM, OUTPUT
from .conftest import TOKEN as JUPYTER_TOKEN

pytestmark = pytest.mark.e2e

SECTION = "Hostile payloads"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
KERNEL_IDLE = ("() => { const t = document.querySelector('#jp-main-statusbar')?.textContent || '';"
               " return t.includes('| Idle') && !t.includes('No Kernel'); }")
NB7_IDLE = ("() => { const name = document.querySelector('.jp-KernelName')?.textContent || '';"
            " const state = document.querySelector('.jp-Notebook-ExecutionIndicator');"
            " return name && !name.includes('No Kernel') && state?.getAttribute('data-status') === 'idle'; }")
BATCH = 60  # payloads per notebook cell
CLICK_SECONDS = {"lab": 45, "reload": 30, "nb7": 25, "panel": 30, "nbconvert": 30}
SETTLE_MS = 2500  # after the last output: MathJax typesetting, image loads, timers of injected handlers
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

INIT_SCRIPT = """
window.__qwenCanary = function (id) {
  (window.__qwenCanaryIds = window.__qwenCanaryIds || []).push(String(id));
  try { window.__qwenCanaryHit(String(id)); } catch (e) {}
};
// Harness measure: a <base> that reaches an output redirects every relative URL of the application (its
// API calls too). Report it, then remove it, so the rest of the run still talks to the Jupyter server.
new MutationObserver((records) => {
  for (const record of records) for (const node of record.addedNodes) {
    const bases = node.nodeType === 1 ? [node.matches('base') ? node : null,
                                         ...node.querySelectorAll('base')].filter(Boolean) : [];
    for (const base of bases) {
      try { window.__qwenCanaryBase(base.getAttribute('href') || ''); } catch (e) {}
      base.remove();
    }
  }
}).observe(document, {childList: true, subtree: true});
"""

# Walks the rendered cells in order: which payload each output shows (from "@@PAYLOAD <id> <where>@@" markers
# printed before it, the "-o q_N" of a %%qwen cell, or the row of a DataFrame, whose index is the payload's id),
# and what in it breaks the static rules. One rule is about the page's typesetter: MathJax may typeset only inside
# our own math spans, never a frame's cell or a transcript's error or document name (else `$\href{…}{…}$` from a
# model is a link and `$\style{…}{…}$` a styled box; with an http(s) URL the link rules would let it pass).
STATIC_WALK = r"""
({scope, panel, whole, styles}) => {
  const FORBIDDEN = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta',
    'link', 'form', 'style', 'input', 'button', 'textarea', 'select', 'video', 'audio', 'source', 'picture',
    'track', 'portal', 'image', 'use', 'foreignobject', 'marquee', 'template', 'noscript']);
  const OWN_ANCHOR = 'jp-InternalAnchorLink anchor-link';
  const XLINK = 'http://www.w3.org/1999/xlink';
  const offenders = [], links = [];
  let linkNo = 0;
  const okHref = (h) => /^(https?:|mailto:)/i.test(h.replace(/[\u0000-\u0020]/g, ''));
  // What MathJax leaves where it typeset: 2 (nbconvert) its spans and a math/tex script, 3 and 4 mjx-container.
  const TYPESET = 'mjx-container, .MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_CHTML, .MathJax_SVG, ' +
    '.MathJax_MathML, script[type^="math/"]';
  const OURS = '.tex2jax_process, .mathjax_process';
  const NEVER = 'table.dataframe, .qwen-turn-error, .qwen-document';  // model or server text, whatever wraps it
  const counts = {frames: 0, transcripts: 0, ours: 0};
  const norm = (text) => text.replace(/\s+/g, ' ').trim();
  const rowPid = (node) => node.closest('table.dataframe > tbody > tr')?.querySelector(':scope > th')?.textContent
    .trim();
  function texScript(node) {  // MathJax 2 keeps the TeX in a script after its preview and output
    let next = node.nextElementSibling;
    while (next && !next.matches('script[type^="math/"]') && next.matches(TYPESET)) next = next.nextElementSibling;
    return next?.matches('script[type^="math/"]') ? next : null;
  }
  function typesetFrom(node) {  // the TeX, and the transcript turn it is in: what names the payload
    let turn = node.closest('.qwen-transcript > *');
    while (turn && !/^You:/.test(turn.textContent || '')) turn = turn.previousElementSibling;
    const tex = node.matches('script') ? node.textContent : '';
    return norm(tex + (turn ? ' in the turn ' + turn.textContent : '')).slice(0, 160);
  }
  const seen = new Set();
  function check(root, pid0, where, nodes) {
    for (const node of nodes || root.querySelectorAll('*')) {
      if (seen.has(node)) continue;
      seen.add(node);
      const tag = node.localName.toLowerCase();
      const pid = rowPid(node) || pid0;
      // Each typeset formula once: by its TeX script (MathJax 2) or its outermost output (3 and 4).
      if (node.matches(TYPESET) && !node.parentElement?.closest(TYPESET) && (tag === 'script' || !texScript(node))) {
        if (node.closest(OURS) && !node.closest(NEVER)) counts.ours += 1;
        else offenders.push({pid, where, what: `typeset by MathJax (${tag}): ${typesetFrom(node)}`});
      }
      if (tag === 'script' && node.matches(TYPESET)) continue;  // MathJax's own (never run: its type is math/…)
      const own = (tag === 'button' && /\bjp-/.test(node.getAttribute('class') || ''))  // JupyterLab's copy button
        // pandas' own CSS for the frame it wrote (exactly its text, beside its table)
        || (tag === 'style' && styles.includes(norm(node.textContent)) &&
            !!node.parentElement?.querySelector(':scope > table.dataframe'));
      if (FORBIDDEN.has(tag) && !own) offenders.push({pid, where, what: `<${tag}> element`});
      for (const attr of node.attributes) {
        const name = attr.name.toLowerCase(), value = attr.value;
        if (name.startsWith('on')) offenders.push({pid, where, what: `<${tag} ${name}=${value.slice(0, 50)}>`});
        else if (name === 'style' && [...node.style].some((p) => /url\s*\(|image-set|expression/i.test(
                   node.style.getPropertyValue(p))))
          offenders.push({pid, where, what: `<${tag} style=${value.slice(0, 60)}>`});
        else if (['srcset', 'poster', 'data', 'action', 'formaction', 'ping', 'background', 'srcdoc'].includes(name))
          offenders.push({pid, where, what: `<${tag} ${name}=${value.slice(0, 60)}>`});
        else if (name === 'src' && !(tag === 'img' && /^data:image\//i.test(value)))
          offenders.push({pid, where, what: `<${tag} src=${value.slice(0, 70)}>`});
      }
      const href = node.getAttribute('href') ?? node.getAttributeNS(XLINK, 'href');
      if (href === null || tag === 'base' || tag === 'link' || tag === 'use' || tag === 'image') continue;
      if ([...node.classList].some((c) => OWN_ANCHOR.split(' ').includes(c))) continue;  // heading anchors
      if (!okHref(href)) offenders.push({pid, where, what: `<${tag} href=${href.slice(0, 70)}>`});
      node.setAttribute('data-qwen-link', String(++linkNo));
      links.push({n: linkNo, pid, where, href, tag, target: node.getAttribute('target') || ''});
    }
  }
  if (panel) {
    for (const [index, turn] of [...document.querySelectorAll('.qwen-panel .qp-turn')].entries()) {
      const text = turn.querySelector('.qp-user-text')?.textContent || '';
      for (const part of turn.querySelectorAll('.qp-reply, .qp-tools, .qp-error, .qp-user-text'))
        check(part, 'turn:' + index + ':' + text, 'panel');
    }
    return {offenders, links};
  }
  for (const cell of document.querySelectorAll(scope)) {
    const input = cell.querySelector('.jp-InputArea')?.textContent || '';
    const magic = input.match(/-o (q_\d+)/);
    const where0 = input.includes('--think') ? 'reasoning' : input.includes('moderation') ? 'error' : 'answer';
    let pid = magic ? magic[1] : null;
    let where = magic ? 'magic-' + where0 : input.includes('--map') ? 'magic-frame' : null;
    for (const child of cell.querySelectorAll('.jp-OutputArea-child')) {
      const text = (child.textContent || '').trim();
      const marker = text.match(/(?:^|\n)@@PAYLOAD (\S+) (\S+)@@$/);  // a stream's last line (prints merge)
      if (marker) { pid = marker[1]; where = marker[2]; continue; }
      for (const output of child.querySelectorAll('.jp-OutputArea-output')) {
        if (output.querySelector('.qwen-panel')) continue;  // the live panel: surface (d); its transcript is not shown
        counts.frames += output.querySelectorAll('table.dataframe').length;
        counts.transcripts += output.querySelectorAll('.qwen-transcript').length;
        check(output, pid || '?', where || '?');
      }
    }
  }
  if (whole) {
    // A static page (nbconvert) has no isolation: an output's unbalanced tags can carry later outputs out of
    // their cell. Links and images anywhere outside the inputs are checked too (named by what they contain).
    const stray = [...document.body.querySelectorAll('a, img')].filter((e) => !e.closest('.jp-InputArea'));
    check(document.body, '?', 'outside a cell', stray);
  }
  return {offenders, links, counts};
}
"""


# -- the canary server ----------------------------------------------------------------------------------------------

class Canary:
    """An HTTP server on 127.0.0.1 that answers everything with a 1x1 PNG and logs what was asked."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                hits.append((time.monotonic(), self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(PNG)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canary():
    server = Canary()
    yield server
    server.close()


@pytest.fixture(scope="module")
def payloads(canary) -> list[Payload]:
    return corpus(canary.origin)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# -- watching a page ------------------------------------------------------------------------------------------------

@dataclass
class Watch:
    """Everything a surface's payloads did: scripts run, dialogs, canary fetches, navigations, popups."""

    canary: Canary
    payloads: list[Payload]
    home: str  # the notebook page's URL prefix: navigating elsewhere is a failure
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (payload id, what, phase)
    allowed: list[str] = field(default_factory=list)  # the reader's own http(s) navigations (clicks)
    phase: str = "render"
    clicking: str | None = None  # the payload whose link is being clicked
    clicking_href: str = ""
    popups: list = field(default_factory=list)
    clicked_web: set = field(default_factory=set)  # the http(s) links clicked so far
    same_tab_ok: bool = False  # a static page (nbconvert) may follow a clicked http(s) link in its own tab
    counts: dict = field(default_factory=dict)  # what the static walk found: frames, transcripts, our typeset math

    def __post_init__(self):
        self._ids = sorted((p.id for p in self.payloads), key=len, reverse=True)
        self._since = time.monotonic()

    def pid(self, text: str, default: str | None = None) -> str:
        """The payload a URL, message or markup names (unbalanced HTML can move an output into another
        cell's DOM, so what an output says beats where it is), else `default` or the link being clicked."""
        text = urllib.parse.unquote(text)
        for pid in self._ids:
            if pid in text:
                return pid
        return default or self.clicking or "unattributed"

    def add(self, pid: str, what: str) -> None:
        self.events.append((pid, what, self.phase))

    def install(self, context, page) -> None:
        context.expose_binding("__qwenCanaryHit", lambda source, pid: self.add(
            self.pid(str(pid)), f"ran __qwenCanary in {source['frame'].url[:60]}"))
        context.expose_binding("__qwenCanaryBase", lambda source, href: self.add(
            self.pid(str(href)), f"inserted <base href={str(href)[:60]}>"))
        context.add_init_script(INIT_SCRIPT)
        context.on("request", self._request)
        context.on("page", self._popup)
        context.route(f"{self.canary.origin}/**", self._route)
        page.on("dialog", self._dialog)
        page.on("framenavigated", lambda frame: self._navigated(page, frame))

    def _request(self, request) -> None:
        url = request.url
        if TOKEN not in url and not url.startswith(self.canary.origin):
            return
        if (self.phase == "click" and request.is_navigation_request() and url.startswith(("http://", "https://"))
                and (self._where(request) == "window" or self._own_tab_ok(request))):
            self.allowed.append(url)  # an http(s) link the reader clicked, opening a new tab
            return
        self.add(self.pid(url), f"fetched {request.resource_type} {url[:90]}")

    def _where(self, request) -> str:
        """"notebook" for a navigation of the notebook's page, "window" for another tab's, else "frame"."""
        if not request.is_navigation_request():
            return "resource"
        try:
            frame = request.frame
        except Exception:  # noqa: BLE001 - a navigation issued before its frame exists: a new window
            return "window"
        if frame.parent_frame is not None:
            return "frame"
        return "notebook" if frame.page in self._main else "window"

    def _own_tab_ok(self, request) -> bool:
        return (self.same_tab_ok and self.phase == "click" and self._where(request) == "notebook"
                and _norm(request.url) in {_norm(u) for u in self.clicked_web})

    def _route(self, route) -> None:
        request = route.request
        if self._own_tab_ok(request):
            self._aborted_ok = True
            route.abort()  # the reader's own click on an http(s) link; stay on the page to go on clicking
        elif self._where(request) == "notebook":
            self.add(self.pid(request.url), f"navigated the notebook to {request.url[:80]} (aborted)")
            route.abort()
        else:
            route.continue_()

    def _dialog(self, dialog) -> None:
        if dialog.type == "beforeunload":  # the page is about to be left: a navigation of the notebook
            self.add(self.clicking or "unattributed",
                     f"a click on {self.clicking_href[:50]!r} navigated the notebook's own page (beforeunload)")
        else:
            self.add(self.pid(dialog.message), f"{dialog.type}({dialog.message[:40]!r})")
        with contextlib.suppress(Exception):  # the page may be gone
            dialog.dismiss()

    def _popup(self, popup) -> None:
        self.popups.append((self.phase, self.clicking, self.clicking_href, popup))
        popup.on("dialog", self._dialog)

    def _navigated(self, page, frame) -> None:
        if frame is page.main_frame and frame.url.startswith("chrome-error:") and self.__dict__.pop("_aborted_ok", 0):
            return  # the error page of an allowed navigation the harness aborted
        if frame is page.main_frame and not frame.url.startswith(self.home):
            self.add(self.pid(frame.url), f"navigated the notebook to {frame.url[:80]}")

    @property
    def _main(self):
        return self.__dict__.setdefault("_main_pages", [])

    def settle_popups(self) -> None:
        """Judge and close the windows opened so far: only a click on an http(s) link may open one."""
        for phase, clicking, href, popup in self.popups:
            with contextlib.suppress(Exception):
                popup.wait_for_load_state("commit", timeout=1500)
            url = popup.url
            if phase != "click":
                self.events.append((self.pid(url), f"opened a window at {url[:80]} by itself", phase))
            elif url.startswith(("http://", "https://")) and _norm(url) in {_norm(u) for u in self.clicked_web}:
                pass  # the tab an http(s) link opens
            elif not (_web(href) and url.startswith(("chrome-error:", "about:blank", "http://", "https://"))):
                # Only a click on an http(s) or mailto link may open a tab (an unreachable host shows
                # chrome-error://); a window opened by a javascript: link is a failure even when the script
                # itself did not run there.
                self.events.append((clicking or self.pid(url),
                                    f"a click on {href[:50]!r} opened a window at {url[:60]}", phase))
            with contextlib.suppress(Exception):
                popup.close()
        self.popups.clear()

    def server_hits(self) -> None:
        """Requests the canary server saw that the browser did not report (another client, a worker)."""
        seen = " ".join(what for _, what, _ in self.events) + " ".join(self.allowed)
        # A tab the reader opened on the canary's origin makes Chromium ask that origin for its icon, by itself
        # and unseen by the page's listeners (seen in CI once the tab lived long enough to ask).
        icon = "/favicon.ico" if any(url.startswith(self.canary.origin) for url in self.allowed) else None
        for stamp, method, path in self.canary.hits:
            if stamp >= self._since and path[:80] not in seen and path != icon:
                self.events.append((self.pid(path), f"canary server saw {method} {path[:80]}", "server"))

    def ran(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for pid, what, phase in self.events:
            note = f"{what} [{phase}]"
            if note not in out.setdefault(pid, []):
                out[pid].append(note)
        return out


def _norm(url: str) -> str:
    """A URL as compared between a link's href and the request it made (encodings and a trailing ; differ)."""
    return urllib.parse.unquote(url).split("#")[0].rstrip(";")


def _web(href: str) -> bool:
    return re.sub(r"[\x00-\x20]", "", href).lower().startswith(("http:", "https:", "mailto:"))


def open_watched(chromium, canary, payloads, home):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    watch = Watch(canary, payloads, home)
    watch._main.append(page)
    watch.install(context, page)
    return context, page, watch


def static_and_clicks(page, watch: Watch, *, scope: str, panel: bool = False, whole: bool = False,
                      budget: float = 30,
                      ids: dict[str, str] | None = None, reactivate=None) -> tuple[dict[str, list[str]], int, int]:
    """Static checks of the rendered outputs, then a bounded pass clicking each distinct link."""
    page.wait_for_timeout(SETTLE_MS)
    walk = page.evaluate(STATIC_WALK, {"scope": scope, "panel": panel, "whole": whole, "styles": pandas_styles()})
    watch.counts = walk.get("counts", {})
    resolve = (lambda pid: ids.get(pid, pid)) if ids else (lambda pid: pid)
    static: dict[str, list[str]] = {}
    for item in walk["offenders"]:
        pid = watch.pid(item["what"], resolve(item["pid"]))
        static.setdefault(pid, []).append(f"{item['where']}: {item['what']}")
    watch.settle_popups()
    watch.phase = "click"
    deadline = time.monotonic() + budget
    clicked, seen, recoveries, home = 0, set(), 0, page.url
    for link in walk["links"]:
        key = (link["href"], link["target"], link["tag"])
        if key in seen:
            continue
        if time.monotonic() > deadline:
            break
        seen.add(key)
        watch.clicking, watch.clicking_href = watch.pid(link["href"], resolve(link["pid"])), link["href"]
        if _web(link["href"]):
            watch.clicked_web.add(urllib.parse.urljoin(page.url, link["href"].strip()))
        locator = page.locator(f'[data-qwen-link="{link["n"]}"]')
        try:
            if reactivate and not locator.is_visible():
                reactivate()
            locator.click(timeout=1500, force=True, no_wait_after=True)
        except Exception:  # noqa: BLE001 - hidden or covered: a programmatic click still follows it
            try:
                locator.evaluate("e => e.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true,"
                                 " view: window}))", timeout=1500)
            except Exception:  # noqa: BLE001
                continue
        clicked += 1
        page.wait_for_timeout(150)
        watch.settle_popups()  # judged now, so each window is blamed on the click that opened it
        if page.locator(".jp-Dialog").count():
            page.keyboard.press("Escape")
        if not page.url.startswith(watch.home):  # recorded by the navigation listener: come back, go on
            recoveries += 1
            if recoveries > 15:
                break
            watch.phase = "reload"
            try:
                page.go_back(wait_until="load", timeout=10_000)
                if not page.url.startswith(watch.home):
                    page.goto(home, wait_until="load")
                page.wait_for_timeout(SETTLE_MS)
                page.evaluate(STATIC_WALK, {"scope": scope, "panel": panel, "whole": whole,  # same numbering
                                            "styles": pandas_styles()})
            except Exception:  # noqa: BLE001
                break
            watch.settle_popups()
            watch.phase = "click"
    page.wait_for_timeout(500)
    watch.settle_popups()
    watch.clicking = None
    watch.phase = "done"
    return static, clicked, len(seen)


@functools.cache
def pandas_styles() -> list[str]:
    """The CSS pandas writes beside a frame's table (the static walk allows exactly this <style>)."""
    import pandas as pd

    html = pd.DataFrame({"text": ["x"]}, index=["p"])._repr_html_()
    return [" ".join(css.split()) for css in re.findall(r"<style scoped>(.*?)</style>", html, re.S)]


def typeset_note(static: dict[str, list[str]], counts: dict) -> str:
    """How many payloads MathJax typeset, by place, and what the walk saw (so a clean count means something)."""
    places: dict[str, set[str]] = {}
    for pid, found in static.items():
        for item in found:
            where, _, what = item.partition(": ")
            if what.startswith("typeset by MathJax"):
                places.setdefault(where, set()).add(pid)
    typeset = ", ".join(f"{len(pids)} in {where}" for where, pids in sorted(places.items())) or "none"
    return (f"payloads typeset by MathJax: {typeset}; the walk saw {counts.get('frames', 0)} DataFrames, "
            f"{counts.get('transcripts', 0)} panel transcripts, {counts.get('ours', 0)} MathJax outputs in our math "
            "spans")


def verdict(reliability, surface: str, watch: Watch, static: dict[str, list[str]], tried: int, extra: str = "",
            expect: dict[str, int] | None = None):
    """Record the surface in the ledger and fail on anything a payload did, or on outputs the walk did not see
    (`expect`: at least so many frames, transcripts, typeset math spans of ours)."""
    watch.server_hits()
    ran = watch.ran()
    reliability.add(SECTION, surface, tried=tried, failed=len(ran))
    extra = "; ".join(part for part in (extra, watch.counts and typeset_note(static, watch.counts)) if part)
    unseen = [f"the walk saw {watch.counts.get(name, 0)} {name}, expected at least {least}"
              for name, least in (expect or {}).items() if watch.counts.get(name, 0) < least]
    lines = list(unseen)
    if ran:
        lines.append(f"{len(ran)} of {tried} payloads ran, fetched or navigated on {surface}:")
        lines += [f"  {pid}: {'; '.join(what[:4])}" for pid, what in sorted(ran.items())]
    if static:
        lines.append(f"{len(static)} payloads left outputs that break the static rules on {surface}:")
        lines += [f"  {pid}: {'; '.join(sorted(set(what))[:4])}" for pid, what in sorted(static.items())]
    report = "\n".join(lines)
    (OUTPUT / f"hostile-{re.sub(r'[^a-z0-9]+', '-', surface.lower()).strip('-')}.txt").write_text(
        (extra + "\n" if extra else "") + (report or "clean") + "\n")
    assert not ran and not static and not unseen, f"{extra}\n{report}"


# -- notebooks ------------------------------------------------------------------------------------------------------

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
SETUP = f"""import json, qwen_jupyter
import pandas as pd
from IPython.display import display, clear_output
from qwen_jupyter.errors import Shown
%load_ext qwen_jupyter
P = json.load(open('payloads.json'))
pd.set_option('display.max_colwidth', None)  # whole cells, as a reader widens them to read the answers
TOOLS = {TOOLS!r}
WHERE = {{
    'answer': dict(model='qwen-plus~echo'),
    'reasoning': dict(model='qwen-plus~echo', think=True),
    'error': dict(model='qwen-plus~echo,moderation'),
    'search': dict(model='qwen-plus~echo', search=True, api='responses'),
    'tool': dict(model='qwen-plus~echo', tools=TOOLS),
}}

def run(where, ids):
    # Each result streams into the cell as %%qwen shows it (each one's end clears the cell), then all the
    # finished results are shown again, each after a marker naming its payload.
    if where in ('frame', 'panel'):
        return (run_frame if where == 'frame' else run_panel)(ids)
    done = []
    for pid in ids:
        r = qwen_jupyter.chat(P[pid], **WHERE[where])
        show(r)
        done.append((pid, r))
    clear_output(wait=True)
    for pid, r in done:
        print(f'@@PAYLOAD {{pid}} {{where}}@@')
        show(r)

def show(r):
    try:
        display(r)
    except Shown:  # a failed answer shows its error box, then fails its cell: this one goes on to the next payload
        pass

def run_frame(ids):
    # map() over the payloads (indexed by id): every other request is refused with the payload as its error, so
    # the frame holds answers and server errors. Shown as a person shows it, then a frame derived from it.
    texts = pd.DataFrame({{'text': [P[pid] for pid in ids]}}, index=ids)
    out = qwen_jupyter.map(texts, '{{text}}', model='qwen-plus~echo,moderation,every=2', progress=False)
    print('@@PAYLOAD frame frame@@')
    display(out)
    print('@@PAYLOAD frame frame-head@@')
    display(out.head())

def run_panel(ids):
    # A panel whose asks are refused (the payload comes back as the error), then asks about documents named by
    # payloads: JupyterLab shows the widget, nbconvert and nbviewer the output's static transcript.
    panel = qwen_jupyter.Panel(chat='transcript', model='qwen-plus~echo,moderation')
    print('@@PAYLOAD panel transcript@@')
    display(panel)
    for pid in ids:
        panel.ask(P[pid])
        panel.wait()
    for pid in ids:
        if not any(c in P[pid] for c in '/\\n'):  # a file's name: no folder, one line
            panel.ask(f'What does {{pid}} say?', documents=[(P[pid] + '.txt', pid.encode())])
            panel.wait()
"""


def _write_settings(home: Path) -> None:
    """Render every cell (JupyterLab 4 windowing would leave cells out of view unrendered, and unexecuted by the
    browser: their payloads would seem harmless)."""
    folder = home / "settings" / "@jupyterlab" / "notebook-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')


def write_notebook(folder: Path, name: str, payloads: list[Payload], plan: list[tuple[str, list[str]]],
                   magic: list[tuple[str, str]]) -> dict[str, str]:
    """The notebook: a setup cell, %%qwen cells (one payload each), then batches run by `run()`.
    Returns q_N -> payload id for the %%qwen cells."""
    (folder / "payloads.json").write_text(json.dumps({p.id: p.text for p in payloads}))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell(SETUP)]
    names = {}
    for number, (pid, options) in enumerate(magic):
        names[f"q_{number}"] = pid
        cells.append(nbformat.v4.new_code_cell(f"Q_{number} = P[{pid!r}]"))
        if "moderation" in options:  # a failed request fails its cell (after showing the box): Run All goes on here
            cells.append(nbformat.v4.new_code_cell(
                f"try:\n    get_ipython().run_cell_magic('qwen', '--once {options} -o q_{number}', '{{Q_{number}}}')\n"
                "except qwen_jupyter.QwenError:\n    pass"))
        else:
            cells.append(nbformat.v4.new_code_cell(f"%%qwen --once {options} -o q_{number}\n{{Q_{number}}}"))
    for where, ids in plan:
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            if where == "magic-frame":  # %%qwen --map: the frame is the cell's value
                cells.append(nbformat.v4.new_code_cell(
                    f"M = pd.DataFrame({{'text': [P[pid] for pid in {batch!r}]}}, index={batch!r})"))
                cells.append(nbformat.v4.new_code_cell("%%qwen --map M -m qwen-plus~echo\n{text}"))
            else:
                cells.append(nbformat.v4.new_code_cell(f"run({where!r}, {batch!r})"))
    cells.append(nbformat.v4.new_code_cell("print('@@DONE@@')"))
    notebook.cells = cells
    nbformat.write(notebook, folder / name)
    return names


def run_all(page, idle: str) -> None:
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function(idle)
    if page.locator(".jp-Dialog").count():
        page.keyboard.press("Enter")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                           ".some(e => e.textContent.includes('@@DONE@@'))", timeout=240_000)
    page.wait_for_function(idle)


def plan_for(payloads: list[Payload], full: bool) -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
    every = [p.id for p in payloads]
    handwritten = [p.id for p in payloads if p.cls != "generated"]
    attacker = [p.id for p in payloads if p.cls == "attacker"]
    math = [p.id for p in payloads if p.cls == "math"]
    if full:
        plan = [("answer", every), ("reasoning", every), ("error", handwritten), ("search", handwritten),
                ("tool", handwritten), ("frame", handwritten), ("magic-frame", attacker + math),
                ("panel", attacker + math)]
        magic = ([(pid, "-m qwen-plus~echo --think") for pid in attacker + math]
                 + [(pid, "-m qwen-plus~echo,moderation") for pid in attacker])
    else:  # Notebook 7: the hand-written classes and a slice of the generated ones
        some = handwritten + [p.id for p in payloads if p.cls == "generated"][:60]
        plan = [("answer", some), ("reasoning", handwritten), ("error", handwritten), ("frame", attacker + math)]
        magic = [(pid, "-m qwen-plus~echo --think") for pid in attacker[:8] + math[:6]]
    return plan, magic


def rendered_count(plan, magic) -> int:
    return sum(len(ids) for _, ids in plan) + len(magic)


def frames_shown(plan) -> int:
    """The DataFrames the notebook shows: each run('frame') batch shows two, each %%qwen --map cell one."""
    batches = {where: sum(-(-len(ids) // BATCH) for w, ids in plan if w == where) for where in ("frame", "magic-frame")}
    return 2 * batches["frame"] + batches["magic-frame"]


# -- (a) JupyterLab 4 live, then saved: the notebook (b) and (e) reopen ---------------------------------------------

@pytest.fixture(scope="module")
def lab_live(lab, chromium, canary, payloads):
    """Runs the whole corpus in JupyterLab, records what happened, saves the notebook (for (b) and (e))."""
    _write_settings(lab["notebooks"].parent)
    plan, magic = plan_for(payloads, full=True)
    names = write_notebook(lab["notebooks"], "hostile.ipynb", payloads, plan, magic)
    home = f"{lab['url']}/lab"
    context, page, watch = open_watched(chromium, canary, payloads, home)
    started = time.monotonic()
    try:
        page.goto(f"{home}/workspaces/hostile-live/tree/hostile.ipynb?token={JUPYTER_TOKEN}")
        run_all(page, KERNEL_IDLE)
        rendered = time.monotonic() - started
        # Save (Ctrl+S), and wait until the file on disk has every output.
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        path = lab["notebooks"] / "hostile.ipynb"
        while time.monotonic() < deadline and "@@DONE@@" not in path.read_text():
            page.wait_for_timeout(250)
        saved = "@@DONE@@" in path.read_text()
        notebook_tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="hostile.ipynb")
        static, clicked, distinct = static_and_clicks(
            page, watch, scope=".jp-Notebook .jp-Cell", budget=CLICK_SECONDS["lab"], ids=names,
            reactivate=lambda: notebook_tab.first.click(timeout=2000))
        page.screenshot(path=str(OUTPUT / "hostile-lab-live.png"))
        return {"watch": watch, "static": static, "tried": rendered_count(plan, magic), "saved": saved,
                "path": path, "names": names, "frames": frames_shown(plan),
                "note": f"rendered in {rendered:.0f} s; clicked {clicked} of "
                f"{distinct} distinct links; {len(watch.allowed)} http(s) tabs opened by clicks"}
    finally:
        context.close()


def test_a_jupyterlab_live(lab_live, reliability):
    verdict(reliability, "JupyterLab 4, live cell view", lab_live["watch"], lab_live["static"], lab_live["tried"],
            lab_live["note"], expect={"frames": lab_live["frames"], "ours": 1})


def test_b_jupyterlab_reopened_trusted(lab, lab_live, chromium, canary, payloads, reliability):
    assert lab_live["saved"], "the live run did not get its outputs saved"
    with urllib.request.urlopen(f"{lab['url']}/api/contents/hostile.ipynb?content=1&token={JUPYTER_TOKEN}") as r:
        model = json.load(r)
    code = [c for c in model["content"]["cells"] if c["cell_type"] == "code" and c.get("outputs")]
    trusted = all(c["metadata"].get("trusted") for c in code)
    home = f"{lab['url']}/lab"
    context, page, watch = open_watched(chromium, canary, payloads, home)
    try:
        page.goto(f"{home}/workspaces/hostile-reopened/tree/hostile.ipynb?token={JUPYTER_TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
        page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                               ".some(e => e.textContent.includes('@@DONE@@'))")
        if not trusted:  # trust it as a person would: the command palette's "Trust Notebook"
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Control+Shift+c")
            page.keyboard.type("Trust Notebook")
            page.keyboard.press("Enter")
            page.locator(".jp-Dialog .jp-mod-accept").click()
        static, clicked, distinct = static_and_clicks(page, watch, scope=".jp-Notebook .jp-Cell",
                                                      budget=CLICK_SECONDS["reload"], ids=lab_live["names"])
        page.screenshot(path=str(OUTPUT / "hostile-lab-reopened.png"))
    finally:
        context.close()
    verdict(reliability, "JupyterLab 4, saved notebook reopened (trusted)", watch, static, lab_live["tried"],
            f"saved file trusted by the server: {trusted}; clicked {clicked} of {distinct} distinct links",
            expect={"frames": lab_live["frames"], "ours": 1})


def test_e_nbconvert_html(lab, lab_live, chromium, canary, payloads, reliability, tmp_path):
    """The saved notebook as nbconvert's HTML with its MathJax really loaded: nbconvert points at MathJax 2 on a CDN,
    so the page gets the MathJax 2 that jupyter-server-mathjax ships, from the same local server, nbconvert's own
    configuration (with its Safe extension) unchanged."""
    from jupyter_server_mathjax.app import STATIC_ASSETS_PATH

    assert lab_live["saved"], "the live run did not get its outputs saved"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "mathjax").symlink_to(STATIC_ASSETS_PATH)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    mathjax = f"{origin}/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(lab_live["path"]),
                    f"--HTMLExporter.mathjax_url={mathjax}", "--output-dir", str(tmp_path / "site")],
                   check=True, capture_output=True, timeout=120)
    assert f'src="{mathjax}"' in (tmp_path / "site" / "hostile.html").read_text(), "nbconvert ignored mathjax_url"
    context, page, watch = open_watched(chromium, canary, payloads, f"{origin}/hostile.html")
    watch.same_tab_ok = True
    try:
        page.goto(f"{origin}/hostile.html", wait_until="load")
        started = time.monotonic()
        page.wait_for_function("() => window.MathJax && MathJax.isReady", timeout=60_000)
        page.evaluate("() => new Promise((done) => MathJax.Hub.Queue(() => done(true)))")  # the page typeset
        typeset = f"MathJax {page.evaluate('() => MathJax.version')} typeset it in {time.monotonic() - started:.0f} s"
        static, clicked, distinct = static_and_clicks(page, watch, scope=".jp-Cell", whole=True,
                                                      budget=CLICK_SECONDS["nbconvert"], ids=lab_live["names"])
        page.screenshot(path=str(OUTPUT / "hostile-nbconvert.png"))
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    verdict(reliability, "nbconvert --to html, opened in Chromium", watch, static, lab_live["tried"],
            f"{typeset}; clicked {clicked} of {distinct} distinct links",
            expect={"frames": lab_live["frames"], "transcripts": 1, "ours": 1})


# -- (c) Notebook 7 -------------------------------------------------------------------------------------------------

def test_c_notebook7_live(notebook7, chromium, canary, payloads, reliability):
    _write_settings(notebook7["notebooks"].parent)
    plan, magic = plan_for(payloads, full=False)
    names = write_notebook(notebook7["notebooks"], "hostile7.ipynb", payloads, plan, magic)
    home = f"{notebook7['url']}/notebooks/hostile7.ipynb"
    context, page, watch = open_watched(chromium, canary, payloads, home)
    try:
        page.goto(f"{home}?token={JUPYTER_TOKEN}")
        run_all(page, NB7_IDLE)
        static, clicked, distinct = static_and_clicks(page, watch, scope=".jp-Notebook .jp-Cell",
                                                      budget=CLICK_SECONDS["nb7"], ids=names)
        page.screenshot(path=str(OUTPUT / "hostile-notebook7.png"))
    finally:
        context.close()
    verdict(reliability, "Notebook 7, live cell view", watch, static, rendered_count(plan, magic),
            f"clicked {clicked} of {distinct} distinct links", expect={"frames": frames_shown(plan), "ours": 1})


# -- (d) the panel --------------------------------------------------------------------------------------------------

PANEL_BATCH = 70


def test_d_panel_in_jupyterlab(lab, chromium, canary, payloads, reliability):
    _write_settings(lab["notebooks"].parent)
    (lab["notebooks"] / "payloads.json").write_text(json.dumps({p.id: p.text for p in payloads}))
    ids = [p.id for p in payloads]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell("import json, qwen_jupyter\nP = json.load(open('payloads.json'))")]
    for number, start in enumerate(range(0, len(ids), PANEL_BATCH)):
        cells.append(nbformat.v4.new_code_cell(
            f"panel = qwen_jupyter.Panel(chat='fuzz{number}', model='qwen-plus~echo')\npanel.thinking = True\n"
            # every other batch side by side with a second model: the comparison's columns, live and finished
            f"panel.compare_with = {['qwen-flash~echo'] if number % 2 else []!r}\n"
            f"display(panel)\nfor pid in {ids[start:start + PANEL_BATCH]!r}:\n"
            "    panel.ask(P[pid])\n    panel.wait()"))
    cells.append(nbformat.v4.new_code_cell("print('@@DONE@@')"))
    notebook.cells = cells
    nbformat.write(notebook, lab["notebooks"] / "hostile-panel.ipynb")
    home = f"{lab['url']}/lab"
    context, page, watch = open_watched(chromium, canary, payloads, home)
    by_text = {p.text: p.id for p in payloads}
    try:
        page.goto(f"{home}/workspaces/hostile-panel/tree/hostile-panel.ipynb?token={JUPYTER_TOKEN}")
        run_all(page, KERNEL_IDLE)
        page.wait_for_function(f"() => document.querySelectorAll('.qwen-panel .qp-turn').length >= {len(ids)}",
                               timeout=60_000)
        compared = page.locator(".qwen-panel .qp-turn .qwen-compare").count()
        assert compared >= PANEL_BATCH, compared  # the odd batches really went through a comparison
        walk_ids = {}
        for index, text in enumerate(page.eval_on_selector_all(
                ".qwen-panel .qp-turn", "els => els.map(e => e.querySelector('.qp-user-text')?.textContent || '')")):
            walk_ids[f"turn:{index}:{text}"] = by_text.get(text, f"turn {index}")
        static, clicked, distinct = static_and_clicks(page, watch, scope="", panel=True,
                                                      budget=CLICK_SECONDS["panel"], ids=walk_ids)
        page.locator(".qwen-panel").first.screenshot(path=str(OUTPUT / "hostile-panel.png"))
    finally:
        context.close()
    verdict(reliability, "JupyterLab 4, panel (anywidget)", watch, static, len(ids),
            f"clicked {clicked} of {distinct} distinct links")


def test_corpus_counts(payloads):
    """The corpus the browser tests use (its shape is tested in tests/test_payload_corpus.py)."""
    assert sum(by_class(payloads).values()) == len(payloads) >= 300
