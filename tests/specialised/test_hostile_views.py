"""Model text in the specialised views is hostile input: OCR tables and fields, research references and notes,
comparison columns. Nothing in their HTML may run or fetch; the text stays readable."""

from __future__ import annotations

from html.parser import HTMLParser

import qwen_jupyter
from qwen_jupyter.core.events import ResearchProgress
from qwen_jupyter.core.research import note
from qwen_jupyter.views.compare import final_bundle as compare_bundle
from qwen_jupyter.views.layout import final_bundle
from tests.pictures import house_png

IMAGE = house_png()
HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script><a href="javascript:alert(3)">x</a>'
SAFE_TAGS = {"div", "span", "small", "b", "table", "thead", "tbody", "tr", "th", "td", "p", "details", "summary",
             "em", "strong", "code", "pre", "ol", "li", "a", "h1", "h2", "ul", "br"}


class _Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags, self.bad = set(), []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.bad += [(tag, k, v) for k, v in attrs if k.startswith("on") or "javascript:" in (v or "").lower()
                     or k == "src"]


def _check(html: str) -> None:
    page = _Page(html)
    assert page.tags <= SAFE_TAGS and not page.bad, (page.tags - SAFE_TAGS, page.bad)


def test_an_ocr_table_of_hostile_cells_shows_them_as_text(connect):
    prompt = f"<table><tr><td>{HOSTILE}</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></table>"
    result = qwen_jupyter.chat(prompt, image=IMAGE, ocr="table_parsing", model="qwen-vl-ocr-latest~echo",
                               **connect())
    assert result.ocr.tables and "alert(2)" in result.ocr.tables[0].columns[0]
    _check(final_bundle(result)["text/html"])


def test_hostile_key_information_is_escaped(connect):
    fields = {HOSTILE: HOSTILE}
    result = qwen_jupyter.chat("", image=IMAGE, ocr="key_information_extraction", ocr_schema=fields, **connect())
    assert HOSTILE in str(result.ocr.fields)
    _check(final_bundle(result)["text/html"])


def test_hostile_research_topics_and_notes_are_escaped(connect):
    history = [{"role": "user", "content": HOSTILE}, {"role": "assistant", "content": "Which part?"}]
    result = qwen_jupyter.chat("All of it.", model="qwen-deep-research", history=history, **connect())
    assert result.ok and HOSTILE[:20] in result.research[0]["goal"]
    _check(final_bundle(result)["text/html"])
    assert HOSTILE in note(ResearchProgress("WebResearch", "streamingQueries", 1, HOSTILE))  # escaped where shown


def test_hostile_answers_in_a_comparison_are_escaped(connect):
    comparison = qwen_jupyter.compare(HOSTILE, ["qwen-plus~echo", "qwen-max~echo"], **connect()).wait()
    _check(compare_bundle(comparison)["text/html"])
