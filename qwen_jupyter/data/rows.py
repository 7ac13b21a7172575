"""map()'s inputs: a DataFrame, a list of dicts or a list of strings become rows; the template is filled per row,
a chunk of rows at a time, from the columns it reads. A row without a value in one of those is not sent."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..core.errors import QwenError
from ..core.interpolate import interpolate

TEXT_COLUMN = "text"  # the column a list of strings (or an unnamed Series) becomes
CHUNK = 2000  # rows turned into dicts at a time: enough to amortise pandas, small against any table


def frame_of(data: Any, verb: str = "map()") -> Any:
    """The input as a DataFrame (a copy is never needed: `verb` builds a new one); bad input is a clear error."""
    try:
        import pandas as pd
    except ImportError:
        raise QwenError(f"{verb} needs pandas: pip install 'qwen-jupyter[data]'.", code="InvalidInput",
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
    raise QwenError(f"{verb} takes a DataFrame, a list of dicts or a list of strings, not {type(data).__name__}.",
                    code="InvalidInput", hint="")


_BRACED = re.compile(r"\{([^{}]+)\}")


def _check_names(template: str, frame: Any) -> None:
    """A column whose name is not a Python name ({review title}, {0}) cannot fill as a field, so its braces would
    be sent as typed: refused, saying how to name it."""
    columns = {str(name): name for name in frame.columns}
    for match in _BRACED.finditer(template):
        name = match.group(1).strip()
        if name in columns and not name.isidentifier():
            raise QwenError(f"{{{name}}} is a column whose name is not a Python name, so it would be sent as typed; "
                            f"write {{row[{columns[name]!r}]}} for its value.", code="BadTemplate", hint="")


class _Reads(dict):
    """A dict that notes which of its keys were read (whole: all of them), to learn what a template uses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[Any] = set()
        self.whole = False

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __repr__(self) -> str:  # {row} (str and format come here too)
        self.whole = True
        return super().__repr__()

    def __iter__(self) -> Iterator[Any]:
        self.whole = True
        return super().__iter__()

    def values(self) -> Any:
        self.whole = True
        return super().values()

    def items(self) -> Any:
        self.whole = True
        return super().items()


class Template:
    """A prompt template over a frame: the columns it reads (`used`) and each row's prompt. Fields fill by the
    same rule as %%qwen (interpolate.RULE), from the row, then the namespace; `row` names the whole row, for
    columns that are not identifiers. Float columns with gaps that hold whole numbers (pandas' way of storing an
    int column with a gap) print as the ints they were."""

    def __init__(self, template: str, frame: Any, namespace: Mapping[str, Any] | None = None,
                 raw: bool = False) -> None:
        self.text, self.frame, self.raw = template, frame, raw
        self.namespace: dict[str, Any] = dict(namespace or {})
        if not raw:
            _check_names(template, frame)
        self.used: list[Any] = [] if raw or not len(frame) else self._used()
        if not raw and len(frame) and not self.used:
            raise QwenError("The template fills in no column, so every row would ask the same thing; name a "
                            "column in braces, e.g. {text}.", code="BadTemplate", hint="")
        self.ints = {name: frame[name].convert_dtypes().array for name in self.used
                     if frame[name].dtype.kind == "f" and frame[name].hasnans}

    def _used(self) -> list[Any]:
        """The columns the template reads, found by filling it for the first row."""
        (first,) = self.frame.iloc[:1].to_dict("records")
        row = _Reads(first)
        scope = _Reads({**self.namespace, **first, "row": row})
        try:
            interpolate(self.text, scope)
        except QwenError:
            # A missing value may break a field ({n:.1f} of NA) where a full row would not; a real mistake in
            # the template fails again when a row is filled.
            if not any(_missing(first[name]) for name in scope.read & set(first)):
                raise
        read = set(first) if row.whole else (scope.read | row.read) & set(first)
        for name in sorted(scope.read - set(first) - {"row"}, key=str):  # filled from the notebook, not the row
            twin = next((c for c in first if isinstance(c, str) and c.casefold() == str(name).casefold()), None)
            if twin is not None:
                raise QwenError(f"{{{name}}} fills from the notebook's variable {name}, the same in every row, but "
                                f"the frame has a column {twin!r}: write {{{twin}}} for the column's value, or rename "
                                "the variable.", code="BadTemplate", hint="")
        return [name for name in self.frame.columns if name in read]

    def missing(self) -> dict[int, str]:
        """Why each row that lacks a value in a column the template reads is not sent, by row position."""
        if not self.used:
            return {}
        gaps = self.frame[self.used].isna().to_numpy()
        return {int(position): "Not sent: no value for " + ", ".join(
                    repr(name) for name, gap in zip(self.used, gaps[position], strict=True) if gap) + "."
                for position in gaps.any(axis=1).nonzero()[0]}

    def prompts(self, positions: Any) -> Iterator[str]:
        """The prompt of each row at these positions, in order."""
        import numpy as np

        for start in range(0, len(positions), CHUNK):
            chunk = np.asarray(positions[start:start + CHUNK])
            if self.raw:
                yield from [self.text] * len(chunk)
                continue
            rows = self.frame.iloc[chunk].to_dict("records")
            for name, values in self.ints.items():
                for row, value in zip(rows, values[chunk], strict=True):
                    row[name] = value
            scope: dict[str, Any] = dict(self.namespace)
            for row in rows:
                scope.update(row)
                scope["row"] = row
                text, images = interpolate(self.text, scope)
                if images:
                    raise QwenError("map() sends text only; a {field} of the template holds an image.",
                                    code="InvalidInput", hint="")
                yield text


def _missing(value: Any) -> bool:
    import pandas as pd

    missing = pd.isna(value)
    return bool(missing) if isinstance(missing, bool) or getattr(missing, "ndim", 1) == 0 else False
