"""What the panel shows, made in the kernel: a turn rendered once (sanitized HTML), the static transcript that
nbconvert, nbviewer and a kernel-less JupyterLab show instead of the widget, the front end's ES module, and KaTeX
for its math (vendored, sent on first use: no network)."""

from __future__ import annotations

import base64
import functools
import pathlib
import re
from typing import Any

from ..state.conversation import Turn
from ..views.cell import thumbnails
from ..views.html import escape, fragment, markdown_html, one_block
from ..views.tools import turn_tools_html

KATEX = pathlib.Path(__file__).parent / "vendor" / "katex"
FRONT_END = ("dom", "math", "turns", "controls", "composer", "transcript", "placement", "panel")


def front_end() -> str:
    """The panel's ES module: its parts (js/*.js, each one job) joined in order; panel.js exports render."""
    folder = pathlib.Path(__file__).parent / "js"
    return "\n".join((folder / f"{part}.js").read_text(encoding="utf-8") for part in FRONT_END)


def rendered_turn(turn: Turn) -> dict[str, Any]:
    """A finished turn of the chat as the front end draws it (every piece of model text sanitized)."""
    return {"id": turn.key, "user": turn.user.text, "images": thumbnails(turn.user.media),
            "reasoning_html": fragment(markdown_html(turn.assistant.reasoning)) if turn.assistant.reasoning else "",
            "answer_html": fragment(markdown_html(turn.assistant.text)), "answer_md": turn.assistant.text,
            "tools_html": fragment(turn_tools_html(turn)),
            "footer": turn.model, "model": turn.model, "status": turn.status}


def transcript_html(chat: str, turns: list[dict[str, Any]]) -> str:
    """The conversation as sanitized HTML on one line (the static fallback of the panel's output), all of it
    inside the root that keeps the page's typesetter to our math spans (an error or a document's name can
    hold `$\\href{…}{…}$`)."""
    parts = [f"<p><b>Qwen chat <code>{escape(chat)}</code></b></p>"]
    for turn in turns:  # already rendered, sanitized: nothing is rendered again per update
        attached = "".join(f' <em class="qwen-document">[{escape(name)}]</em>'
                           for name in turn.get("documents", ()))
        parts.append(f"<p><b>You:</b> {escape(turn.get('user', ''))}{attached}</p>")
        if turn.get("reasoning_html"):
            parts.append(f"<blockquote>{turn['reasoning_html']}</blockquote>")
        parts.append(turn.get("tools_html", ""))
        parts.append(f"<p><b>{escape(turn.get('model', 'Qwen'))}:</b></p>{turn.get('answer_html', '')}")
        if turn.get("error"):
            parts.append(f'<p class="qwen-turn-error"><em>{escape(turn["error"])}</em></p>')
    return one_block(fragment("".join(parts), extra_class="qwen-transcript"))


@functools.cache
def katex_assets() -> dict[str, str]:
    """KaTeX for the panel's math: the script as an ES module, its CSS with the fonts inlined (nothing to fetch)."""
    script = (KATEX / "katex.min.js").read_text(encoding="utf-8")

    def font(match: re.Match[str]) -> str:
        data = base64.b64encode((KATEX / "fonts" / f"{match[1]}.woff2").read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css = re.sub(r"src:url\(fonts/([\w-]+)\.woff2\)[^;}]*", font,
                 (KATEX / "katex.min.css").read_text(encoding="utf-8"))
    # The UMD build takes its CommonJS branch in this module, which exports what the build put there.
    return {"script": f"var module={{exports:{{}}}},exports=module.exports;\n{script}\nexport default module.exports;\n",
            "css": css}
