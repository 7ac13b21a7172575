"""The emulator's bytes checked against the shapes in shared/reference/dashscope-api.md, over plain HTTP."""

from __future__ import annotations

import json

import pytest
import requests

AUTH = {"Authorization": "Bearer sk-test"}


def _compat_chunks(emu, body):
    response = requests.post(f"{emu.url}/compatible-mode/v1/chat/completions", json=body, headers=AUTH, stream=True)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    lines = [line for line in response.iter_lines(decode_unicode=True) if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]], response


def test_compat_stream_follows_the_documented_rules(emu):
    chunks, response = _compat_chunks(emu, {"model": "qwen-plus", "messages": [{"role": "user", "content": "你是谁？"}],
                                            "stream": True, "stream_options": {"include_usage": True}})
    first, *middle, finish, usage = chunks
    assert first["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk" and chunk["system_fingerprint"] is None
        assert chunk["id"] == "chatcmpl-" + response.headers["x-request-id"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert "".join(c["choices"][0]["delta"]["content"] for c in middle).startswith("我是通义千问")
    assert finish["choices"][0] == {"delta": {"content": ""}, "finish_reason": "stop", "index": 0, "logprobs": None}
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == (
        usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"])


def test_compat_no_usage_chunk_without_include_usage(emu):
    chunks, _ = _compat_chunks(emu, {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}],
                                     "stream": True})
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks)


def test_compat_thinking_chunks(emu):
    chunks, _ = _compat_chunks(emu, {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}],
                                     "stream": True, "enable_thinking": True})
    assert chunks[0]["choices"][0]["delta"] == {"content": None, "role": "assistant", "reasoning_content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-1]]
    reasoning = [d for d in deltas if d.get("reasoning_content")]
    answer = [d for d in deltas if d.get("content")]
    assert reasoning and answer and all(d["content"] is None for d in reasoning)
    assert all(d["reasoning_content"] is None for d in answer)
    assert deltas.index(answer[0]) > deltas.index(reasoning[-1])


def test_compat_tool_call_continuations_carry_an_empty_id(emu):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}}}}]
    chunks, _ = _compat_chunks(emu, {"model": "qwen-plus", "stream": True, "tools": tools,
                                     "messages": [{"role": "user", "content": "lookup something long please"}]})
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert fragments[0]["id"].startswith("call_") and fragments[0]["function"]["name"] == "lookup"
    assert len(fragments) > 1 and all(f["id"] == "" for f in fragments[1:])
    assert json.loads("".join(f["function"]["arguments"] for f in fragments)) == {"query": "please"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_compat_error_body_has_request_id_beside_error(emu):
    response = requests.post(f"{emu.url}/compatible-mode/v1/chat/completions", headers={"Authorization": "Bearer x"},
                             json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "invalid_api_key" and body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == response.headers["x-request-id"] and "request_id" not in body["error"]


def test_compat_text_model_rejects_content_lists(emu):
    response = requests.post(f"{emu.url}/compatible-mode/v1/chat/completions", headers=AUTH, json={
        "model": "qwen-plus", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    assert response.status_code == 400 and response.json()["error"]["message"] == "input content must be a string."


def test_429_has_retry_after(emu):
    response = requests.post(f"{emu.url}/compatible-mode/v1/chat/completions", headers={
        **AUTH, "X-Qwen-Emulator-Fault": "429,retry-after=3"}, json={"model": "qwen-plus", "messages": []})
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json()["error"]["code"] == "limit_requests"


def _native(emu, body, sse=True, endpoint="text-generation"):
    headers = {**AUTH, **({"X-DashScope-SSE": "enable"} if sse else {})}
    return requests.post(f"{emu.url}/api/v1/services/aigc/{endpoint}/generation", json=body, headers=headers)


def _frames(response):
    text = response.content.decode()
    assert "[DONE]" not in text
    frames = [f for f in text.split("\n\n") if f]
    parsed = []
    for number, frame in enumerate(frames, 1):
        lines = frame.split("\n")
        assert lines[:3] == [f"id:{number}", "event:result", ":HTTP_STATUS/200"]
        assert lines[3].startswith("data:{")
        parsed.append(json.loads(lines[3][5:]))
    return parsed


def test_native_stream_frames(emu):
    response = _native(emu, {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "你是谁？"}]},
                             "parameters": {"result_format": "message", "incremental_output": True}})
    assert response.headers["Content-Type"] == "text/event-stream;charset=UTF-8"
    frames = _frames(response)
    assert all(f["output"]["choices"][0]["finish_reason"] == "null" for f in frames[:-1])
    assert frames[-1]["output"]["choices"][0] == {"message": {"content": "", "role": "assistant"},
                                                 "finish_reason": "stop"}
    outputs = [f["usage"]["output_tokens"] for f in frames]
    assert outputs == sorted(outputs) and len({f["request_id"] for f in frames}) == 1
    text = "".join(f["output"]["choices"][0]["message"]["content"] for f in frames)
    assert text.startswith("我是通义千问")


def test_native_defaults_are_cumulative_text_for_qwen_plus(emu):
    frames = _frames(_native(emu, {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}}))
    texts = [f["output"]["text"] for f in frames]
    assert "choices" not in frames[0]["output"]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    assert frames[-1]["output"]["finish_reason"] == "stop"


def test_native_without_sse_header_answers_once(emu):
    response = _native(emu, {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]},
                             "parameters": {"result_format": "message"}}, sse=False)
    body = response.json()
    assert set(body) == {"output", "usage", "request_id"}
    assert body["output"]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(("body", "endpoint", "message"), [
    ({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}, "text-generation",
     'Either "prompt" or "messages" must exist and cannot both be none'),
    ({"model": "qwen3.5-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}}, "text-generation",
     "url error, please check url!"),
    ({"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]},
      "parameters": {"enable_thinking": True, "result_format": "message"}}, "text-generation",
     'The incremental_output parameter must be "true" when enable_thinking is true'),
    ({"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [{"picture": "x"}]}]}},
     "multimodal-generation", "The item of content should be a message of a certain modal."),
])
def test_native_rejects_what_the_service_rejects(emu, body, endpoint, message):
    response = _native(emu, body, endpoint=endpoint)
    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParameter", "message": message,
                               "request_id": response.headers["x-request-id"]}


def test_native_multimodal_thinking_content_is_an_empty_list(emu):
    frames = _frames(_native(emu, {"model": "qvq-max", "input": {"messages": [
        {"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": "why"}]}]},
        "parameters": {"incremental_output": True}}, endpoint="multimodal-generation"))
    thinking = [f for f in frames if f["output"]["choices"][0]["message"]["reasoning_content"]]
    assert thinking and all(f["output"]["choices"][0]["message"]["content"] == [] for f in thinking)


def test_native_in_stream_error_frame(emu):
    response = _native(emu, {"model": "qwen-plus~error-at=1", "input": {"messages": [
        {"role": "user", "content": "hello there dear friend"}]}, "parameters": {"incremental_output": True}})
    last = response.content.decode().strip().split("\n\n")[-1].split("\n")
    assert last[1:3] == ["event:error", ":HTTP_STATUS/500"]
    assert json.loads(last[3][5:])["code"] == "InternalError"


def test_responses_event_sequence(emu):
    response = requests.post(f"{emu.url}/compatible-mode/v1/responses", headers=AUTH, stream=True, json={
        "model": "qwen3.5-plus", "input": "hi", "stream": True})
    events = []
    for block in response.content.decode().strip().split("\n\n"):
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}"
        events.append(payload)
    types = [e["type"] for e in events]
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert "response.reasoning_summary_text.delta" in types  # qwen3.5 thinks by default
    assert types.index("response.reasoning_summary_text.done") < types.index("response.output_text.delta")
    assert types[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    usage = events[-1]["response"]["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0


def test_image_task_needs_the_async_header(emu):
    url = f"{emu.url}/api/v1/services/aigc/text2image/image-synthesis"
    body = {"model": "wanx-v1", "input": {"prompt": "a cat"}}
    assert requests.post(url, json=body, headers=AUTH).status_code == 403
    submitted = requests.post(url, json=body, headers={**AUTH, "X-DashScope-Async": "enable"}).json()
    assert submitted["output"]["task_status"] == "PENDING"
    task_url = f"{emu.url}/api/v1/tasks/{submitted['output']['task_id']}"
    assert requests.get(task_url, headers=AUTH).json()["output"]["task_status"] == "RUNNING"
    task = requests.get(task_url, headers=AUTH).json()
    assert task["output"]["task_status"] == "SUCCEEDED" and task["output"]["results"][0]["url"].endswith(".png")
    late = requests.post(task_url + "/cancel", headers=AUTH)
    assert late.status_code == 400 and late.json()["code"] == "UnsupportedOperation"  # only PENDING tasks cancel
    unknown = requests.get(f"{emu.url}/api/v1/tasks/no-such-task", headers=AUTH)
    assert unknown.status_code == 200 and unknown.json()["output"]["task_status"] == "UNKNOWN"


def test_unknown_fault_is_a_400_naming_it(emu):
    response = requests.post(f"{emu.url}/compatible-mode/v1/chat/completions", headers={
        **AUTH, "X-Qwen-Emulator-Fault": "explode"}, json={"model": "qwen-plus", "messages": []})
    assert response.status_code == 400 and "explode" in response.json()["error"]["message"]
