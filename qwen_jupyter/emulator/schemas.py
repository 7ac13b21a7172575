"""Values that satisfy a JSON Schema, derived from the prompt: tool-call arguments, and JSON-mode answers when the
messages carry a schema (as map(schema=...) puts one in the system message)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def instance(schema: dict[str, Any], prompt: str, vary: bool = False, root: dict[str, Any] | None = None) -> Any:
    """A value of the schema's type; with `vary`, enum choices differ from prompt to prompt (deterministically)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = (root.get("$defs") or root.get("definitions") or {}).get(name, {})
    for combined in ("anyOf", "oneOf", "allOf"):
        if schema.get(combined):
            options = [s for s in schema[combined] if s.get("type") != "null"] or schema[combined]
            return instance(options[0], prompt, vary, root)
    words = [w.strip(".,?!\"'") for w in prompt.split()]
    if schema.get("enum"):
        choices = schema["enum"]
        pick = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % len(choices) if vary else 0
        return choices[pick]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1)) if kind == "integer" else float(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return True
    if kind == "array":
        return [instance(schema["items"], prompt, vary, root)] if vary and schema.get("items") else []
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: instance(spec, prompt, vary, root) for name, spec in properties.items()}
    return words[-1] if words and words[-1] else "text"


def schema_in(texts: list[str]) -> dict[str, Any] | None:
    """The first JSON Schema of an object (a JSON object with "properties") written in any of the texts."""
    decoder = json.JSONDecoder()
    for text in texts:
        start = text.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(text, start)
            except ValueError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("properties"), dict):
                return value
            start = text.find("{", start + 1)
    return None
