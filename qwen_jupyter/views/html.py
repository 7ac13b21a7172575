"""Model Markdown rendered to HTML that is safe to put into a page: markdown-it without raw HTML, then nh3."""

from __future__ import annotations

import functools

import nh3

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre", "blockquote",
         "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "span"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}, "th": {"align"},
               "td": {"align"}, "ol": {"start"}}


@functools.lru_cache(maxsize=1)
def _renderer():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def markdown_html(text: str) -> str:
    """Sanitized HTML for model Markdown: no scripts, no event handlers, links only to http(s) and mailto."""
    return nh3.clean(_renderer().render(text), tags=_TAGS, attributes=_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
