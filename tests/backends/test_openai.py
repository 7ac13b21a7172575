"""Chat Completions specifics: the wire body, string content for text models, Qwen extras in extra_body."""

from __future__ import annotations

import qwen_jupyter


def test_wire_body_has_string_content_and_qwen_extras(connect, emu):
    qwen_jupyter.chat("hi", think=True, budget=50, search=True, temperature=0.3, seed=7, **connect("openai")).wait()
    body = emu.received[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["enable_thinking"] is True and body["thinking_budget"] == 50
    assert body["enable_search"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.3 and body["seed"] == 7


def test_video_frames_and_audio_become_content_parts(connect, emu, tmp_path):
    from PIL import Image

    frames = []
    for i in range(4):
        path = tmp_path / f"f{i}.png"
        Image.new("RGB", (16, 16), (i * 60, 0, 0)).save(path)
        frames.append(str(path))
    audio = tmp_path / "hello.mp3"
    audio.write_bytes(b"ID3fake-mp3")
    result = qwen_jupyter.chat("what happens", video=frames, fps=2, model="qwen-vl-max", **connect("openai"))
    assert result.error is None and "1 video" in result.text
    part = emu.received[-1]["body"]["messages"][0]["content"][0]
    assert part["type"] == "video" and len(part["video"]) == 4 and part["fps"] == 2
    result = qwen_jupyter.chat("transcribe", audio=str(audio), model="qwen3-omni-flash", **connect("openai"))
    assert result.error is None and "1 audio clip" in result.text
    part = emu.received[-1]["body"]["messages"][0]["content"][0]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "mp3"
    assert part["input_audio"]["data"].startswith("data:;base64,")


def test_service_validation_error_is_reported(connect):
    result = qwen_jupyter.chat("hi", temperature=2.5, **connect("openai"))
    assert result.error.status == 400 and "Temperature" in result.error.message
