"""{name} and {expr} in a prompt: values from the user's namespace; tables as text, pictures as image inputs."""

from __future__ import annotations

import string
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


def evaluate(expression: str, namespace: dict[str, Any]) -> Any:
    """The value of one {…} field, or a clear error naming it."""
    try:
        return eval(expression, namespace)  # noqa: S307 - the person's own notebook namespace, as f-strings do
    except NameError as exc:
        name = getattr(exc, "name", None) or expression
        raise QwenError(
            f"{name!r} is not defined (used as {{{expression}}} in the prompt); define it, or write "
            f"{{{{{expression}}}}} for literal braces.",
            code="UndefinedName",
            hint="",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the person's expression is reported, not raised
        raise QwenError(f"{{{expression}}} in the prompt failed: {type(exc).__name__}: {exc}", code="BadExpression",
                        hint="") from None


def interpolate(template: str, namespace: dict[str, Any], max_rows: int = 20) -> tuple[str, list[Any]]:
    """The prompt with {…} fields filled in, and the image objects found (replaced by "[image N]")."""
    out: list[str] = []
    images: list[Any] = []
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise QwenError(f"The prompt has unbalanced braces ({exc}); write {{{{ and }}}} for literal braces.",
                        code="BadTemplate", hint="") from None
    for literal, expression, spec, conversion in fields:
        out.append(literal)
        if expression is None:
            continue
        if not expression.strip():
            raise QwenError("The prompt has an empty {}; write {{}} for literal braces.", code="BadTemplate",
                            hint="")
        value = evaluate(expression, namespace)
        if is_image_object(value):
            images.append(value)
            out.append(f"[image {len(images)}]")
        elif _is_table(value) and not spec and not conversion:
            out.append("\n" + table_text(value, max_rows) + "\n")
        else:
            if conversion:
                value = {"r": repr, "s": str, "a": ascii}[conversion](value)
            out.append(format(value, spec or ""))
    return "".join(out), images
