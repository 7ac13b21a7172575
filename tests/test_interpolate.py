"""{…} in prompts: values, expressions, escapes, tables, pictures, and clear errors."""

from __future__ import annotations

import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.interpolate import interpolate


def test_names_expressions_format_specs_and_escapes():
    text, images = interpolate("{n} items, {n * 2:05d}, {word!r}, {{literal}}", {"n": 3, "word": "hi"})
    assert text == "3 items, 00006, 'hi', {literal}" and images == []


def test_undefined_name_is_a_clear_error():
    with pytest.raises(QwenError, match=r"'missing' is not defined \(used as \{missing\} in the prompt\)"):
        interpolate("Hello {missing}", {})


def test_a_failing_expression_is_a_clear_error():
    with pytest.raises(QwenError, match=r"\{n / zero\} in the prompt failed: ZeroDivisionError"):
        interpolate("{n / zero}", {"n": 1, "zero": 0})


NAMESPACE = {"name": "Ada", "n": 3, "rows": [1, 2], "price": 2.5}
VERBATIM = [
    'Reply as JSON like {"label": "pos"}',
    "d = {'a': 1}",
    '{"items": [{"id": 1}, {"id": 2}], "name": "x"}',
    "a set {1, 2}, a string {\"x\"}, a number {0}, prose {the user}, empty {}",
    "unbalanced { and } braces",
    "```python\nprint(f\"hello {name}\")\nd = {'k': n}\n```",
    "~~~\n{name} {{n}}\n~~~",
    "Use `{name}` and ``{n}`` literally",
    "```\nan unclosed fence keeps {name} too",
]


@pytest.mark.parametrize("text", VERBATIM)
def test_pasted_json_dicts_prose_and_markdown_code_are_sent_as_typed(text):
    assert interpolate(text, NAMESPACE) == (text, [])


def test_only_expressions_with_a_variable_are_filled_in():
    text, _ = interpolate("Hi {name}: {len(rows)} rows at {price:.2f}, {name!r}, {{literal}}, `{name}`", NAMESPACE)
    assert text == "Hi Ada: 2 rows at 2.50, 'Ada', {literal}, `{name}`"
    text, _ = interpolate("```\ncode {name}\n```\nthen {name}", NAMESPACE)
    assert text == "```\ncode {name}\n```\nthen Ada"


def test_dataframes_become_truncated_tables():
    import pandas as pd

    frame = pd.DataFrame({"a": range(30), "b|c": ["x\ny"] * 30})
    text, _ = interpolate("{df}", {"df": frame}, max_rows=5)
    lines = text.strip().splitlines()
    assert lines[0] == "|  | a | b\\|c |" and lines[2] == "| 0 | 0 | x y |"
    assert lines[-1] == "(showing 5 of 30 rows)"
    series_text, _ = interpolate("{s}", {"s": pd.Series([1, 2], name="v")})
    assert "| 1 | 2 |" in series_text


def test_pictures_become_image_inputs():
    import numpy as np
    from PIL import Image

    text, images = interpolate("Compare {a} with {b}", {"a": Image.new("RGB", (12, 12)),
                                                         "b": np.zeros((12, 12, 3), "uint8")})
    assert text == "Compare [image 1] with [image 2]" and len(images) == 2
