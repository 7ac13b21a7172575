"""The native API's own behaviour: endpoints, cumulative text, result formats, image generation."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.core.events import TextDelta


def test_text_models_use_the_text_endpoint_with_string_content(connect, emu):
    qwen_jupyter.chat("hi", **connect("dashscope")).wait()
    sent = emu.received[-1]
    assert sent["path"].endswith("/text-generation/generation")
    assert sent["headers"]["X-DashScope-SSE"] == "enable"
    assert sent["body"]["input"]["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["body"]["parameters"]["incremental_output"] is True
    assert sent["body"]["parameters"]["result_format"] == "message"


@pytest.mark.parametrize("model", ["qwen3.5-plus", "qwen-vl-max", "qvq-max"])
def test_multimodal_models_use_the_multimodal_endpoint(model, connect, emu):
    result = qwen_jupyter.chat("hi", model=model, system="Be brief.", **connect("dashscope"))
    assert result.error is None, result.error
    sent = emu.received[-1]
    assert sent["path"].endswith("/multimodal-generation/generation")
    assert sent["body"]["input"]["messages"][0] == {"role": "system", "content": [{"text": "Be brief."}]}


def test_thinking_on_multimodal_models_streams_reasoning_while_content_is_empty(connect):
    result = qwen_jupyter.chat("Why?", model="qvq-max", **connect("dashscope"))
    assert result.reasoning and result.text and result.error is None


def test_cumulative_text_is_folded_into_deltas(connect, emu):
    result = qwen_jupyter.chat("hi there dear friend", incremental_output=False, **connect("dashscope"))
    assert result.error is None
    incremental = qwen_jupyter.chat("hi there dear friend", **connect("dashscope"))
    assert result.text == incremental.text
    assert "".join(e.text for e in result.events if isinstance(e, TextDelta)) == result.text


def test_server_defaults_cumulative_text_format_are_folded(connect, emu):
    """Omitting incremental_output lets qwen-plus answer cumulatively; result_format text puts it in output.text."""
    result = qwen_jupyter.chat("hi there dear friend", extra={"incremental_output": None, "result_format": "text"},
                               **connect("dashscope")).wait()
    parameters = emu.received[-1]["body"]["parameters"]
    assert "incremental_output" not in parameters and parameters["result_format"] == "text"
    assert result.error is None
    assert result.text == qwen_jupyter.chat("hi there dear friend", **connect("dashscope")).text
    assert "".join(e.text for e in result.events if isinstance(e, TextDelta)) == result.text


def test_search_results_come_from_search_info(connect, emu):
    result = qwen_jupyter.chat("today's news", search=True, **connect("dashscope"))
    assert [s.index for s in result.search_results] == [1, 2, 3]
    assert result.search_results[0].url == "https://example.com/emulated/1"
    assert emu.received[-1]["body"]["parameters"]["search_options"] == {
        "enable_source": True, "enable_citation": True, "citation_format": "[<number>]"}


def test_image_generation_sync_model_returns_images_and_their_urls(connect):
    result = qwen_jupyter.chat("a red fox", model="qwen-image-plus", stream=False, **connect("dashscope"))
    assert result.error is None and len(result.images) == 1 and result.images[0].format == "PNG"
    import urllib.request

    with urllib.request.urlopen(result.image_urls[0]) as response:
        assert response.read().startswith(b"\x89PNG")


def test_image_task_submits_and_polls_the_configured_host(connect):
    result = qwen_jupyter.chat("a red fox", model="wanx-v1", n=2, **connect("dashscope"))
    assert result.error is None, result.error
    assert len(result.images) == 2 and all(url.startswith(connect()["base_url"]) for url in result.image_urls)


def test_sdk_error_responses_become_qwen_errors(connect):
    result = qwen_jupyter.chat("hi", model="qwen-plus~429,retry-after=0", **connect("dashscope", max_retries=0))
    assert result.error.code == "Throttling.RateQuota" and result.error.status == 429
    assert result.error.retry_after == 0
