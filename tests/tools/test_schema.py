"""A tool's JSON schema comes from the function's type hints and docstring; a schema dict is taken as it is."""

from __future__ import annotations

import dataclasses
import enum
from typing import Literal, Optional

import pydantic
import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.tools import as_tool, toolbox


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Place(pydantic.BaseModel):
    city: str
    country: str = "CN"


def forecast(city: str, days: int, unit: Unit = Unit.CELSIUS, detail: Literal["short", "long"] = "short",
             rain: bool = False, scale: float = 1.0, at: Optional[Point] = None, tags: list[str] | None = None,  # noqa: UP045 - Optional is a spelling people use
             extra: dict[str, int] | None = None, place: Place | None = None, title: str = "") -> str:
    """The forecast for a city.

    More words about it.

    Args:
        city: The city's name, e.g. Hangzhou.
        days: How many days ahead.
    """
    return f"{city}|{days}|{unit}|{detail}|{rain}|{scale}|{at}|{tags}|{extra}|{place}|{title}"


def test_types_and_docstring_become_the_schema():
    spec = as_tool(forecast).spec
    assert spec["type"] == "function"
    function = spec["function"]
    assert function["name"] == "forecast"
    assert function["description"] == "The forecast for a city.\n\nMore words about it."
    parameters = function["parameters"]
    props = parameters["properties"]
    assert parameters["required"] == ["city", "days"]
    assert props["city"] == {"type": "string", "description": "The city's name, e.g. Hangzhou."}
    assert props["days"] == {"type": "integer", "description": "How many days ahead."}
    assert props["rain"] == {"type": "boolean", "default": False}
    assert props["scale"] == {"type": "number", "default": 1.0}
    assert props["detail"] == {"type": "string", "enum": ["short", "long"], "default": "short"}
    assert parameters["$defs"]["Unit"] == {"type": "string", "enum": ["celsius", "fahrenheit"]}
    assert parameters["$defs"]["Point"]["required"] == ["x", "y"]
    assert parameters["$defs"]["Place"]["properties"]["country"] == {"type": "string", "default": "CN"}
    assert {"type": "array", "items": {"type": "string"}} in props["tags"]["anyOf"]
    assert {"type": "object", "additionalProperties": {"type": "integer"}} in props["extra"]["anyOf"]
    assert "title" in props  # a parameter called title is kept; pydantic's generated titles are not
    assert "title" not in parameters and "title" not in props["city"]


def test_arguments_are_checked_and_converted_before_the_call():
    tool = as_tool(forecast)
    out = tool.run({"city": "Oslo", "days": "2", "unit": "fahrenheit", "at": {"x": 1, "y": 2},
                    "place": {"city": "Oslo"}})
    assert out == ("Oslo|2|Unit.FAHRENHEIT|short|False|1.0|Point(x=1.0, y=2.0)|None|None|city='Oslo' country='CN'|")
    with pytest.raises(pydantic.ValidationError):
        tool.run({"city": "Oslo"})  # days is required


def test_a_plain_schema_dict_is_offered_as_it_is_and_not_run():
    schema = {"name": "lookup", "description": "Look up.", "parameters": {"type": "object", "properties": {}}}
    for given in (schema, {"type": "function", "function": schema}):
        tool = as_tool(given)
        assert tool.spec == {"type": "function", "function": schema} and tool.function is None


@pytest.mark.parametrize(("tools", "message"), [
    ([lambda x: x], "use a def, not a lambda"),
    ([forecast, forecast], "Two tools are called forecast"),
    ([42], "must be a function or a JSON schema dict"),
    ([{"description": "no name"}], "A tool schema needs a name"),
])
def test_tools_that_cannot_be_offered_get_a_clear_error(tools, message):
    with pytest.raises(QwenError, match=message):
        toolbox(tools)


def test_a_hint_that_has_no_schema_gets_a_clear_error():
    class Opaque:
        pass

    def uses(thing: Opaque) -> None:
        """Uses it."""

    with pytest.raises(QwenError, match="its type hints cannot become a JSON schema"):
        as_tool(uses)
