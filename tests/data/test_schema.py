"""map(schema=...): JSON mode with the schema in the system message; one column a field, answers validated."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from pydantic import BaseModel

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.data.schema import Schema

from .conftest import chat_requests


class Review(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    stars: int


@dataclasses.dataclass
class Place:
    city: str
    visited: bool


JSON_SCHEMA = {"type": "object", "properties": {"label": {"enum": ["spam", "ham"]}, "score": {"type": "number"}},
               "required": ["label", "score"]}


@pytest.mark.parametrize("schema, fields", [(Review, ["sentiment", "stars"]), (Place, ["city", "visited"]),
                                            (JSON_SCHEMA, ["label", "score"])])
def test_each_kind_of_schema_gives_one_validated_column_a_field(run, emu, schema, fields):
    out = run([f"message {i}" for i in range(12)], "Read: {text}", schema=schema, into="parsed")
    assert list(out.columns) == ["text", *fields, "parsed_input_tokens", "parsed_output_tokens", "parsed_error"]
    assert out["parsed_error"].isna().all()
    sent = chat_requests(emu)[-1]["body"]
    assert sent["response_format"] == {"type": "json_object"} and sent["enable_thinking"] is False
    assert sent["messages"][0]["role"] == "system" and "JSON Schema" in sent["messages"][0]["content"]
    if schema is Review:
        assert set(out["sentiment"]) <= {"positive", "negative", "neutral"} and len(set(out["sentiment"])) > 1
        assert out["stars"].dtype.kind == "i"


def test_an_answer_that_does_not_validate_is_asked_once_more(run, emu):
    emu.inject("echo")  # the first answer is the prompt itself: not JSON
    out = run(["only row"], "Read: {text}", schema=Review)
    assert out["answer_error"].isna().all() and out["sentiment"].notna().all()
    assert len(chat_requests(emu)) == 2


def test_an_answer_invalid_twice_is_marked_and_sent_again_next_time(run, emu):
    emu.inject("echo", times=2)
    with pytest.raises(QwenError, match="every row failed") as caught:  # the only row
        run(["only row"], "Read: {text}", schema=Review)
    out = caught.value.frame
    assert out["answer_error"][0] == "The answer does not match the schema (the answer is not JSON)."
    assert out["sentiment"].isna().all() and len(chat_requests(emu)) == 2
    again = run(["only row"], "Read: {text}", schema=Review)
    assert again["answer_error"].isna().all() and len(chat_requests(emu)) == 3


def test_validation_errors_say_which_field():
    schema = Schema(Review)
    assert schema.parse('```json\n{"sentiment": "positive", "stars": 4}\n```') == {"sentiment": "positive",
                                                                                    "stars": 4}
    with pytest.raises(ValueError, match="sentiment: Input should be 'positive', 'negative' or 'neutral'"):
        schema.parse('{"sentiment": "meh", "stars": 4}')
    with pytest.raises(ValueError, match="label: 'x' is not one of"):
        Schema(JSON_SCHEMA).parse('{"label": "x", "score": 1}')


@pytest.mark.parametrize("bad", [str, {"type": "string"}, {"type": "object"}, 3])
def test_a_schema_that_is_not_an_object_with_fields_is_refused(bad):
    with pytest.raises(QwenError, match="schema="):
        Schema(bad)
