"""{name} and {expr} in a prompt: values from the user's namespace; tables as text, pictures as image inputs."""

from __future__ import annotations

import ast
import re
from typing import Any

from .errors import QwenError
from .media import is_image_object


def _is_table(value: Any) -> bool:
    module = type(value).__module__
    return (module == "pandas" or module.startswith("pandas.")) and hasattr(value, "to_csv")


def table_text(value: Any, max_rows: int, max_cols: int = 20) -> str:
    """A DataFrame or Series as a Markdown table, truncated with a note that says so."""
    frame = value.to_frame() if hasattr(value, "to_frame") and not hasattr(value, "columns") else value
    rows, cols = frame.shape
    shown = frame.iloc[:max_rows, :max_cols]

    def cell(item: Any) -> str:
        return str(item).replace("|", "\\|").replace("\n", " ")

    index_name = frame.index.name or ""
    header = "| " + " | ".join([cell(index_name)] + [cell(c) for c in shown.columns]) + " |"
    rule = "|" + "---|" * (len(shown.columns) + 1)
    lines = [header, rule]
    for index, row in zip(shown.index, shown.itertuples(index=False), strict=True):
        lines.append("| " + " | ".join([cell(index)] + [cell(v) for v in row]) + " |")
    notes = []
    if rows > max_rows:
        notes.append(f"showing {max_rows} of {rows} rows")
    if cols > max_cols:
        notes.append(f"{max_cols} of {cols} columns")
    if notes:
        lines.append(f"\n({', '.join(notes)})")
    return "\n".join(lines)


RULE = """\
{name} and {expression} are filled in from the notebook when the braces hold a Python expression that uses a
variable: {df}, {df.shape[0]}, {len(rows)}, {price:.2f}, {word!r}. Everything else is sent as typed: JSON and dict
literals ({"label": "pos"}, {'a': 1}), braces without a variable ({1, 2}, {"x"}), prose ({the user}), and all of
Markdown code (`{x}`, ```fences```). {{ and }} write a single brace. An undefined variable is an error that says
so; --raw (or QwenMagics.interpolate = False) sends the whole prompt as typed.
"""
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TICKS = re.compile(r"`+")


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where the Markdown code is (fenced blocks and inline code spans), as sorted (start, end) offsets."""
    fences: list[tuple[int, int]] = []
    fence: str | None = None
    fence_start = offset = 0
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is None and match:
            fence, fence_start = match.group(1), offset
        elif fence is not None and match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and not line.strip().strip(fence[0]):
            fences.append((fence_start, offset + len(line)))
            fence = None
        offset += len(line)
    if fence is not None:  # an unclosed fence runs to the end, as Markdown renders it
        fences.append((fence_start, len(text)))
    spans, prose_start = [], 0
    for start, end in [*fences, (len(text), len(text))]:
        spans += _inline_code(text, prose_start, start)
        prose_start = end
    return sorted(spans + fences)


def _inline_code(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Code spans in text[start:end]: a run of N backticks up to the next run of exactly N."""
    runs = list(_TICKS.finditer(text, start, end))
    spans, i = [], 0
    while i < len(runs):
        width = len(runs[i].group())
        closing = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == width), None)
        if closing is None:
            i += 1
            continue
        spans.append((runs[i].start(), runs[closing].end()))
        i = closing + 1
    return spans


def _expression(field: str) -> tuple[ast.Expression, str, str, str] | None:
    """(parsed, source, conversion, spec) when the braces hold an expression that uses a variable."""
    candidates = [(field, "", "")]
    head, colon, spec = field.rpartition(":")
    if colon:
        candidates.append((head, "", spec))
    for source, _, spec in list(candidates):
        if len(source) > 2 and source[-2] == "!" and source[-1] in "rsa":
            candidates.append((source[:-2], source[-1], spec))
    for source, conversion, spec in candidates:
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError:
            continue
        if any(isinstance(node, ast.Name) for node in ast.walk(tree)):
            return tree, source.strip(), conversion, spec
        return None  # a valid expression without a variable: a literal, sent as typed
    return None


def evaluate(expression: str, namespace: dict[str, Any], option: str | None = None) -> Any:
    """The value of one {…} field (of the prompt, or of an option's value), or a clear error naming it."""
    where = f"in {option}" if option else "in the prompt"
    try:
        return eval(expression, namespace)  # noqa: S307 - the person's own notebook namespace, as f-strings do
    except NameError as exc:
        name = getattr(exc, "name", None) or expression
        fix = "" if option else (f"; define it, write {{{{{expression}}}}} for literal braces, or add --raw to send "
                                 "the prompt as typed")
        raise QwenError(f"{name!r} is not defined (used as {{{expression}}} {where}){fix or '.'}",
                        code="UndefinedName", hint="") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the person's expression is reported, not raised
        raise QwenError(f"{{{expression}}} {where} failed: {type(exc).__name__}: {exc}", code="BadExpression",
                        hint="") from None


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    for position in range(start, len(text)):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return position
    return None


def interpolate(template: str, namespace: dict[str, Any], max_rows: int = 20) -> tuple[str, list[Any]]:
    """The prompt with {…} fields filled in (see RULE), and the image objects found (replaced by "[image N]")."""
    out: list[str] = []
    images: list[Any] = []
    position = 0
    for code_start, code_end in [*code_spans(template), (len(template), len(template))]:
        out.append(_fill(template[position:code_start], namespace, max_rows, images))
        out.append(template[code_start:code_end])  # Markdown code is sent exactly as typed
        position = max(position, code_end)
    return "".join(out), images


def _fill(text: str, namespace: dict[str, Any], max_rows: int, images: list[Any]) -> str:
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if text.startswith(("{{", "}}"), position):
            out.append(char)
            position += 2
            continue
        end = _matching_brace(text, position) if char == "{" else None
        parsed = _expression(text[position + 1:end]) if end is not None else None
        if parsed is None:
            out.append(char)
            position += 1
            continue
        _, source, conversion, spec = parsed
        out.append(_shown(evaluate(source, namespace), conversion, spec, max_rows, images))
        position = end + 1
    return "".join(out)


def _shown(value: Any, conversion: str, spec: str, max_rows: int, images: list[Any]) -> str:
    if is_image_object(value):
        images.append(value)
        return f"[image {len(images)}]"
    if _is_table(value) and not spec and not conversion:
        return "\n" + table_text(value, max_rows) + "\n"
    if conversion:
        value = {"r": repr, "s": str, "a": ascii}[conversion](value)
    return format(value, spec)
