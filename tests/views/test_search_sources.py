"""Search sources: a numbered list of links under the answer, the answer's [n] markers linked to them, on every
API that returns sources; where none come back the footer says so. Titles and URLs are untrusted text."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.core.events import Finished, SearchResult, SearchResults, Started, TextDelta
from qwen_jupyter.core.result import QwenResult
from qwen_jupyter.views.html import markdown_html
from qwen_jupyter.views.layout import final_bundle, footer
from tests.conftest import APIS


@pytest.mark.parametrize("api", ["dashscope", "responses"])
def test_sources_are_listed_and_the_markers_link_to_them(api, connect):
    result = qwen_jupyter.chat("Who won the cup?", search=True, **connect(api))
    assert result.error is None, result.error
    assert [s.index for s in result.search_results] == [1, 2, 3]
    page = final_bundle(result)["text/html"]
    assert '<a href="https://example.com/emulated/1" target="_blank" rel="noopener noreferrer nofollow">[1]</a>' in page
    assert '<li value="3"><a href="https://example.com/emulated/3"' in page
    assert "3 sources" in footer(result)


def test_chat_completions_returns_no_sources_and_the_footer_says_so(connect):
    result = qwen_jupyter.chat("Who won the cup?", search=True, **connect("openai"))
    assert result.error is None and result.search_results == ()
    assert "searched, but no sources came back (Chat Completions does not return them" in footer(result)
    assert "<a" not in final_bundle(result)["text/html"].split("qwen-footer")[0].split("</details>")[-1]


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_search_options_reach_the_wire(api, connect, emu):
    qwen_jupyter.chat("News?", search_options={"forced_search": True, "search_strategy": "max"}, **connect(api)).wait()
    body = emu.received[-1]["body"]
    options = body["search_options"] if api == "openai" else body["parameters"]["search_options"]
    enabled = body["enable_search"] if api == "openai" else body["parameters"]["enable_search"]
    assert enabled is True
    assert options == {"enable_source": True, "enable_citation": True, "citation_format": "[<number>]",
                       "forced_search": True, "search_strategy": "max"}


@pytest.mark.parametrize("api", APIS)
def test_no_search_means_no_search_note(api, connect):
    result = qwen_jupyter.chat("Hello", **connect(api))
    assert "source" not in footer(result)


def test_markers_in_code_and_unknown_numbers_stay_text():
    html = markdown_html("See [1] and [9], not `[1]`:\n\n```\n[1]\n```", sources={1: "https://a.example/x"})
    assert html.count("<a ") == 1 and "[9]" in html and "<code>[1]</code>" in html


def test_hostile_source_urls_and_titles_neither_link_nor_run():
    events = [Started("qwen-plus", "r"), SearchResults((
        SearchResult(1, '<img src=x onerror=alert(1)>', "javascript:alert(1)"),
        SearchResult(2, "ok", "https://b.example/"),
        SearchResult(3, "data", "data:text/html,<script>alert(1)</script>"),
    )), TextDelta("Facts [1][2][3]."), Finished("stop")]
    page = final_bundle(QwenResult(events, searched=True))["text/html"]
    assert "javascript:" not in page and "data:text/html" not in page and "<img" not in page
    assert "onerror=alert(1)&gt;" in page or "&lt;img" in page  # the title shows as text
    assert page.count('href="https://b.example/"') == 2  # the [2] marker and the list item
    assert "(no usable link)" in page
