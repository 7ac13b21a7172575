"""Structured answers: a pydantic model, a dataclass or a JSON schema becomes the instruction the model follows
(JSON mode) and the validator of each row's answer."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from ..core.errors import QwenError

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


class Schema:
    """What every row's answer must be: `json_schema` for the model, `parse()` for the answer, one column a field."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        if isinstance(spec, dict):
            self.json_schema = spec
            self._adapter = None
        elif isinstance(spec, type) and (dataclasses.is_dataclass(spec) or hasattr(spec, "model_json_schema")):
            from pydantic import TypeAdapter

            self._adapter = TypeAdapter(spec)
            self.json_schema = self._adapter.json_schema()
        else:
            raise QwenError("schema= takes a pydantic model, a dataclass or a JSON schema (a dict).",
                            code="InvalidInput", hint="")
        self.fields: list[str] = list(self.json_schema.get("properties") or {})
        if self.json_schema.get("type", "object") != "object" or not self.fields:
            raise QwenError("schema= must describe an object with properties (each becomes a column).",
                            code="InvalidInput", hint="")

    @property
    def instruction(self) -> str:
        """The system message that asks for the answer as JSON in this shape."""
        return ("Answer with a single JSON object and nothing else (no prose, no code fence). It must match this "
                "JSON Schema:\n" + json.dumps(self.json_schema, ensure_ascii=False))

    def parse(self, text: str) -> dict[str, Any]:
        """The answer's fields, validated; a ValueError says briefly what is wrong."""
        fenced = _FENCE.match(text or "")
        text = fenced.group(1) if fenced else (text or "")
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError("the answer is not JSON") from None
        if self._adapter is None:
            return self._checked(value)
        from pydantic import ValidationError

        try:
            parsed = self._adapter.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
            raise ValueError(f"{where}: {first.get('msg')}") from None
        if dataclasses.is_dataclass(parsed):
            return {f.name: getattr(parsed, f.name) for f in dataclasses.fields(parsed)}
        return parsed.model_dump()

    def _checked(self, value: Any) -> dict[str, Any]:
        import jsonschema

        try:
            jsonschema.validate(value, self.json_schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "answer"
            raise ValueError(f"{where}: {exc.message}") from None
        return {name: value.get(name) for name in self.fields}
