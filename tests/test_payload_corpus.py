"""The hostile-output corpus (tests/hostile/payloads.py), and a fast differential audit without a browser.

Every payload of issue 8 goes through the emulator's `echo` fault into each place model text reaches (answer,
reasoning, error box, search-source titles, tool calls), through the cell view exactly as a notebook shows it
(streaming outputs and the final one), and is rendered to HTML the way the front ends do: a CommonMark renderer
that passes raw HTML through (what JupyterLab does with trusted output) and nbconvert's own Markdown filter. The
panel's HTML is audited as it is sent. The audit flags anything that could run, fetch or navigate: script-capable
elements, event handlers, links other than http(s)/mailto, and URLs (images, styles, frames) that load. The
browser suite (tests/browser/test_hostile_output.py) proves the same in Chromium; this one runs in seconds.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import qwen_jupyter
from qwen_jupyter.views.cell import CellView

from .conftest import KEY
from .hostile.payloads import CLASSES, GENERATED, TOKEN, by_class, corpus

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
CONTEXTS = {
    "answer": {"model": "qwen-plus~echo"},
    "reasoning": {"model": "qwen-plus~echo", "think": True},
    "error": {"model": "qwen-plus~echo,moderation"},
    "search": {"model": "qwen-plus~echo", "search": True, "api": "responses"},
    "tool": {"model": "qwen-plus~echo", "tools": TOOLS},
}
# Elements model text may never create: they run script, load a document or resource, submit, or restyle the page.
FORBIDDEN = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link", "form",
             "style", "input", "button", "textarea", "select", "video", "audio", "source", "picture", "track",
             "svg", "math", "template", "noscript", "marquee", "body", "html", "head", "portal", "image", "use"}
URL_ATTRIBUTES = {"src", "srcset", "poster", "data", "action", "formaction", "xlink:href", "ping", "background",
                  "codebase", "cite", "lowsrc", "dynsrc", "manifest", "srcdoc"}
CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")


class Audit(HTMLParser):
    """What in an HTML fragment could run, fetch or navigate."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            squeezed = CONTROL.sub("", value).lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            elif name == "href":  # a link: only to the web or mail (following one is the reader's choice)
                if not squeezed.startswith(("http://", "https://", "mailto:")):
                    self.problems.append(f"<{tag} href={value[:60]!r}>")
            elif name == "src" and tag == "img" and squeezed.startswith("data:image/"):
                continue
            elif name in URL_ATTRIBUTES:
                self.problems.append(f"<{tag} {name}={value[:60]!r}>")
            elif name == "style" and ("url(" in squeezed or "expression(" in squeezed or "@import" in squeezed):
                self.problems.append(f"<{tag} style={value[:60]!r}>")
            elif "javascript:" in squeezed or TOKEN in squeezed:
                self.problems.append(f"<{tag} {name}={value[:60]!r}>")

    handle_startendtag = handle_starttag


def audit(html: str) -> list[str]:
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser.problems


def _trusted_markdown(text: str) -> str:
    """Markdown as a front end renders trusted output: CommonMark with raw HTML passed through."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(text)


def _nbconvert_markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


class _Publisher:
    """Records every Markdown bundle the cell view publishes (streaming outputs and the final one)."""

    def __init__(self) -> None:
        self.markdown: list[str] = []

    def display(self, bundle, raw=True, display_id=None):
        if bundle.get("text/markdown"):
            self.markdown.append(bundle["text/markdown"])

    update_display = display

    def clear_output(self, wait=False):
        pass


PAYLOADS = corpus()


def test_corpus_is_deterministic_and_well_formed():
    again = corpus()
    assert [(p.id, p.text) for p in again] == [(p.id, p.text) for p in PAYLOADS]
    ids = [p.id for p in PAYLOADS]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", i) for i in ids)
    counts = by_class(PAYLOADS)
    assert counts["generated"] == GENERATED and all(counts[c] for c in CLASSES), counts
    for payload in PAYLOADS:
        assert payload.script or payload.fetch or re.search(r"(?i)(script|data|vbscript)\\?:", payload.text), payload
        if payload.script:
            assert f"__qwenCanary('{payload.id}')" in payload.text or f"alert('qc:{payload.id}')" in payload.text
        if payload.fetch:
            assert TOKEN in payload.text and payload.id in payload.text
    # Different canaries give the same payloads with other URLs.
    other = corpus("http://127.0.0.1:1234")
    assert [p.id for p in other] == ids
    assert any("http://127.0.0.1:1234/qwen-canary/" in p.text for p in other)


@pytest.mark.parametrize("where", list(CONTEXTS))
def test_cell_view_markdown_is_inert(where, emulator):
    """Each payload in one place, through the cell view, rendered as trusted Markdown and by nbconvert."""
    offenders: dict[str, list[str]] = {}
    for payload in PAYLOADS:
        result = qwen_jupyter.chat(payload.text, base_url=emulator.url, api_key=KEY, **CONTEXTS[where])
        publisher = _Publisher()
        view = CellView(publisher=publisher)
        view.run(result)
        view.finish(result)
        seen = set()
        for markdown in publisher.markdown:
            for name, render in (("trusted", _trusted_markdown), ("nbconvert", _nbconvert_markdown)):
                for problem in audit(render(markdown)):
                    if (name, problem) not in seen:
                        seen.add((name, problem))
                        offenders.setdefault(payload.id, []).append(f"{name}: {problem}")
    assert not offenders, (f"{len(offenders)} of {len(PAYLOADS)} payloads in the {where} render HTML that can run, "
                           "fetch or navigate:\n" + "\n".join(f"  {k}: {'; '.join(v[:4])}"
                                                              for k, v in offenders.items()))


def test_panel_html_is_inert():
    """The panel's sanitized HTML (what it puts in with innerHTML) for every payload."""
    from qwen_jupyter.views.html import markdown_html

    offenders = {p.id: problems for p in PAYLOADS if (problems := audit(markdown_html(p.text)))}
    assert not offenders, (f"{len(offenders)} of {len(PAYLOADS)} payloads make panel HTML that can fetch or "
                           "navigate:\n" + "\n".join(f"  {k}: {'; '.join(v[:4])}" for k, v in offenders.items()))
