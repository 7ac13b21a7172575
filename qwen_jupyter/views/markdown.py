"""The static Markdown form of a result: what saved notebooks, nbviewer and GitHub show."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..result import QwenResult

_CODE = re.compile(r"(```.*?(?:```|$)|`[^`\n]*`)", re.DOTALL)
_INLINE_MATH = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)


def _outside_code(text: str, change) -> str:
    parts = _CODE.split(text)
    return "".join(part if i % 2 else change(part) for i, part in enumerate(parts))


def safe_markdown(text: str) -> str:
    """Model text as Markdown that cannot run HTML, with Qwen's \\( \\) and \\[ \\] math as $ and $$."""

    def change(part: str) -> str:
        part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        part = _DISPLAY_MATH.sub(lambda m: f"$${m.group(1).strip()}$$", part)
        return _INLINE_MATH.sub(lambda m: f"${m.group(1).strip()}$", part)

    return _outside_code(text, change)


def quote_block(text: str) -> str:
    """Text as a Markdown blockquote."""
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def footer(result: QwenResult) -> str:
    """One line: model, tokens, timings, request id, and whether the emulator answered."""
    usage = result.usage
    bits = [f"`{result.model}`"]
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
        bits.append(f"{result.elapsed:.2f} s")
    if result.tokens_per_second:
        bits.append(f"{result.tokens_per_second:.0f} tok/s")
    if result.request_id:
        bits.append(f"id {result.request_id}")
    if result.emulated:
        bits.append("**emulated**")
    return " · ".join(bits)


def result_markdown(result: QwenResult) -> str:
    """The whole answer as Markdown: reasoning (quoted), answer, tool calls, images, sources, error, footer."""
    blocks: list[str] = []
    if result.reasoning:
        blocks.append("**Reasoning**\n\n" + quote_block(safe_markdown(result.reasoning)))
    if result.text:
        blocks.append(safe_markdown(result.text))
    for call in result.tool_calls:
        blocks.append(f"**Tool call** `{call.name}`\n\n```json\n{call.arguments}\n```")
    for index, url in enumerate(result.images, 1):
        blocks.append(f"![generated image {index}]({url})")
    if result.search_results:
        sources = "\n".join(f"{s.index}. [{safe_markdown(s.title)}]({s.url})" for s in result.search_results)
        blocks.append("**Sources**\n\n" + sources)
    if result.error:
        marker = "⏹ Interrupted" if result.interrupted else "⚠ Error"
        blocks.append(f"**{marker}:** {safe_markdown(result.error.summary())}")
    blocks.append(f"<sub>{footer(result)}</sub>")
    return "\n\n".join(blocks)
