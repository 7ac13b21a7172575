"""Model text cannot inject HTML or script links, even where Markdown is rendered trusted (live cell output)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from qwen_jupyter.events import Finished, ReasoningDelta, Started, TextDelta, Usage
from qwen_jupyter.result import QwenResult
from qwen_jupyter.views.markdown import result_markdown, safe_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='https://evil.example'></iframe>",
    "[click](javascript:alert(1))",
    "[click]( JaVaScRiPt:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD4=)",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<a href='javascript:alert(1)'>x</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<svg onload=alert(1)>",
    "$x < y$ and \\( a<b \\) and <b onmouseover=alert(1)>hi</b>",
    "<div style='position:fixed;inset:0'>cover</div>",
]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _rendered_tags(markdown: str) -> list[tuple[str, dict]]:
    """Render like a trusted Markdown renderer (raw HTML allowed, no sanitizer) and list the tags."""
    parser = _Tags()
    parser.feed(MarkdownIt("commonmark", {"html": True}).render(markdown))
    return parser.tags


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_model_text_renders_inert(payload):
    tags = _rendered_tags(safe_markdown(payload))
    assert {tag for tag, _ in tags} <= {"p", "a", "img", "code", "pre", "em", "strong"}
    for _, attrs in tags:
        assert not any(name.startswith("on") for name in attrs)
        assert "style" not in attrs
        for value in attrs.values():
            assert not (value or "").lower().lstrip().startswith(("javascript:", "data:", "vbscript:"))


def test_result_markdown_keeps_only_our_own_html():
    events = [Started("qwen-plus", "r1"), ReasoningDelta("<script>bad()</script>"),
              TextDelta("<img src=x onerror=alert(1)> **bold**"), Usage(1, 2, 3), Finished("stop")]
    tags = _rendered_tags(result_markdown(QwenResult(events)))
    assert all(not any(n.startswith("on") for n in attrs) for _, attrs in tags)
    assert "script" not in {tag for tag, _ in tags}
    assert ("strong", {}) in tags  # Markdown still works


def test_code_and_math_are_kept_intact():
    text = "Use `a<b` and\n\n```python\nif a < b: print('<ok>')\n```\n\nmath \\(a < b\\) and \\[x^2 > 0\\] and $c<d$"
    out = safe_markdown(text)
    assert "`a<b`" in out and "if a < b: print('<ok>')" in out
    assert r"$a \lt  b$" in out and r"$$x^2 \gt  0$$" in out and r"$c\lt d$" in out


def test_qwen_math_delimiters_become_dollars():
    assert safe_markdown(r"Euler: \( e^{i\pi}+1=0 \)") == "Euler: $e^{i\\pi}+1=0$"
    assert safe_markdown("\\[\n\\int_0^1 x\\,dx\n\\]") == "$$\\int_0^1 x\\,dx$$"


def test_prices_are_not_mistaken_for_math():
    assert safe_markdown("It costs $5 and $10.") == "It costs $5 and $10."
