"""A finished result as one output: reasoning beside the answer, tool calls, sources, error box and footer.

Every piece of model text (answer, reasoning, tool calls, source titles, error messages) is made safe where it is
turned into HTML (views/html.py); the layout around it is ours, and the assembled body goes through one more
allowlist so a slip in this module cannot publish anything that runs or fetches. Colours come from the front
end's theme variables with neutral fallbacks. The output carries text/html for the page, the same HTML as a single
raw block for viewers that prefer Markdown, and text/plain without terminal control characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import nh3

from ..core.prices import estimated
from ..core.text import printable
from .html import ROOT_CLASS, escape, fragment, markdown_html, one_block, text_html
from .logprobs import logprobs_html
from .ocr import ocr_html
from .tools import tool_calls_html, tool_calls_text

MUTED = "var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #616161))"
BACKGROUND = "var(--jp-layout-color0, var(--vscode-editor-background, #ffffff))"
REASONING_STYLE = ("border-left:3px solid var(--jp-border-color1, var(--vscode-panel-border, #bdbdbd));"
                   f"padding-left:.8em;color:{MUTED};font-size:.92em")
_IMAGE_DATA = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+\Z")
def retry_note(event: Any) -> str:
    """What the person reads while a failed request waits to be tried again (cell and terminal alike)."""
    return printable(f"{event.error.summary()} Trying again in {event.delay:.1f} s (retry {event.attempt}).")


def _keep_layout_urls(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if urlsplit(value).scheme in ("http", "https", "mailto") else None
    if attribute == "src":
        return value if tag == "img" and _IMAGE_DATA.match(value) else None
    return value


@functools.lru_cache(maxsize=1)
def _layout_cleaner() -> nh3.Cleaner:
    # The body is already clean model HTML plus our own layout; this pass keeps only what the layout uses.
    tags = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
            "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
            "details", "summary", "b", "small", "img"}
    attributes = {"*": {"class", "style", "title"}, "a": {"href"}, "ol": {"start"}, "li": {"value"}, "details": {"open"},
                  "img": {"src", "alt"}}
    return nh3.Cleaner(tags=tags, attributes=attributes, url_schemes={"http", "https", "mailto", "data"},
                       url_relative="deny", link_rel="noopener noreferrer nofollow",
                       attribute_filter=_keep_layout_urls, strip_comments=True,
                       set_tag_attribute_values={"a": {"target": "_blank"}})


def reasoning_html(text: str, title: str | None = "Reasoning", image_hosts: Collection[str] = ()) -> str:
    """Reasoning in a muted, bordered block."""
    heading = f"<b>{escape(title)}</b>" if title else ""
    return (f'<div class="qwen-reasoning" style="{REASONING_STYLE}">{heading}'
            f"{fragment(markdown_html(text, image_hosts))}</div>")


def columns(reasoning: str, answer: str) -> str:
    """Reasoning (collapsible) beside the answer; the columns wrap to one when the output is narrow."""
    return (
        '<div class="qwen-columns" style="display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start">'
        f'<details class="qwen-reasoning" open style="flex:1 1 16em;min-width:0;{REASONING_STYLE}">'
        f"<summary><b>Reasoning</b></summary>{reasoning}</details>"
        f'<div class="qwen-answer" style="flex:2 1 22em;min-width:0">{answer}</div></div>'
    )


def error_box(result: Any) -> str:
    """The error as one short box: what happened, the code, the request id and a hint (all shown as text)."""
    error = result.error
    stopped = error.code in ("Interrupted", "IncompleteStream", "AnswerTooLong")
    colour = ("var(--jp-warn-color1, var(--vscode-editorWarning-foreground, #b07d00))" if stopped
              else "var(--jp-error-color1, var(--vscode-errorForeground, #c62828))")
    background = f"color-mix(in srgb, {colour} 12%, {BACKGROUND})"  # a tint of the theme's own background
    head = "⏹ Interrupted" if error.code == "Interrupted" else "⚠ " + " ".join(
        str(p) for p in (error.status, error.code) if p)
    lines = [f"<b>{escape(head)}</b> — {text_html(error.message)}"]
    if error.hint:
        lines.append(text_html(error.hint))
    request_id = error.request_id or result.request_id
    if request_id:
        lines.append(f"<small>request id {escape(request_id)}</small>")
    if result.text and error.code != "Interrupted":
        lines.append("<small>The partial answer above is kept.</small>")
    return (f'<div class="qwen-error {ROOT_CLASS}" style="border:1px solid {colour};background:{background};'
            'padding:.45em .8em;border-radius:4px;margin:.4em 0">' + "<br>".join(lines) + "</div>")


def footer(result: Any) -> str:
    """One line: model, tokens, timings, request id, and a badge when the emulator answered."""
    usage = result.usage
    bits = [result.model or "?"]
    if usage.input_tokens is not None:
        tokens = f"{usage.input_tokens} in · {usage.output_tokens} out"
        if usage.reasoning_tokens:
            tokens += f" ({usage.reasoning_tokens} reasoning)"
        if usage.cached_tokens:
            tokens += f" · {usage.cached_tokens} cached"
        if spent := estimated(result.model, asdict(usage), result.region):  # at the prices where it was asked
            tokens += f" · cost {spent} (estimate)"
        bits.append(tokens)
    if result.time_to_first_token is not None:
        bits.append(f"first token {result.time_to_first_token:.2f} s")
    if result.elapsed is not None:
        bits.append(f"total {result.elapsed:.2f} s")
    if result.tokens_per_second:
        bits.append(f"{result.tokens_per_second:.0f} tok/s")
    if result.searched:
        count = len(result.search_results)
        none = "searched, but no sources came back" + (
            " (Chat Completions does not return them; --api dashscope does)" if result.api == "openai" else "")
        bits.append(f"{count} source{'s' * (count != 1)}" if count else none)
    if result.request_id:
        bits.append(f"id {result.request_id}")
    if result.emulated:
        bits.append("emulated")
    return printable(" · ".join(bits))


def footer_html(result: Any) -> str:
    badge = (' <span class="qwen-emulated" style="border:1px solid '
             'var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));'
             'border-radius:3px;padding:0 .3em">emulated</span>')
    text = escape(footer(result).removesuffix(" · emulated"))
    return (f'<div class="qwen-footer" style="color:{MUTED};font-size:.8em">{text}'
            f'{badge if result.emulated else ""}</div>')


def _linkable(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


def _sources(result: Any) -> str:
    """The sources as a numbered list (each with the number the answer's [n] markers use)."""
    items = [f'<li value="{int(s.index)}"><a href="{escape(s.url)}">{escape(printable(s.title) or s.url)}</a>'
             f'{" · " + escape(printable(s.site_name)) if s.site_name else ""}</li>'
             if _linkable(s.url) else f'<li value="{int(s.index)}">{escape(printable(s.title))} (no usable link)</li>'
             for s in result.search_results]
    return f'<div class="qwen-sources"><b>Sources</b><ol>{"".join(items)}</ol></div>' if items else ""


def source_links(result: Any) -> dict[int, str]:
    """Source number -> URL, for the answer's [n] markers (http(s) only)."""
    return {int(s.index): s.url for s in result.search_results if _linkable(s.url)}


def answer_html(result: Any, image_hosts: Collection[str] = ()) -> str:
    """The answer, tool calls and sources (without reasoning or footer; generated images and speech are outputs
    of their own, views/media.py)."""
    if logprobs := result.logprobs:  # the answer token by token, shaded by probability
        answer = fragment(logprobs_html(logprobs))
    elif (ocr := result.ocr) is not None:  # an OCR task's tables, fields or formulas (parsed once)
        answer = fragment(ocr_html(ocr, image_hosts))
    elif result.text:
        answer = fragment(markdown_html(result.text, image_hosts, source_links(result)))
    else:
        answer = ""
    parts = [tool_calls_html(result), answer, _sources(result)]
    return "".join(parts)


def result_html(result: Any, header: str = "", image_hosts: Collection[str] = ()) -> str:
    """The finished result: input thumbnails (`header`, ours), reasoning beside the answer, error and footer."""
    answer = answer_html(result, image_hosts)
    if result.reasoning:
        reasoning = fragment(markdown_html(result.reasoning, image_hosts))
        body = columns(reasoning, answer or "<em>(no answer)</em>")
    else:
        body = answer
    if result.error:
        body += error_box(result)
    body += footer_html(result)
    # Our root keeps typesetters off everything but the math spans (a source title or a file name can hold "$").
    return f'<div class="qwen-result {ROOT_CLASS}">{header}{_layout_cleaner().clean(body)}</div>'


def media_lines(result: Any) -> list[str]:
    """Where a text-only view says the generated images and the speech are kept."""
    lines = [f"[image {n}: result.images[{n - 1}]]" for n in range(1, len(result.image_urls) + 1)]
    if result.audio is not None:
        lines.append(f"[speech: {result.audio.seconds:.1f} s, result.audio]")
    return lines


def source_lines(result: Any) -> list[str]:
    """The numbered sources a text-only view lists, which the answer's [n] point to."""
    return [f"[{s.index}] {s.title} {s.url}" for s in result.search_results]


def result_text(result: Any) -> str:
    """The finished result as plain text (what terminals and text-only viewers show)."""
    parts: list[str] = []
    if result.reasoning:
        parts.append("Reasoning:\n" + "\n".join("  " + line for line in result.reasoning.splitlines()))
    parts.extend(tool_calls_text(result))
    if result.text:
        parts.append(result.text)
    parts.extend(media_lines(result))
    parts.extend(source_lines(result))
    if result.error:
        parts.append(f"Error: {result.error.summary()}")
    parts.append(f"-- {footer(result)}")
    return printable("\n\n".join(parts))


def final_bundle(result: Any, header: str = "", image_hosts: Collection[str] = ()) -> dict[str, str]:
    """The finished result as a raw bundle with the same keys every time: HTML, the same as Markdown, plain text."""
    page = one_block(result_html(result, header, image_hosts))
    return {"text/html": page, "text/markdown": page, "text/plain": result_text(result)}
