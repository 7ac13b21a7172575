"""Behaviour every backend must share, run against the emulator over real HTTP with the real SDKs."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import qwen_jupyter
from qwen_jupyter.core.events import Retrying, TextDelta
from qwen_jupyter.views.layout import final_bundle

from ..conftest import APIS, KEY, failed

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                       "required": ["city"]},
    },
}]


@pytest.mark.parametrize("api", APIS)
def test_plain_text_streams_and_reports_usage(api, connect):
    result = qwen_jupyter.chat("Who are you?", **connect(api))
    deltas = [e for e in result if isinstance(e, TextDelta)]
    assert result.error is None
    assert result.text == "I am a large language model created by Alibaba Cloud. I am called Qwen."
    assert len(deltas) > 3  # it really streamed
    assert result.finish_reason == "stop"
    usage = result.usage
    assert usage.input_tokens and usage.output_tokens
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert result.request_id and result.emulated
    assert result.raw and result.elapsed >= result.time_to_first_token > 0


@pytest.mark.parametrize("api", APIS)
def test_thinking_streams_reasoning_separately(api, connect):
    result = qwen_jupyter.chat("Why is the sky blue?", think=True, budget=20, **connect(api))
    assert result.error is None
    assert result.reasoning.startswith("Okay, the user asks")
    assert len(result.reasoning) <= 80  # the budget of 20 tokens was honoured
    assert "sky blue" in result.text and "Okay" not in result.text
    assert result.usage.reasoning_tokens == 20


@pytest.mark.parametrize("api", APIS)
def test_tool_calls_are_assembled_from_fragments(api, connect):
    result = qwen_jupyter.chat("What is the weather in Hangzhou for 3 days", tools=TOOLS, **connect(api))
    assert result.finish_reason == "tool_calls"
    (call,) = result.tool_calls
    assert call.name == "get_weather" and call.id.startswith("call_")
    assert call.arguments == {"city": "Hangzhou", "days": 3} and not call.ran


@pytest.mark.parametrize("api", APIS)
def test_tool_result_goes_back_and_is_answered(api, connect):
    first = qwen_jupyter.chat("Weather in Paris", tools=TOOLS, **connect(api))
    call = first.tool_calls[0]
    from qwen_jupyter.core.messages import Message

    history = [Message("user", "Weather in Paris"), first.message(), Message("tool", "sunny, 21C", tool_call_id=call.id)]
    request, settings = qwen_jupyter.api.prepare("unused", tools=TOOLS, **connect(api))
    follow = qwen_jupyter.api.ask(request.with_messages(tuple(history)), settings)
    assert follow.error is None, follow.error
    assert "sunny, 21C" in follow.text


@pytest.mark.parametrize("api", APIS)
def test_images_from_url_file_and_pil(api, connect, tmp_path, emu):
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 30), "red").save(path)
    pil = Image.new("RGB", (32, 32), "blue")
    result = qwen_jupyter.chat("Describe these", image=["https://example.com/dog.jpeg", str(path), pil],
                               model="qwen-vl-max", **connect(api))
    assert result.error is None, result.error
    assert "I received 3 images" in result.text
    body = json.dumps(emu.received[-1]["body"])
    assert "https://example.com/dog.jpeg" in body and body.count("data:image/png;base64,") == 2
    assert [m["source"] for m in result.messages[-1]["media"]] == ["https://example.com/dog.jpeg", "red.png", "Image"]


@pytest.mark.parametrize("api", APIS)
def test_json_mode_parses(api, connect):
    result = qwen_jupyter.chat("Reply in JSON please", json_mode=True, **connect(api))
    assert result.error is None, result.error
    assert result.json()["emulated"] is True


@pytest.mark.parametrize("api", APIS)
def test_non_streamed_call(api, connect):
    result = qwen_jupyter.chat("Who are you?", stream=False, **connect(api))
    assert result.error is None
    assert result.text.startswith("I am a large language model")
    assert len(result.raw) == 1 and result.usage.total_tokens


@pytest.mark.parametrize("api", APIS)
def test_async_chat(api, connect):
    result = asyncio.run(qwen_jupyter.achat("Who are you?", **connect(api)))
    assert result.error is None
    assert result.text.startswith("I am a large language model")
    assert result.time_to_first_token is not None and result.usage.output_tokens


@pytest.mark.parametrize("api", APIS)
def test_async_chat_keeps_partial_text_on_drop(api, connect):
    result = failed(lambda: asyncio.run(qwen_jupyter.achat("hello there dear friend", model="qwen-plus~drop=2",
                                                            **connect(api))))
    assert result.error.code == "IncompleteStream"
    assert result.text == "**[emulated qwen-plus]** "


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("fault", "status", "codes"),
    [
        ("401", 401, {"InvalidApiKey", "invalid_api_key"}),
        ("403", 403, {"AccessDenied", "access_denied"}),
        ("404", 404, {"ModelNotFound", "model_not_found"}),
        ("moderation", 400, {"DataInspectionFailed", "data_inspection_failed"}),
        ("arrearage", 400, {"Arrearage"}),
    ],
)
def test_final_errors_are_not_retried(api, fault, status, codes, connect, emu):
    result = qwen_jupyter.chat("hi", model=f"qwen-plus~{fault}", **connect(api))
    assert result.text == ""
    assert result.error.status == status and result.error.code in codes
    assert result.error.request_id
    assert result.error.hint
    assert result.retries == () and len(emu.received) == 1


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("fault", ["429,retry-after=0.05", "500", "503"])
def test_retryable_errors_are_retried_then_succeed(api, fault, connect, emu):
    emu.inject(fault, times=2)
    result = qwen_jupyter.chat("Who are you?", **connect(api, max_retries=2))
    assert result.error is None
    assert result.text.startswith("I am")
    assert len(result.retries) == 2 and len(emu.received) == 3
    retrying = [e for e in result.events if isinstance(e, Retrying)]
    if fault.startswith("429"):
        assert all(e.delay == pytest.approx(0.05) for e in retrying)  # Retry-After was honoured


@pytest.mark.parametrize("api", APIS)
def test_retries_give_up_after_max_retries(api, connect, emu):
    emu.inject("429,retry-after=0", times=5)
    result = qwen_jupyter.chat("hi", **connect(api, max_retries=1))
    assert result.error.status == 429 and len(emu.received) == 2


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("fault", "code"),
    [("drop=3", "IncompleteStream"), ("malformed=2", "MalformedChunk"), ("error-at=2", None)],
)
def test_mid_stream_failures_keep_partial_text(api, fault, code, connect, emu):
    result = qwen_jupyter.chat("hello there dear friend", model=f"qwen-plus~{fault}", **connect(api))
    assert result.error is not None
    if code:
        assert result.error.code == code
    assert result.text.startswith("**[emulated")
    assert len(emu.received) == 1  # never retried once text had arrived


@pytest.mark.parametrize("api", APIS)
def test_stalled_stream_hits_the_timeout(api, connect):
    result = qwen_jupyter.chat("hello there dear friend", model="qwen-plus~stall=2,stall-seconds=5",
                               **connect(api, timeout=0.5, max_retries=0))
    assert result.error.code in ("Timeout", "IncompleteStream", "ConnectionError")
    assert result.text == "**[emulated qwen-plus]** hello "[: len(result.text)]
    assert result.text


def _read_elsewhere(result, until: type) -> threading.Thread:
    """Read a result in another thread (as the panel's worker does) until an event of this type has come."""
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(result))
    reader.start()
    deadline = time.monotonic() + 10
    while not any(isinstance(e, until) for e in seen) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(isinstance(e, until) for e in seen)
    return reader


@pytest.mark.parametrize("api", APIS)
def test_a_stop_from_another_thread_ends_a_stalled_stream_at_once(api, connect, emu):
    result = qwen_jupyter.chat("hello there dear friend", model="qwen-plus~stall=2,stall-seconds=30", **connect(api))
    reader = _read_elsewhere(result, until=TextDelta)
    time.sleep(0.3)  # the service has gone quiet: the reader is blocked on its socket
    stopped_at = time.monotonic()
    result.stop()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - stopped_at < 1.0
    assert result.interrupted and result.text and result.text == "**[emulated qwen-plus]** hello "[: len(result.text)]
    assert len(emu.received) == 1  # the cut connection was not taken for a failure to retry


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("claimed", [True, False])
def test_a_stop_before_anyone_reads_sends_nothing(api, claimed, connect, emu):
    result = qwen_jupyter.chat("hello", **connect(api))
    if claimed:
        result.claim(threading.get_ident() + 1)  # a worker will read it (the panel claims its answers so)
    stopper = threading.Thread(target=result.stop)
    stopper.start()
    stopper.join()
    assert list(result) == [] and result.interrupted and result.text == ""
    assert emu.received == []


@pytest.mark.parametrize("api", APIS)
def test_a_stop_during_the_wait_before_a_retry_ends_it_at_once(api, connect, emu):
    emu.inject("429,retry-after=6", times=1)
    result = qwen_jupyter.chat("hello", **connect(api, max_retries=2))
    reader = _read_elsewhere(result, until=Retrying)
    stopped_at = time.monotonic()
    result.stop()
    reader.join(5)
    assert not reader.is_alive() and time.monotonic() - stopped_at < 1.0
    assert result.interrupted and len(emu.received) == 1  # the retry was never sent


@pytest.mark.parametrize("api", APIS)
def test_stopping_an_answer_never_cuts_another_request(api, connect, emu):
    # A's whole body is read (its connection back in the shared pool) while its reader is between events; B then
    # streams, perhaps on that very connection; a stop of A must leave B alone.
    first = qwen_jupyter.chat("hello", stream=False, **connect(api))
    between, go = threading.Event(), threading.Event()

    def read_first():
        events = iter(first)
        next(events)
        between.set()
        go.wait(10)
        for _ in events:
            pass

    reader = threading.Thread(target=read_first)
    reader.start()
    assert between.wait(10)
    second = qwen_jupyter.chat("hello there dear friend", model="qwen-plus~slow=0.02", **connect(api))
    other = _read_elsewhere(second, until=TextDelta)
    first.stop()
    go.set()
    reader.join(10)
    other.join(20)
    assert second.error is None and second.text.endswith("Model Studio.")


@pytest.mark.parametrize("api", APIS)
def test_slow_long_answer_streams_all_chunks(api, connect):
    result = qwen_jupyter.chat("long", model="qwen-plus~long=2000,chunk=10,slow=0.0005", **connect(api))
    assert sum(isinstance(e, TextDelta) for e in result) == 200  # live, each chunk its own delta
    assert result.error is None and len(result.text) == 2000


@pytest.mark.parametrize("api", APIS)
def test_key_never_appears_in_any_output(api, connect, capsys, caplog):
    outputs = []
    for model in ("qwen-plus~401", "qwen-plus~drop=1", "qwen-plus"):
        result = qwen_jupyter.chat("hi", model=model, **connect(api))
        outputs += [repr(result), str(result.error), repr(result.error), json.dumps(result.messages),
                    *final_bundle(result).values(), repr(result.events)]
    request, settings = qwen_jupyter.api.prepare("hi", **connect(api))
    outputs += [repr(settings), str(settings), repr(request)]
    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    assert all(KEY not in text for text in outputs)


@pytest.mark.parametrize("api", APIS)
def test_missing_key_is_a_clear_error(api, emu, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    result = qwen_jupyter.chat("hi", api=api, base_url=emu.url)
    assert result.error.code == "NoApiKey" and "DASHSCOPE_API_KEY" in str(result.error)
    assert emu.received == []


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [302, 307])
def test_redirects_are_refused_with_a_one_line_error(api, status, connect, emu, reliability):
    outcomes = []
    for run in (lambda: qwen_jupyter.chat("hi", **connect(api)).wait(),
                lambda: asyncio.run(qwen_jupyter.achat("hi", **connect(api)))):
        emu.inject(f"redirect={status}")
        before = len(emu.received)
        outcomes.append((failed(run), len(emu.received) - before))
    wrong = 0
    for result, requests in outcomes:
        error = result.error
        wrong += not (error is not None and error.code == "Redirect" and error.status == status
                      and "\n" not in str(error) and requests == 1)
    reliability.add("Faults", f"HTTP {status} redirect", tried=len(outcomes), failed=wrong)
    assert wrong == 0, [(str(r.error), n) for r, n in outcomes]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(("fault", "code"), [("drop=3", "IncompleteStream"), ("malformed=2", "MalformedChunk")])
def test_sync_and_async_paths_read_a_failure_the_same_way(api, fault, code, connect, emu):
    model = f"qwen-plus~{fault}"
    sync = qwen_jupyter.chat("hello there dear friend", model=model, **connect(api))
    asynchronous = failed(lambda: asyncio.run(qwen_jupyter.achat("hello there dear friend", model=model,
                                                                  **connect(api))))
    assert sync.error.code == asynchronous.error.code == code
    assert sync.text == asynchronous.text and len(emu.received) == 2  # neither was retried
