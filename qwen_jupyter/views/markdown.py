"""Markdown for model text and results: safe to render trusted, readable when saved, math in Jupyter's form.

Live cell output is trusted, so JupyterLab renders HTML inside Markdown without sanitizing it. Model text is
therefore escaped (outside code and math) and unsafe link schemes are disabled; only our own wrapper HTML
(columns, details, the error box) is real HTML.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..result import QwenResult

# Code (fenced or inline) and math ($$…$$, \[…\], \(…\), $…$) are kept apart from the text that gets escaped.
_PROTECTED = re.compile(
    r"(?P<code>```.*?(?:```|\Z)|`[^`\n]+`)"
    r"|(?P<display>\$\$.+?\$\$|\\\[.+?\\\])"
    r"|(?P<inline>\\\(.+?\\\)|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<=\S)\$(?!\w))",
    re.DOTALL,
)
_UNSAFE_LINK = re.compile(r"(\]\(\s*<?\s*)(?:javascript|vbscript|data|file)\s*:", re.IGNORECASE)
_UNSAFE_REFERENCE = re.compile(r"^(\s{0,3}\[[^\]\n]+\]:\s*<?\s*)(?:javascript|vbscript|data|file)\s*:",
                               re.IGNORECASE | re.MULTILINE)


def _math(body: str) -> str:
    # Inside math, < and > become LaTeX commands, so no renderer can read them as HTML.
    return body.strip().replace("<", r"\lt ").replace(">", r"\gt ")


def _text(part: str) -> str:
    part = html.escape(part, quote=False)
    part = _UNSAFE_LINK.sub(r"\1#blocked-unsafe-link:", part)
    return _UNSAFE_REFERENCE.sub(r"\1#blocked-unsafe-link:", part)


def safe_markdown(text: str) -> str:
    """Model text as Markdown that cannot inject HTML or script links; Qwen's \\( \\) and \\[ \\] become $ and $$."""
    out: list[str] = []
    position = 0
    for match in _PROTECTED.finditer(text):
        out.append(_text(text[position:match.start()]))
        token = match.group(0)
        if match.group("code"):
            out.append(token)
        elif match.group("display"):
            inner = token[2:-2]
            out.append(f"$${_math(inner)}$$")
        else:
            inner = token[2:-2] if token.startswith("\\(") else token[1:-1]
            out.append(f"${_math(inner)}$")
        position = match.end()
    out.append(_text(text[position:]))
    return "".join(out)


REASONING_STYLE = "border-left:3px solid #b4b4c8;padding-left:.8em;color:#5a5a6e;font-size:.92em"


def reasoning_block(markdown: str, title: str | None = "Reasoning") -> str:
    """Reasoning in a muted, bordered block (our HTML around escaped model Markdown)."""
    heading = f"<b>{title}</b>\n\n" if title else ""
    return f'<div class="qwen-reasoning" style="{REASONING_STYLE}">\n\n{heading}{markdown}\n\n</div>'


def columns(reasoning_md: str, answer_md: str) -> str:
    """Reasoning (collapsible) beside the answer; the columns wrap to one when the output is narrow."""
    return (
        '<div class="qwen-columns" style="display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start">\n'
        f'<details class="qwen-reasoning" open style="flex:1 1 16em;min-width:0;{REASONING_STYLE}">\n'
        "<summary><b>Reasoning</b></summary>\n\n"
        f"{reasoning_md}\n\n"
        "</details>\n"
        '<div class="qwen-answer" style="flex:2 1 22em;min-width:0">\n\n'
        f"{answer_md}\n\n"
        "</div>\n</div>"
    )


def error_box(result: QwenResult) -> str:
    """The error as one short box: what happened, the code, the request id and a hint."""
    error = result.error
    assert error is not None
    interrupted = error.code in ("Interrupted", "IncompleteStream")
    colour, background = ("#b07d00", "#fff9e6") if interrupted else ("#c62828", "#fff4f4")
    head = "⏹ Interrupted" if error.code == "Interrupted" else "⚠ " + " ".join(
        str(p) for p in (error.status, error.code) if p)
    lines = [f"<b>{html.escape(head)}</b> — {html.escape(error.message)}"]
    if error.hint:
        lines.append(html.escape(error.hint))
    request_id = error.request_id or result.request_id
    if request_id:
        lines.append(f"<small>request id {html.escape(request_id)}</small>")
    if result.text and error.code != "Interrupted":
        lines.append("<small>The partial answer above is kept.</small>")
    return (f'<div class="qwen-error" style="border:1px solid {colour};background:{background};'
            f'padding:.45em .8em;border-radius:4px;margin:.4em 0">' + "<br>".join(lines) + "</div>")


def footer(result: QwenResult) -> str:
    """One muted line: model, tokens, timings, request id, and a badge when the emulator answered."""
    usage = result.usage
    bits = [result.model or "?"]
    if usage.input_tokens is not None:
        tokens = f"{usage.input_tokens} in · {usage.output_tokens} out"
        if usage.reasoning_tokens:
            tokens += f" ({usage.reasoning_tokens} reasoning)"
        if usage.cached_tokens:
            tokens += f" · {usage.cached_tokens} cached"
        bits.append(tokens)
    if result.time_to_first_token is not None:
        bits.append(f"first token {result.time_to_first_token:.2f} s")
    if result.elapsed is not None:
        bits.append(f"total {result.elapsed:.2f} s")
    if result.tokens_per_second:
        bits.append(f"{result.tokens_per_second:.0f} tok/s")
    if result.request_id:
        bits.append(f"id {result.request_id}")
    if result.emulated:
        bits.append("emulated")
    return " · ".join(bits)


def footer_html(result: QwenResult) -> str:
    badge = ' <span style="background:#eef;border:1px solid #99c;border-radius:3px;padding:0 .3em">emulated</span>'
    text = html.escape(footer(result).removesuffix(" · emulated"))
    return f'<div class="qwen-footer" style="color:#888;font-size:.8em">{text}{badge if result.emulated else ""}</div>'


def answer_markdown(result: QwenResult) -> str:
    """The answer, tool calls, generated images and sources (without reasoning or footer)."""
    blocks: list[str] = []
    if result.text:
        blocks.append(safe_markdown(result.text))
    for call in result.tool_calls:
        blocks.append(f"**Tool call** `{call.name}`\n\n```json\n{call.arguments}\n```")
    for index, url in enumerate(result.images, 1):
        blocks.append(f"![generated image {index}]({html.escape(url, quote=True)})")
    if result.search_results:
        sources = "\n".join(f"{s.index}. [{safe_markdown(s.title)}]({html.escape(s.url, quote=True)})"
                            for s in result.search_results if s.url.startswith(("http://", "https://")))
        blocks.append("**Sources**\n\n" + sources)
    return "\n\n".join(blocks)


def result_markdown(result: QwenResult, header: str = "") -> str:
    """The finished result: input thumbnails, reasoning beside the answer, then error and footer."""
    parts = [header] if header else []
    answer = answer_markdown(result)
    if result.reasoning:
        parts.append(columns(safe_markdown(result.reasoning), answer or "*(no answer)*"))
    elif answer:
        parts.append(answer)
    if result.error:
        parts.append(error_box(result))
    parts.append(footer_html(result))
    return "\n\n".join(parts)


def result_text(result: QwenResult) -> str:
    """The finished result as plain text (what terminals and text-only viewers show)."""
    parts: list[str] = []
    if result.reasoning:
        parts.append("Reasoning:\n" + "\n".join("  " + line for line in result.reasoning.splitlines()))
    if result.text:
        parts.append(result.text)
    parts.extend(f"Tool call {c.name}({c.arguments})" for c in result.tool_calls)
    parts.extend(f"Image: {url}" for url in result.images)
    parts.extend(f"[{s.index}] {s.title} {s.url}" for s in result.search_results)
    if result.error:
        parts.append(f"Error: {result.error.summary()}")
    parts.append(f"-- {footer(result)}")
    return "\n\n".join(parts)
