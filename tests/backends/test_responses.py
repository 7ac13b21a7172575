"""The Responses API: both documented paths, instructions, video refused before sending."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.api import ask, prepare


@pytest.mark.parametrize(("legacy", "path"), [
    (False, "/compatible-mode/v1/responses"),
    (True, "/api/v2/apps/protocols/compatible-mode/v1/responses"),
])
def test_both_paths(legacy, path, connect, emu):
    request, settings = prepare("Who are you?", system="Be brief.", **connect("responses"))
    from dataclasses import replace

    result = ask(request, replace(settings, responses_legacy_path=legacy))
    assert result.error is None and result.text.startswith("I am")
    sent = emu.received[-1]
    assert sent["path"] == path
    assert sent["body"]["instructions"] == "Be brief."
    assert sent["body"]["input"] == [{"role": "user", "content": "Who are you?"}]


def test_video_is_refused_before_sending(connect, emu):
    result = qwen_jupyter.chat("what happens", video="https://example.com/a.mp4", model="qwen-vl-max",
                               **connect("responses"))
    assert result.error.code == "InvalidInput" and "Responses API" in result.error.message
    assert emu.received == []


def test_function_tools_are_sent_flat(connect, emu):
    from .test_all_apis import TOOLS

    qwen_jupyter.chat("weather in Rome", tools=TOOLS, **connect("responses")).wait()
    tool = emu.received[-1]["body"]["tools"][0]
    assert tool["type"] == "function" and tool["name"] == "get_weather" and "function" not in tool
