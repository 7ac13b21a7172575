"""Which tools the emulated model calls, and with what: read from the prompt, so an offline agent makes sense.

The prompt is cut into clauses ("the weather in Lisbon and 100 USD in EUR" is two); each clause goes to the tool
it names or describes best (its name's words, its description's, and whether the clause can fill its required
parameters), and the arguments come from that clause: code for a `code` parameter (a fenced block or inline code
the prompt quotes), quoted text, a capitalised name, a number, a currency or other code in capitals, an enum value
the clause says, else its last word. A tool the prompt names outright is always called.
"""

from __future__ import annotations

import re
from typing import Any

from .schemas import instance

_CLAUSES = re.compile(r"\s*(?:;|,?\s+\band\b\s+|,\s+then\s+|\s+then\s+|,\s+(?=[a-z]))\s*", re.IGNORECASE)
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'|“([^”]+)”")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_CAPS = re.compile(r"\b[A-Z]{2,5}\b")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zà-ÿ]+(?:\s+[A-Z][a-zà-ÿ]+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_STOP = {"a", "an", "the", "of", "in", "on", "to", "for", "and", "or", "is", "are", "what", "how", "me", "my", "it",
         "with", "by", "at", "from", "into", "as", "be", "this", "that", "please", "can", "you", "tell", "get", "do"}


def _words(text: str) -> set[str]:
    """Lower-case content words, singular (crudely): 'Weather', 'weathers' and 'weather' are one."""
    return {w.lower().rstrip("s") for w in _WORD.findall(text.replace("_", " ")) if w.lower() not in _STOP}


def code_in(prompt: str) -> str | None:
    """The code a prompt quotes: its first fenced block, else its first inline code."""
    fenced = _FENCE.search(prompt)
    if fenced:
        return fenced.group(1).rstrip("\n")
    inline = _INLINE.search(prompt)
    return inline.group(1) if inline else None


def clauses(prompt: str) -> list[str]:
    """The prompt's clauses, code kept whole (a fence or inline code is never cut)."""
    if _FENCE.search(prompt) or _INLINE.search(prompt):
        return [prompt]
    return [part for part in _CLAUSES.split(prompt) if part and part.strip()]


def _parameters(tool: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    schema = tool.get("parameters") or {}
    return schema.get("properties") or {}, list(schema.get("required") or ())


def _fillable(name: str, spec: dict[str, Any], clause: str) -> bool:
    kind = spec.get("type")
    if name == "code" or "code" in (spec.get("description") or "").lower() and kind == "string":
        return code_in(clause) is not None
    if kind in ("integer", "number"):
        return bool(_NUMBER.search(clause))
    return bool(clause.strip())


def _score(tool: dict[str, Any], clause: str) -> float:
    said = _words(clause)
    name = _words(tool.get("name") or "")
    described = _words(tool.get("description") or "") - name
    properties, required = _parameters(tool)
    score = 3.0 * len(name & said) + 1.0 * len(described & said) + 0.5 * len(_words(" ".join(properties)) & said)
    fillable = all(_fillable(p, properties.get(p) or {}, clause) for p in required)
    numeric = any((properties.get(p) or {}).get("type") in ("integer", "number") for p in required)
    if required and not fillable:
        return score - 2.0
    if fillable and numeric:  # "100 USD in EUR" fits a tool that takes an amount, whatever it is called
        return score + 1.0
    return score + 0.25 if score and required else score


def choose(functions: list[dict[str, Any]], prompt: str) -> list[tuple[dict[str, Any], str]]:
    """The tools to call for this prompt, each with the clause its arguments come from, in the prompt's order."""
    named = sorted((f for f in functions if f.get("name") and f["name"] in prompt), key=lambda f: prompt.index(f["name"]))
    if named:  # called by name ("use get_time and get_weather for Paris"): the whole prompt is their arguments'
        rest = prompt
        for tool in named:
            rest = rest.replace(tool["name"], " ")
        return [(tool, " ".join(rest.split())) for tool in named]
    chosen: list[tuple[dict[str, Any], str]] = []
    for clause in clauses(prompt):
        scored = sorted(((_score(f, clause), i, f) for i, f in enumerate(functions)), key=lambda s: (-s[0], s[1]))
        if scored and scored[0][0] > 0 and all(scored[0][2] is not tool for tool, _ in chosen):
            chosen.append((scored[0][2], clause))
    if chosen:
        return chosen
    fallback = next((f for f in functions if all(_fillable(p, _parameters(f)[0].get(p) or {}, prompt)
                                                 for p in _parameters(f)[1])), None)
    return [(fallback, prompt)] if fallback else []


def arguments(tool: dict[str, Any], clause: str, prompt: str | None = None) -> dict[str, Any]:
    """Arguments for the tool from its clause: each parameter takes what fits it, nothing used twice; an optional
    parameter only when the clause says it (as a model leaves a default alone). A name the clause lacks comes
    from the whole prompt ("the weather and the time in Hangzhou": both are Hangzhou's)."""
    properties, required = _parameters(tool)
    if "required" not in (tool.get("parameters") or {}):
        required = list(properties)  # a schema that says nothing of it: a model fills what it is shown
    found = _Found(clause)
    if not found.names and prompt:
        found.names = _Found(prompt).names
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        value = found.take(tool, name, spec, name in required)
        if value is None:
            value = spec.get("default")  # what the parameter is when left alone
        if value is not None:
            out[name] = value
    return out


class _Found:
    """What a clause offers as argument values, each handed out once."""

    def __init__(self, clause: str) -> None:
        self.clause = clause
        self.numbers = [float(n) if "." in n else int(n) for n in _NUMBER.findall(clause)]
        self.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(clause)]
        self.caps = [c for c in _CAPS.findall(clause) if c not in ("I", "A")]
        self.names = [n for n in _NAME.findall(clause) if n.lower() not in _STOP and n not in self.caps]
        self.inline = _INLINE.findall(clause)
        self.words = [w.strip(".,?!\"'`") for w in clause.split()]

    def take(self, tool: dict[str, Any], name: str, spec: dict[str, Any], required: bool) -> Any:
        kind, lowered = spec.get("type"), name.lower()
        if kind in ("integer", "number"):
            if self.numbers:
                value = self.numbers.pop(0)
                return int(value) if kind == "integer" else float(value)
            return instance(spec, self.clause) if required else None
        if kind == "string" and spec.get("enum"):
            said = next((e for e in spec["enum"] if str(e).lower() in self.clause.lower()), None)
            return said if said is not None or not required else spec["enum"][0]
        if kind == "string" and (lowered == "code" or "code" in (spec.get("description") or "").lower()):
            return code_in(self.clause) or ("" if required else None)
        if kind == "string" and self.caps and any(w in lowered for w in ("currency", "symbol", "unit", "from", "to")):
            return self.caps.pop(0)
        if kind == "string":
            if self.quoted:
                return self.quoted.pop(0)
            if self.inline:
                return self.inline.pop(0)
            if not required:
                return None
            if self.names:
                return self.names.pop(0)
            return _after_verb(tool, self.words) or (self.words[-1] if self.words and self.words[-1] else "text")
        return instance(spec, self.clause) if required else None


def _after_verb(tool: dict[str, Any], words: list[str]) -> str | None:
    """The word after the tool's verb in the clause ('describe sales' -> 'sales'), if the clause has it."""
    verbs = {w.lower() for w in re.split(r"[_\W]+", tool.get("name") or "") if w}
    for position, word in enumerate(words[:-1]):
        if word.lower() in verbs:
            following = [w for w in words[position + 1:] if w.lower() not in _STOP]
            if following:
                return following[0]
    return None
