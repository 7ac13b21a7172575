"""map()'s inputs: a DataFrame, a list of dicts or a list of strings become rows; the template is filled per row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import QwenError
from ..interpolate import interpolate

TEXT_COLUMN = "text"  # the column a list of strings (or an unnamed Series) becomes


def frame_of(data: Any) -> Any:
    """The input as a DataFrame (a copy is never needed: map() builds a new one); bad input is a clear error."""
    try:
        import pandas as pd
    except ImportError:
        raise QwenError("map() needs pandas: pip install 'qwen-jupyter[data]'.", code="InvalidInput",
                        hint="") from None

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if data.name is not None else TEXT_COLUMN)
    if isinstance(data, (list, tuple)):
        if all(isinstance(item, str) for item in data):
            return pd.DataFrame({TEXT_COLUMN: list(data)})
        if all(isinstance(item, Mapping) for item in data):
            return pd.DataFrame.from_records([dict(item) for item in data])
    raise QwenError(f"map() takes a DataFrame, a list of dicts or a list of strings, not {type(data).__name__}.",
                    code="InvalidInput", hint="")


def records(frame: Any) -> list[dict[str, Any]]:
    """The rows of a DataFrame as dicts, column name to value."""
    return frame.to_dict("records")


def prompts(template: str, rows: list[dict[str, Any]], namespace: Mapping[str, Any] | None = None,
            raw: bool = False) -> list[str]:
    """The prompt of every row: {column} and {expression} fields filled from the row (then the namespace), by the
    same rule as %%qwen (interpolate.RULE); `row` names the whole row, for columns that are not identifiers."""
    if raw:
        return [template] * len(rows)
    scope: dict[str, Any] = dict(namespace or {})
    out = []
    for row in rows:
        scope.update(row)
        scope["row"] = row
        text, images = interpolate(template, scope)
        if images:
            raise QwenError("map() sends text only; a {field} of the template holds an image.", code="InvalidInput",
                            hint="")
        out.append(text)
    if rows and not _uses_row(template, scope, rows[0], out[0]):
        raise QwenError("The template fills in no column, so every row would ask the same thing; name a column "
                        "in braces, e.g. {text}.", code="BadTemplate", hint="")
    return out


def _uses_row(template: str, scope: dict[str, Any], row: dict[str, Any], prompt: str) -> bool:
    """Whether the template depends on the row: with every value of the row replaced, the prompt changes."""
    stand_ins = {name: f"\x00{name}\x00" for name in row}
    try:
        other, _ = interpolate(template, {**scope, **stand_ins, "row": stand_ins})
    except QwenError:
        return True  # an expression that cannot take a stand-in (a format spec, arithmetic) reads the row
    return other != prompt
