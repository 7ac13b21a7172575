"""The one way model text becomes HTML: parsed by markdown-it with raw HTML off, then cleaned by nh3 (allowlist).

Safety comes from construction, not from escaping: the parser turns every `<` the model wrote into text, nh3 keeps
only the tags and attributes listed here, links only to http(s) and mailto, and no image loads unless its host was
allowed by name. Math keeps its TeX in text for the front end's typesetter (MathJax in JupyterLab and nbconvert),
inside our own `*_process` spans of an `*_ignore` root, so a dollar sign in prose is never typeset; TeX commands
that make links, styles or fetches are shown as code instead.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import nh3

# The answer's own Markdown: structure and text, no images (those are links unless their host is allowed).
_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
         "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span", "div"}
_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
_IMAGE_ATTRIBUTES = {"src", "alt", "title"}
_CLASSES = {"span": {"tex2jax_process", "mathjax_process"}, "div": {"tex2jax_process", "mathjax_process"}}
_SCHEMES = {"http", "https", "mailto"}

# MathJax and KaTeX commands that create links, attributes, styles or load things: such math is shown as code.
_UNSAFE_TEX = re.compile(r"\\(?:href|url|class|cssId|style|data|html(?:Class|Id|Style|Data)?|require|unicode|bbox|"
                         r"toggle|mathtip|texttip|tooltip|action|mmlToken|attr|includegraphics|input|include)(?![A-Za-z])")
_MATH_OPEN = '<span class="tex2jax_process mathjax_process">'
_MATH_BLOCK_OPEN = '<div class="tex2jax_process mathjax_process">'
ROOT_CLASS = "qwen-text tex2jax_ignore mathjax_ignore"


def escape(text: str) -> str:
    """Text for an HTML text node or a quoted attribute."""
    return html.escape(text, quote=True)


def _math_html(tex: str, display: bool, block: bool = False) -> str:
    """Math for the typesetter, or as code when it uses a command that could link, style or fetch."""
    opened, closed = ("\\[", "\\]") if display else ("\\(", "\\)")
    if _UNSAFE_TEX.search(tex):
        return f"<code>{escape(opened + tex + closed)}</code>"
    body = escape(opened + tex.strip() + closed)
    return f"{_MATH_BLOCK_OPEN}{body}</div>\n" if block else f"{_MATH_OPEN}{body}</span>"


def _bracket_inline(state: Any, silent: bool) -> bool:
    r"""Qwen's \( … \) and an inline \[ … \] (markdown-it would read the backslashes as escapes)."""
    start = state.pos
    if state.src[start] != "\\" or start + 1 >= state.posMax or state.src[start + 1] not in "([":
        return False
    display = state.src[start + 1] == "["
    end = state.src.find("\\]" if display else "\\)", start + 2, state.posMax)
    if end == -1 or not state.src[start + 2:end].strip():
        return False
    if not silent:
        token = state.push("math_bracket_display" if display else "math_bracket_inline", "", 0)
        token.content = state.src[start + 2:end]
    state.pos = end + 2
    return True


def _bracket_block(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
    r"""A display \[ … \] that starts a line and may span several."""
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("\\[", begin):
        return False
    end_of_block = state.eMarks[end_line - 1] if end_line > start_line else state.eMarks[start_line]
    close = state.src.find("\\]", begin + 2, end_of_block)
    if close == -1:
        return False
    line = start_line
    while line < end_line and state.eMarks[line] < close:
        line += 1
    if state.src[close + 2:state.eMarks[line]].strip():
        return False  # text after the closing bracket: leave it to the inline rule
    if not silent:
        token = state.push("math_bracket_block", "", 0)
        token.content = state.src[begin + 2:close]
        token.map = [start_line, line + 1]
    state.line = line + 1
    return True


def _image_html(src: str, alt: str, image_hosts: Collection[str]) -> str:
    """An image the model linked: shown only from an allowed host, else a link (or its text) that fetches nothing."""
    parts = urlsplit(src)
    if parts.scheme == "https" and parts.hostname and parts.hostname in image_hosts:
        return f'<img src="{escape(src)}" alt="{escape(alt)}">'
    label = f"image: {alt}" if alt else "image"
    if parts.scheme in ("http", "https"):
        return f'<a href="{escape(src)}">[{escape(label)}]</a>'
    return f"[{escape(label)}]"


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True,
           renderer=lambda tex, options: tex)
    md.inline.ruler.before("escape", "math_bracket", _bracket_inline)
    md.block.ruler.before("fence", "math_bracket_block", _bracket_block,
                          {"alt": ["paragraph", "reference", "blockquote", "list"]})
    rules = {
        "math_inline": lambda tokens, i: _math_html(tokens[i].content, False),
        "math_inline_double": lambda tokens, i: _math_html(tokens[i].content, True),
        "math_block": lambda tokens, i: _math_html(tokens[i].content, True, block=True),
        "math_block_label": lambda tokens, i: _math_html(tokens[i].content, True, block=True),
        "math_bracket_inline": lambda tokens, i: _math_html(tokens[i].content, False),
        "math_bracket_display": lambda tokens, i: _math_html(tokens[i].content, True),
        "math_bracket_block": lambda tokens, i: _math_html(tokens[i].content, True, block=True),
    }
    for name, rule in rules.items():
        md.add_render_rule(name, lambda self, tokens, i, options, env, rule=rule: rule(tokens, i))

    def image(self: Any, tokens: Sequence[Any], i: int, options: Any, env: dict[str, Any]) -> str:
        token = tokens[i]
        alt = self.renderInlineAsText(token.children or [], options, env)
        return _image_html(str(token.attrGet("src") or ""), alt, env.get("image_hosts", ()))

    md.add_render_rule("image", image)
    md.core.ruler.push("citations", _link_citations)
    return md


_CITATION = re.compile(r"\[(?:ref_)?(\d{1,3})\]")


def _link_citations(state: Any) -> None:
    """`[n]` in the answer's text (never in code) becomes a link to source n, when the answer has sources."""
    sources = state.env.get("sources")
    if not sources:
        return
    from markdown_it.token import Token

    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Any] = []
        for token in block.children:
            if token.type != "text" or "[" not in token.content:
                children.append(token)
                continue
            at = 0
            for match in _CITATION.finditer(token.content):
                url = sources.get(int(match.group(1)))
                if url is None:
                    continue
                if match.start() > at:
                    children.append(Token("text", "", 0, content=token.content[at:match.start()]))
                children += [Token("link_open", "a", 1, attrs={"href": url}),
                             Token("text", "", 0, content=match.group(0)), Token("link_close", "a", -1)]
                at = match.end()
            if at < len(token.content):
                children.append(Token("text", "", 0, content=token.content[at:]))
        block.children = children


def _only_listed_hosts(image_hosts: frozenset[str]) -> Any:
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            parts = urlsplit(value)
            return value if parts.scheme == "https" and parts.hostname in image_hosts else None
        return value

    return keep


@functools.lru_cache(maxsize=8)
def _cleaner(image_hosts: frozenset[str]) -> nh3.Cleaner:
    tags, attributes, keep = set(_TAGS), dict(_ATTRIBUTES), None
    if image_hosts:
        tags.add("img")
        attributes["img"] = _IMAGE_ATTRIBUTES
        keep = _only_listed_hosts(image_hosts)
    # Links open in a new tab: in the panel a link would otherwise take JupyterLab's own tab away.
    return nh3.Cleaner(tags=tags, attributes=attributes, allowed_classes=_CLASSES, url_schemes=_SCHEMES,
                       url_relative="deny", link_rel="noopener noreferrer nofollow", attribute_filter=keep,
                       filter_style_properties={"text-align"}, strip_comments=True,
                       set_tag_attribute_values={"a": {"target": "_blank"}})


def markdown_html(text: str, image_hosts: Collection[str] = (), sources: Mapping[int, str] | None = None) -> str:
    """Model Markdown as sanitized HTML: no script, no handler, no fetch, links only to http(s) and mailto;
    `[n]` markers link to `sources[n]` (the search sources' URLs, as untrusted as the rest)."""
    hosts = frozenset(image_hosts)
    rendered = _parser().render(text, {"image_hosts": hosts, "sources": sources or {}})
    return _cleaner(hosts).clean(rendered)


def text_html(text: str) -> str:
    """Model text shown as is (no Markdown), e.g. an error message: escaped, line breaks kept."""
    return escape(text).replace("\n", "<br>")


def fragment(inner_html: str, tag: str = "div", extra_class: str = "") -> str:
    """Sanitized model HTML inside the root that keeps typesetters to our math spans."""
    classes = f"{ROOT_CLASS} {extra_class}".strip()
    return f'<{tag} class="{classes}">{inner_html}</{tag}>'


def one_block(html_text: str) -> str:
    """The same HTML on one line: as Markdown it is a single raw-HTML block that no blank line can end."""
    return html_text.replace("\r", "&#13;").replace("\n", "&#10;")
