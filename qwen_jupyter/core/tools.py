"""A tool from a Python function (JSON schema from its type hints and docstring, arguments checked against it),
or from a plain schema dict (offered to the model; its calls come back unanswered)."""

from __future__ import annotations

import inspect
import json
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

from .errors import QwenError
from .text import visible

if TYPE_CHECKING:  # pydantic and docstring_parser load when a function first becomes a tool
    import pydantic

DECLINED = "The person declined this call."  # a call the person said no to (its error, and what the model reads)
ERROR_PREFIX = "Error: "  # how a failed call's result reads to the model (and in a stored conversation)


@dataclass(frozen=True)
class Tool:
    """One function the model may call: its name, its wire spec, and (for a Python function) how to run it."""

    name: str
    spec: dict[str, Any]  # Chat Completions form: {"type": "function", "function": {name, description, parameters}}
    function: Callable[..., Any] | None = None  # None for a plain schema: calls are returned, not run
    arguments: type[pydantic.BaseModel] | None = None  # checks and converts the model's arguments
    asks: bool = False  # every call waits for the person's approval (the agent's run_python)
    code: str | None = None  # the argument that is code to run: an approval shows it as code

    def described(self, arguments: dict[str, Any]) -> str:
        """What a call will do, for a person to approve: the tool and its arguments as they will be passed (code
        as code, whole), every character that would not show as itself written out."""
        if self.code is not None and isinstance(arguments.get(self.code), str):
            code = arguments[self.code]
            rest = {k: v for k, v in arguments.items() if k != self.code}
            lines = code.count("\n") + 1
            head = f"{visible(self.name)}{_inline(rest)}: {lines} line{'s' if lines > 1 else ''} of code"
            return f"{head}\n" + "\n".join(f"┃ {line}" for line in visible(code).split("\n"))
        if not arguments:
            return f"{visible(self.name)}()"
        return "\n".join([f"{visible(self.name)}("] + [f"    {visible(k)}={visible(json.dumps(v, ensure_ascii=False))},"
                                                          for k, v in arguments.items()] + [")"])

    def check(self, arguments: dict[str, Any]) -> None:
        """Check the model's arguments against the parameters, running nothing (raises ValidationError)."""
        if self.arguments is not None:
            self.arguments.model_validate(arguments)

    def run(self, arguments: dict[str, Any]) -> Any:
        """Call the function with the model's arguments, checked and converted (raises ValidationError)."""
        assert self.function is not None and self.arguments is not None
        values = self.arguments.model_validate(arguments)
        given = {name: getattr(values, name) for name in type(values).model_fields}
        positional = [given.pop(p.name) for p in inspect.signature(self.function).parameters.values()
                      if p.kind is p.POSITIONAL_ONLY]
        return self.function(*positional, **given)


def _inline(arguments: dict[str, Any]) -> str:
    return f"({', '.join(f'{k}={json.dumps(v, ensure_ascii=False)}' for k, v in arguments.items())})" if arguments \
        else ""


@dataclass(frozen=True)
class ToolResult:
    """What a tool may return besides plain data: the text the model reads, and displays the person sees (kept
    and shown after the answer)."""

    text: str
    displays: tuple[dict[str, Any], ...] = field(default=())


class ToolFailed(Exception):
    """A tool's own failure, with what it displayed before it failed; its message goes to the model as the
    call's error."""

    def __init__(self, message: str, displays: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(message)
        self.displays = displays


class Toolbox:
    """The tools of one request, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.tools = {tool.name: tool for tool in tools}

    def __bool__(self) -> bool:
        return bool(self.tools)

    def specs(self) -> tuple[dict[str, Any], ...]:
        """The tools as the request carries them."""
        return tuple(tool.spec for tool in self.tools.values())

    def get(self, name: str) -> Tool | None:
        """The tool of this name, if offered."""
        return self.tools.get(name)


def notebook_functions(namespace: dict[str, Any]) -> list[str]:
    """The functions a person defined in the notebook (what a tools picker offers), by name."""
    return sorted(name for name, value in namespace.items()
                  if isinstance(value, types.FunctionType) and value.__module__ == "__main__"
                  and not name.startswith("_") and value.__name__ != "<lambda>")


def toolbox(items: Iterable[Any] | None) -> Toolbox:
    """Tools from functions and schema dicts (a name listed twice is an error)."""
    tools = [as_tool(item) for item in items or ()]
    names = [tool.name for tool in tools]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise QwenError(f"Two tools are called {twice[0]}; tool names must differ.", code="InvalidTool", hint="")
    return Toolbox(tools)


def as_tool(item: Any) -> Tool:
    """A Tool from a function or a schema dict."""
    if isinstance(item, Tool):
        return item
    if isinstance(item, dict):
        return _from_schema(item)
    if callable(item):
        return _from_function(item)
    raise QwenError(f"A tool must be a function or a JSON schema dict, not {type(item).__name__}.",
                    code="InvalidTool", hint="")


def _from_schema(schema: dict[str, Any]) -> Tool:
    function = schema.get("function") if schema.get("type") == "function" else schema
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise QwenError('A tool schema needs a name: {"name": ..., "description": ..., "parameters": {...}} '
                        '(or the same inside {"type": "function", "function": ...}).', code="InvalidTool", hint="")
    spec = {"name": function["name"], "description": function.get("description", ""),
            "parameters": function.get("parameters") or {"type": "object", "properties": {}}}
    return Tool(function["name"], {"type": "function", "function": spec})


def _from_function(function: Callable[..., Any]) -> Tool:
    import docstring_parser
    import pydantic

    name = getattr(function, "__name__", "")
    if not name.isidentifier() or name == "<lambda>":
        raise QwenError("A tool needs a name: use a def, not a lambda.", code="InvalidTool", hint="")
    docs = docstring_parser.parse(inspect.getdoc(function) or "")
    described = {p.arg_name: p.description for p in docs.params if p.description}
    try:
        hints = get_type_hints(function)
    except Exception:  # a hint that does not resolve (a forward reference to a name not in scope): use what is there
        hints = getattr(function, "__annotations__", {})
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue  # *args and **kwargs take nothing from a JSON object
        default = ... if parameter.default is parameter.empty else parameter.default
        field = pydantic.Field(default, description=described.get(parameter.name))
        fields[parameter.name] = (hints.get(parameter.name, Any), field)
    config = pydantic.ConfigDict(arbitrary_types_allowed=False, protected_namespaces=())
    try:
        with warnings.catch_warnings():  # a parameter called `json` or `schema` shadows a BaseModel attribute: fine
            warnings.simplefilter("ignore")
            arguments = pydantic.create_model(f"{name}_arguments", __config__=config, **fields)
            parameters = _without_titles(arguments.model_json_schema())
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError, NameError) as exc:
        raise QwenError(f"Tool {name}: its type hints cannot become a JSON schema ({str(exc).splitlines()[0]}).",
                        code="InvalidTool", hint="Use str, int, float, bool, lists, dicts, Literal, enums, "
                        "dataclasses or pydantic models, or pass a schema dict.") from None
    description = "\n\n".join(part for part in (docs.short_description, docs.long_description) if part)
    spec = {"name": name, "description": description, "parameters": parameters}
    return Tool(name, {"type": "function", "function": spec}, function, arguments)


def _without_titles(schema: Any, names: bool = False) -> Any:
    """pydantic's schema without its generated "title" keys (noise to the model); property names are kept."""
    if isinstance(schema, dict):
        return {k: _without_titles(v, names=k in ("properties", "$defs"))
                for k, v in schema.items() if names or k != "title"}
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema
