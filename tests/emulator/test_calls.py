"""The emulated model calls the tools a prompt names or describes, with arguments read from the prompt, so an
offline agent demo makes sense (through the real SDK path: chat() with Python functions, answered by the emulator)."""

from __future__ import annotations

import pytest

import qwen_jupyter


def get_weather(city: str, unit: str = "celsius") -> dict:
    """The current weather in a city."""
    return {"city": city, "sky": "sunny"}


def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another."""
    return f"{amount} {from_currency} = {amount * 0.9:.2f} {to_currency}"


def lookup_user(user_id: int) -> dict:
    """Find a user by their id."""
    return {"id": user_id, "name": "Ada"}


def run_python(code: str) -> str:
    """Run Python code in the notebook.

    Args:
        code: The code to run.
    """
    return f"ran {code!r}"


def list_variables() -> list:
    """The notebook's variables."""
    return []


def get_time(city: str) -> str:
    """The local time in a city."""
    return "12:00"


@pytest.mark.parametrize(("prompt", "calls"), [
    ("look up user 42", [("lookup_user", {"user_id": 42})]),
    ("What is the weather in Lisbon and 100 USD in EUR?",
     [("get_weather", {"city": "Lisbon", "unit": "celsius"}),
      ("convert_currency", {"amount": 100.0, "from_currency": "USD", "to_currency": "EUR"})]),
    ("Run `sales.total.sum()` for me", [("run_python", {"code": "sales.total.sum()"})]),
    ("Please run this:\n```python\nimport math\nprint(math.pi)\n```", [("run_python",
                                                                     {"code": "import math\nprint(math.pi)"})]),
    ("Which variables are there?", [("list_variables", {})]),
    ("What is the weather and the local time in Hangzhou?",  # the place named once is both clauses'
     [("get_weather", {"city": "Hangzhou", "unit": "celsius"}), ("get_time", {"city": "Hangzhou"})]),
])
def test_the_tools_a_prompt_asks_for_are_called_with_its_arguments(prompt, calls, connect):
    tools = [get_weather, convert_currency, lookup_user, run_python, list_variables, get_time]
    result = qwen_jupyter.chat(prompt, tools=tools, **connect()).wait()
    assert [(c.name, c.arguments) for c in result.tool_calls] == calls
    assert all(c.error is None for c in result.tool_calls)
