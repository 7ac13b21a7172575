"""What the person typed, as a frozen MagicArgs. Pure functions."""

from __future__ import annotations

import keyword
import re
from argparse import Namespace

from IPython.core.error import UsageError

from ..core.options import top_or_word
from ..core.speech import voice_or_word
from .options import MagicArgs


def magic_args(namespace: Namespace, cell: str | None, line: str = "") -> MagicArgs:
    """MagicArgs from the parsed line and the cell body (the line's words, as typed, are the prompt for %qwen)."""
    values = {k: _unquote(v) for k, v in vars(namespace).items()
              if k in MagicArgs.__dataclass_fields__ and k != "prompt"}
    for name in ("images", "videos", "audios", "files"):
        values[name] = tuple(_unquote(v) for v in values.get(name) or ())
    values["speak"], spoken = voice_or_word(values.get("speak"), "--speak=" in line)
    values["logprobs"], counted = top_or_word(values.get("logprobs"))
    # The prompt's first word, when --speak took it for a voice or --logprobs for K, goes back to the prompt.
    line_prompt = " ".join(w for w in (spoken, counted, _as_typed(line, namespace.prompt or [])) if w)
    prompt = cell if cell is not None else line_prompt
    if cell is not None and line_prompt:
        prompt = line_prompt + "\n" + cell
    out = values.get("out")
    if out is not None and not (out.isidentifier() and not keyword.iskeyword(out)):
        raise UsageError(f"-o/--out takes a variable name (letters, digits and _), not {out!r}.")
    return MagicArgs(prompt=prompt.strip("\n"), **{k: v for k, v in values.items() if v is not None})


def split_line(line: str) -> list[str]:
    """The line's words as IPython splits them (quotes kept), except that a {…} expression is one word even with
    spaces inside (`--tools {[f, g]}`), as typed."""
    return [line[start:end] for start, end in _spans(line)]


def _spans(line: str) -> list[tuple[int, int]]:
    from IPython.utils.process import arg_split

    spans: list[tuple[int, int]] = []
    at, depth = 0, 0
    for token in arg_split(line, strict=True):  # IPython's tokens are pieces of the line, quotes kept
        start = line.index(token, at)
        at = start + len(token)
        if depth > 0:
            spans[-1] = (spans[-1][0], at)  # still inside the braces the word before opened
        else:
            spans.append((start, at))
        opened = line[spans[-1][0]:at]
        depth = opened.count("{") - opened.count("}") if opened.startswith("{") else 0
    return spans


def _as_typed(line: str, words: list[str]) -> str:
    """The prompt words as the line has them (spacing kept: `{"label": "pos"}` is not split at its quotes), when
    they end the line after the options; else the words joined by spaces."""
    spans = _spans(line) if words else []
    if not words or [line[a:b] for a, b in spans[len(spans) - len(words):]] != words:
        return " ".join(words)
    return line[spans[len(spans) - len(words)][0]:].strip()


def _unquote(value: object) -> object:
    """IPython splits magic lines keeping quotes: -s 'Be brief.' arrives as "'Be brief.'"."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


_VARIABLE = re.compile(r"^\{(.+)\}$", re.DOTALL)


def braced_expression(value: str) -> str | None:
    """'df.plot()' for '{df.plot()}': option values in braces come from the namespace."""
    match = _VARIABLE.match(value.strip())
    return match.group(1) if match else None
