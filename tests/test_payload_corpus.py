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
from qwen_jupyter.views.html import ROOT_CLASS, fragment

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


# -- the page's typesetter (issue 17): a DataFrame of answers and the panel's static transcript -------------------

IGNORE, PROCESS = {"tex2jax_ignore", "mathjax_ignore"}, {"tex2jax_process", "mathjax_process"}
SKIPPED = {"script", "noscript", "style", "textarea", "pre", "code"}  # tags MathJax never reads
VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "source", "track", "embed"}


class Typesettable(HTMLParser):
    """Text MathJax would read for math: the nearest ignore or process class above it decides, as in MathJax."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.outside: list[str] = []  # text outside our math spans that the typesetter reads

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        self.stack.append((tag, "skip" if tag in SKIPPED else "process" if classes & PROCESS
                           else "ignore" if classes & IGNORE else None))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        states = [state for _, state in self.stack if state]
        if data.strip() and "skip" not in states and (not states or states[-1] is None):
            self.outside.append(data.strip())


def typeset_outside_our_spans(html: str) -> list[str]:
    parser = Typesettable()
    parser.feed(html)
    parser.close()
    return parser.outside


def test_typesettable_text_is_measured():
    """The measure itself: it finds text in reach, and none under our root or in pandas' own CSS."""
    assert typeset_outside_our_spans("<p>$x$</p><div class='qwen-text tex2jax_ignore'><p>$y$</p></div>") == ["$x$"]
    assert typeset_outside_our_spans("<div class='mathjax_ignore'><span class='mathjax_process'>\\(z\\)</span>"
                                     "<style>td{}</style></div>") == []


@pytest.fixture
def html_formatter():
    """IPython's own text/html formatter, with the package's printers registered as in a kernel."""
    from IPython.core.formatters import DisplayFormatter

    from qwen_jupyter import _register_display

    shell = type("Shell", (), {"display_formatter": DisplayFormatter()})()
    _register_display(shell)
    return shell.display_formatter.formatters["text/html"]


def test_a_frame_of_answers_is_out_of_the_typesetters_reach(emulator, html_formatter):
    """map()'s frame over every payload (answers and, every other row, the server's error echoing it), and frames
    derived from it: pandas' HTML, its cells escaped, inside our root."""
    import pandas as pd

    texts = pd.DataFrame({"text": [p.text for p in PAYLOADS]}, index=[p.id for p in PAYLOADS])
    out = qwen_jupyter.map(texts, "{text}", model="qwen-plus~echo,moderation,every=2", base_url=emulator.url,
                           api_key=KEY, db=":memory:", progress=False)
    assert out["answer"].notna().any() and out["answer_error"].str.contains("data_inspection_failed").any()
    with pd.option_context("display.max_colwidth", None, "display.max_rows", None):
        for frame in (out, out.head(), out[["answer", "answer_error"]], out[out["answer"].isna()]):
            html = html_formatter(frame)
            assert typeset_outside_our_spans(html) == []
            assert [problem for problem in audit(html) if problem != "<style>"] == []  # pandas escaped every cell
            assert html == fragment(frame._repr_html_(), extra_class="qwen-frame")
        assert "<td>&lt;img src=x onerror=__qwenCanary(" in html_formatter(out)  # shown as text, not lost


def test_a_frame_not_from_map_is_shown_as_pandas_shows_it(html_formatter):
    import pandas as pd

    frame = pd.DataFrame({"price": ["$5 and $6"]})
    assert html_formatter(frame) == frame._repr_html_()


def test_the_panels_static_transcript_is_out_of_the_typesetters_reach(emulator):
    """Refused asks (the error echoes the payload) and documents named by payloads, in the transcript that
    nbconvert and nbviewer show."""
    from qwen_jupyter.core.settings import Settings
    from qwen_jupyter.panel import QwenPanel
    from qwen_jupyter.state.session import Session
    from qwen_jupyter.state.store import Store

    chosen = [p for p in PAYLOADS if p.cls in ("attacker", "math")]
    panel = QwenPanel(Session("transcript.ipynb", Store(":memory:")),
                      lambda: Settings(base_url=emulator.url, api_key=KEY), chat="t",
                      model="qwen-plus~echo,moderation")
    for payload in chosen:
        panel.ask(payload.text)
        panel.wait(30)
    named = [p for p in chosen if "/" not in p.text and "\n" not in p.text]
    for payload in named:
        panel.ask(f"What does {payload.id} say?", documents=[(payload.text + ".txt", payload.id.encode())])
        panel.wait(30)
    assert sum(1 for turn in panel.turns if turn.get("error")) == len(chosen) and len(named) >= 10
    html = panel.transcript()
    assert typeset_outside_our_spans(html) == []
    assert audit(html) == [] and html.startswith(f'<div class="{ROOT_CLASS} qwen-transcript">')


def test_the_other_frames_of_model_text_are_out_of_the_typesetters_reach(connect, html_formatter):
    """A comparison's frame, the token table and OCR's tables hold model text too: marked, so shown the same way."""
    from .pictures import house_png

    tex = "$\\href{https://example.com/}{x}$"
    compared = qwen_jupyter.compare(tex, ["qwen-plus~echo", "qwen-flash~echo"], **connect())
    tokens = qwen_jupyter.chat(tex, model="qwen-plus~echo", logprobs=2, **connect())
    read = qwen_jupyter.chat(f"<table><tr><td>{tex}</td></tr><tr><td>1</td></tr></table>", image=house_png(),
                             ocr="table_parsing", model="qwen-vl-ocr-latest~echo", **connect())
    for frame in (compared.frame(), tokens.logprobs_frame(), read.ocr.tables[0]):
        html = html_formatter(frame)
        assert "$" in html and typeset_outside_our_spans(html) == []
