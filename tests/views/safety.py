"""An independent check of published HTML: which tags, attributes and URLs a browser would act on."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

LAYOUT_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
               "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
               "details", "summary", "b", "small", "img"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """The start tags of an HTML string with their (entity-decoded) attributes."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def text(html: str) -> str:
    """The text a browser would show (tags removed, entities decoded)."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return "".join(parser.text)


def as_trusted_markdown(markdown: str) -> str:
    """What a Markdown renderer with raw HTML on and no sanitizer makes of a text/markdown output."""
    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def problems(html: str, allowed_image_hosts: frozenset[str] = frozenset()) -> list[str]:
    """Everything in the HTML that could run, fetch or navigate somewhere other than an http(s)/mailto link."""
    found = []
    for tag, attrs in tags(html):
        if tag not in LAYOUT_TAGS:
            found.append(f"tag <{tag}>")
        for name, value in attrs.items():
            lowered = value.strip().lower()
            if name.startswith("on") or name in ("srcdoc", "formaction", "action", "background", "poster"):
                found.append(f"attribute {name} on <{tag}>")
            if name == "href" and urlsplit(lowered).scheme not in ("http", "https", "mailto"):
                found.append(f"href {value!r}")
            if name == "src":
                parts = urlsplit(lowered)
                image = lowered.startswith("data:image/") and not lowered.startswith("data:image/svg")
                if not (tag == "img" and (image or (parts.scheme == "https" and parts.hostname in allowed_image_hosts))):
                    found.append(f"src {value!r} on <{tag}>")
            if name == "style" and ("url(" in lowered or "expression" in lowered or "@import" in lowered):
                found.append(f"style {value!r}")
    return found
