"""Prefix continuation (a partial assistant turn) and sampling presets, against the emulator."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.api import prepare
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.options import PRESETS


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_prefix_is_sent_as_a_partial_assistant_turn_and_the_answer_continues_it(api, connect, emu):
    result = qwen_jupyter.chat("Write a line about spring.", prefix="Spring came, and the earth", **connect(api))
    assert result.error is None
    body = emu.state.received[-1]["body"]
    messages = body["messages"] if api == "openai" else body["input"]["messages"]
    assert messages[-1] == {"role": "assistant", "content": "Spring came, and the earth", "partial": True}
    assert result.text.startswith("Spring came, and the earth")  # the start and its continuation, as read
    continuation = result.text[len("Spring came, and the earth"):]
    assert continuation.startswith(" woke slowly") and "Spring came" not in continuation  # not echoed


def test_prefix_on_the_responses_api_is_a_clear_error(connect):
    result = qwen_jupyter.chat("hi", prefix="Once", **connect("responses"))
    assert result.error is not None and result.error.code == "InvalidInput"
    assert "Chat Completions and the native API" in result.error.message


def test_the_emulator_refuses_partial_mode_with_thinking_as_the_service_does(connect):
    result = qwen_jupyter.chat("hi", prefix="Once", think=True, **connect())
    assert result.error is not None and result.error.status == 400


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_sets_temperature_and_top_p(name):
    request, _ = prepare("hi", preset=name)
    assert (request.temperature, request.top_p) == (PRESETS[name]["temperature"], PRESETS[name]["top_p"])


def test_an_explicit_temperature_wins_over_the_preset_and_users_define_their_own():
    request, _ = prepare("hi", preset="creative", temperature=0.5)
    assert (request.temperature, request.top_p) == (0.5, PRESETS["creative"]["top_p"])
    mine, _ = prepare("hi", preset="poem", presets={"poem": {"temperature": 1.3, "top_p": 0.99}})
    assert (mine.temperature, mine.top_p) == (1.3, 0.99)


def test_a_preset_reaches_the_wire(connect, emu):
    qwen_jupyter.chat("hi", preset="code", **connect()).wait()
    body = emu.state.received[-1]["body"]
    assert (body["temperature"], body["top_p"]) == (PRESETS["code"]["temperature"], PRESETS["code"]["top_p"])


def test_an_unknown_preset_names_the_known_ones():
    with pytest.raises(QwenError, match="creative") as caught:
        prepare("hi", preset="poetic")
    assert caught.value.code == "InvalidInput"


def test_a_preset_sets_sampling_only():
    with pytest.raises(QwenError, match="sampling only"):
        prepare("hi", preset={"model": "qwen-max"})
